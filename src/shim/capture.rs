//! `--capture`: a non-terminal container's stdout and stderr are two pipes
//! whose read ends the shim holds (stdin is /dev/null). The runtime passes
//! its stdio to the container, so the runtime's own stderr is the same
//! pipe until it returns (and explains its failure when it fails).
//!
//! The loop: one `poll` over the signal pipe (SIGCHLD) and both pipes,
//! reading into the [`Logger`] until the init has ended and both pipes
//! are closed, or quiet for a moment (a process outside the container's
//! PID namespace may hold them open). A container writing faster than the
//! log takes is slowed by its full pipe, as by a slow terminal.

use std::io::{Seek, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;

use crate::runtime::reap::reap_now;
use crate::runtime::Termination;
use crate::shim::console_log::Logger;
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

/// What the capture loop works with.
pub struct Capture {
    pub pipes: CapturePipes,
    pub signals: &'static SignalPipe,
    pub log: Logger,
}

impl Capture {
    /// Run until the init has ended and its output is read; returns the
    /// init's end (None when told to stop or when it could not be seen).
    pub fn run(mut self, init: Pid) -> Option<Termination> {
        let mut status = reap_now(init);
        let mut buf = vec![0u8; 32 * 1024];
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
