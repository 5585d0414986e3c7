//! `--capture`: a non-terminal container's stdout and stderr are two pipes
//! whose read ends the shim holds (stdin is /dev/null). The runtime passes
//! its stdio to the container, so the runtime's own stderr is the same
//! pipe until it returns (and explains its failure when it fails).
//!
//! The loop: one `poll` over the signal pipe (SIGCHLD), both pipes and
//! the attach socket, reading into the [`Logger`] until the init has ended
//! and both pipes are closed, or quiet for a moment (a process outside the
//! container's PID namespace may hold them open). A container writing
//! faster than the log takes is slowed by its full pipe, as by a slow
//! terminal. The socket serves `logs` the ring once the log file stopped
//! (disk full); each client is served by a thread of its own, a few at a
//! time, so none can stall the loop.

use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;

use crate::runtime::reap::reap_now;
use crate::runtime::Termination;
use crate::shim::attach::{self, HANDSHAKE_DEADLINE};
use crate::shim::console_log::{Logger, Ring};
use crate::shim::log_record::Stream;
use crate::tty::{self, SignalPipe};

/// The shim's ends of the container's stdout and stderr.
pub struct CapturePipes {
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
}

impl CapturePipes {
    /// The pipes, and the write ends for the runtime (stdout, stderr).
    /// Every end is close-on-exec: the runtime gets its two as its stdio.
    pub fn new() -> std::io::Result<(CapturePipes, OwnedFd, OwnedFd)> {
        let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        for fd in [&out_r, &err_r] {
            tty::set_nonblocking(fd.as_fd())?;
        }
        let pipes = CapturePipes {
            stdout: Some(out_r),
            stderr: Some(err_r),
        };
        Ok((pipes, out_w, err_w))
    }

    /// What is in the stderr pipe now (the runtime failed: its message),
    /// in a file for the failure's report; at most 64 KiB are taken.
    pub fn stderr_so_far(&self) -> Option<std::fs::File> {
        let fd = self.stderr.as_ref()?;
        let mut file = tempfile::tempfile().ok()?;
        let mut buf = [0u8; 16 * 1024];
        for _ in 0..4 {
            match nix::unistd::read(fd.as_fd(), &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => file.write_all(&buf[..n]).ok()?,
            }
        }
        file.rewind().ok()?;
        Some(file)
    }
}

/// Clients served at once; more are dropped until one is done.
const MAX_SERVING: usize = 16;

/// What the capture loop works with.
pub struct Capture {
    pub pipes: CapturePipes,
    pub listener: Option<UnixListener>,
    pub signals: &'static SignalPipe,
    pub log: Logger,
}

impl Capture {
    /// Run until the init has ended and its output is read; returns the
    /// init's end (None when told to stop or when it could not be seen).
    pub fn run(mut self, init: Pid) -> Option<Termination> {
        let mut status = reap_now(init);
        let mut buf = vec![0u8; 32 * 1024];
        let serving = Arc::new(AtomicUsize::new(0));
        if let Some(l) = &self.listener {
            let _ = l.set_nonblocking(true);
        }
        loop {
            let open = self.pipes.stdout.is_some() || self.pipes.stderr.is_some();
            if status.is_some() && !open {
                return status;
            }
            let mut fds = vec![PollFd::new(self.signals.fd(), PollFlags::POLLIN)];
            let streams: Vec<Stream> = [Stream::Stdout, Stream::Stderr]
                .into_iter()
                .filter(|s| self.pipe(*s).is_some())
                .collect();
            for s in &streams {
                if let Some(fd) = self.pipe(*s) {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                }
            }
            if let Some(l) = &self.listener {
                fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            }
            let timeout = match status {
                Some(_) => crate::runtime::process::poll_timeout(tty::DRAIN_IDLE),
                None => PollTimeout::NONE,
            };
            let n = match poll(&mut fds, timeout) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(_) => return None,
            };
            if n == 0 && status.is_some() {
                // Quiet since the init ended: what holds the pipes is not it.
                return status;
            }
            let ready: Vec<bool> = fds
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            if ready[0] {
                let signals = self.signals;
                signals.drain();
                if signals.take(libc::SIGCHLD) && status.is_none() {
                    status = reap_now(init);
                }
                if signals
                    .take_any([libc::SIGTERM, libc::SIGINT, libc::SIGQUIT])
                    .is_some()
                {
                    return None;
                }
                signals.clear(&[libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH]);
            }
            for (s, _) in streams.iter().zip(&ready[1..]).filter(|(_, r)| **r) {
                self.read(*s, &mut buf);
            }
            if ready.get(1 + streams.len()) == Some(&true) {
                self.on_connections(&serving);
            }
        }
    }

    fn on_connections(&self, serving: &Arc<AtomicUsize>) {
        let Some(listener) = &self.listener else {
            return;
        };
        while let Ok((stream, _)) = listener.accept() {
            if serving.load(Ordering::SeqCst) >= MAX_SERVING {
                continue;
            }
            serving.fetch_add(1, Ordering::SeqCst);
            let ring = self.log.ring_if_failed().map(Ring::to_vec);
            let serving = Arc::clone(serving);
            std::thread::spawn(move || {
                answer(stream, ring);
                serving.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }

    fn pipe(&self, s: Stream) -> Option<&OwnedFd> {
        match s {
            Stream::Stdout => self.pipes.stdout.as_ref(),
            Stream::Stderr => self.pipes.stderr.as_ref(),
        }
    }

    /// One read from a ready pipe into the log; a closed pipe is dropped.
    fn read(&mut self, s: Stream, buf: &mut [u8]) {
        let Some(fd) = self.pipe(s) else { return };
        match nix::unistd::read(fd.as_fd(), buf) {
            Ok(0) => self.close(s),
            Ok(n) => self.log.log(s, &buf[..n]),
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
            Err(_) => self.close(s),
        }
    }

    fn close(&mut self, s: Stream) {
        match s {
            Stream::Stdout => self.pipes.stdout = None,
            Stream::Stderr => self.pipes.stderr = None,
        }
    }
}

/// One client: its request read with a deadline, then answered (a logs
/// request with `ring`, an attach refused: there is no terminal).
fn answer(mut stream: UnixStream, ring: Option<Vec<u8>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(HANDSHAKE_DEADLINE));
    let mut request = Vec::new();
    let mut chunk = [0u8; 8];
    let request = loop {
        match attach::parse_request(&request) {
            Ok(Some(r)) => break r,
            Err(_) => return,
            Ok(None) => match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&chunk[..n]),
            },
        }
    };
    match request {
        attach::Request::Logs => attach::answer_logs(stream, ring),
        attach::Request::Attach { .. } => {
            let mut refused = vec![attach::REFUSED];
            refused.extend_from_slice(b"this container has no terminal (its output is captured)");
            let _ = stream.set_write_timeout(Some(HANDSHAKE_DEADLINE));
            let _ = stream.write_all(&refused);
        }
    }
}
