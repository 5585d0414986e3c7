//! A terminal shim's loop: one `poll` over the pty master, the signal
//! pipe (SIGCHLD), the attach socket, clients still handshaking, and the
//! one attached client. Everything the pty prints goes to the log (writing
//! stops, the container does not, when the disk is full) and to a 1 MiB
//! in-memory ring that `logs` gets when the log stopped.
//!
//! Nothing here blocks: a client that connects and stays silent is dropped
//! after [`HANDSHAKE_DEADLINE`] without ever stalling the container's output,
//! and the answers to a handshake are a few bytes on a fresh socket.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;

use crate::runtime::Termination;
use crate::shim::attach;
use crate::shim::console_log::LogSink;
use crate::shim::reap::reap_now;
use crate::tty::{self, SignalPipe};

/// How much of a terminal's recent output the shim keeps in memory.
pub const RING_SIZE: usize = 1 << 20;
/// How long a new client has to send its request.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(2);
/// Clients handshaking at once; a newer one evicts the oldest, so silent
/// connections can never lock a real client out.
const MAX_PENDING: usize = 16;

/// The last [`RING_SIZE`] bytes of output; grows only as output comes.
#[derive(Default)]
struct Ring(VecDeque<u8>);

impl Ring {
    fn push(&mut self, data: &[u8]) {
        let data = &data[data.len().saturating_sub(RING_SIZE)..];
        let over = (self.0.len() + data.len()).saturating_sub(RING_SIZE);
        self.0.drain(..over);
        self.0.extend(data);
    }
}

/// The one attached client.
struct Client {
    stream: UnixStream,
    /// Output not yet taken by the client (the pty is not read meanwhile:
    /// a client that does not keep up slows the container, as a terminal
    /// does).
    backlog: Vec<u8>,
    input: Vec<u8>,
}

/// A connection that has not sent its whole request yet.
struct Pending {
    stream: UnixStream,
    request: Vec<u8>,
    deadline: Instant,
}

/// What the terminal loop works with.
pub struct Terminal {
    pub master: OwnedFd,
    pub listener: UnixListener,
    pub signals: &'static SignalPipe,
    pub log: Option<LogSink>,
    pub winsize: Option<(u16, u16)>,
}

impl Terminal {
    /// Run until the init has ended and the pty is drained; returns the
    /// init's end (None when told to stop or when it could not be seen).
    pub fn run(mut self, init: Pid) -> Option<Termination> {
        let master = self.master.as_fd();
        let _ = tty::set_nonblocking(master);
        let _ = self.listener.set_nonblocking(true);
        if let Some((rows, cols)) = self.winsize.filter(|w| w.0 > 0 || w.1 > 0) {
            let _ = tty::set_window_size(master, &winsize(rows, cols));
        }
        let signals = self.signals;
        let mut ring = Ring::default();
        let mut log_failed = false;
        let mut client: Option<Client> = None;
        let mut pending: Vec<Pending> = Vec::new();
        let mut to_pty: Vec<u8> = Vec::new();
        let mut status = reap_now(init);
        let mut master_open = true;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            if status.is_some() && !master_open {
                break;
            }
            let backlog = client.as_ref().is_some_and(|c| !c.backlog.is_empty());
            let mut fds = vec![
                PollFd::new(signals.fd(), PollFlags::POLLIN),
                PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
            ];
            // A closed pty is left out: the kernel reports POLLHUP for it
            // whatever is asked, and polling it would spin.
            let master_at = master_open.then(|| {
                let mut flags = PollFlags::empty();
                if !backlog {
                    flags |= PollFlags::POLLIN;
                }
                if !to_pty.is_empty() {
                    flags |= PollFlags::POLLOUT;
                }
                fds.push(PollFd::new(master, flags));
                fds.len() - 1
            });
            let client_at = client.as_ref().map(|c| {
                let mut f = PollFlags::POLLIN;
                if backlog {
                    f |= PollFlags::POLLOUT;
                }
                fds.push(PollFd::new(c.stream.as_fd(), f));
                fds.len() - 1
            });
            let pending_at = fds.len();
            for p in &pending {
                fds.push(PollFd::new(p.stream.as_fd(), PollFlags::POLLIN));
            }
            let now = Instant::now();
            let mut wait = pending
                .iter()
                .map(|p| p.deadline.saturating_duration_since(now))
                .min();
            if status.is_some() {
                wait = Some(wait.map_or(tty::DRAIN_IDLE, |w| w.min(tty::DRAIN_IDLE)));
            }
            let timeout = wait.map_or(PollTimeout::NONE, crate::runtime::process::poll_timeout);
            let n = match poll(&mut fds, timeout) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(_) => return status,
            };
            let ev = |i: usize| {
                fds.get(i)
                    .and_then(|f| f.revents())
                    .unwrap_or(PollFlags::empty())
            };
            let at = |i: Option<usize>| i.map(ev).unwrap_or(PollFlags::empty());
            let (sig, listen, master_ev, client_ev) = (ev(0), ev(1), at(master_at), at(client_at));
            let pending_ready: Vec<bool> = (0..pending.len())
                .map(|i| !ev(pending_at + i).is_empty())
                .collect();
            drop(fds);
            if n == 0 && status.is_some() && pending.is_empty() {
                break;
            }

            if !sig.is_empty() {
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
            // Handshakes: read what came, serve complete requests, drop
            // the late and the broken.
            let now = Instant::now();
            let waiting = std::mem::take(&mut pending);
            for (mut p, readable) in waiting.into_iter().zip(pending_ready) {
                let mut done = p.deadline <= now;
                if readable {
                    let mut chunk = [0u8; 8];
                    match p.stream.read(&mut chunk) {
                        Ok(0) => done = true,
                        Ok(k) => p.request.extend_from_slice(&chunk[..k]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => done = true,
                    }
                }
                match attach::parse_request(&p.request) {
                    Ok(Some(request)) => {
                        self.serve(p.stream, request, &mut client, &ring, log_failed)
                    }
                    Ok(None) if !done => pending.push(p),
                    // Late, gone, or not a request: dropped.
                    _ => {}
                }
            }
            // New connections after the handshakes above (whose readiness
            // was polled for the list as it was).
            if !listen.is_empty() {
                while let Ok((stream, _)) = self.listener.accept() {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if pending.len() >= MAX_PENDING {
                        pending.remove(0);
                    }
                    pending.push(Pending {
                        stream,
                        request: Vec::new(),
                        deadline: Instant::now() + HANDSHAKE_DEADLINE,
                    });
                }
            }
            if master_ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                match nix::unistd::read(master, &mut buf) {
                    Ok(0) | Err(Errno::EIO) => master_open = false,
                    Ok(n) => {
                        let out = &buf[..n];
                        ring.push(out);
                        if let Some(log) = self.log.as_mut() {
                            if let Err(e) = log.write_all(out) {
                                // A full disk stops the log, not the container.
                                tracing::debug!(error = %e, "the log stopped");
                                self.log = None;
                                log_failed = true;
                            }
                        }
                        if let Some(c) = client.as_mut() {
                            c.backlog.extend_from_slice(out);
                            if flush_client(c).is_err() {
                                client = None;
                            }
                        }
                    }
                    Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                    Err(_) => master_open = false,
                }
            }
            if master_ev.contains(PollFlags::POLLOUT) {
                flush_pty(master, &mut to_pty);
            }
            if !client_ev.is_empty()
                && !client_input(
                    &mut client,
                    client_ev,
                    master,
                    &mut to_pty,
                    master_open,
                    &mut buf,
                )
            {
                client = None;
            }
        }
        status
    }

    /// A complete request from a new connection.
    fn serve(
        &self,
        mut stream: UnixStream,
        request: attach::Request,
        client: &mut Option<Client>,
        ring: &Ring,
        log_failed: bool,
    ) {
        match request {
            attach::Request::Attach { rows, cols } => {
                if client.is_some() {
                    let mut answer = vec![attach::REFUSED];
                    answer.extend_from_slice(
                        b"another client is attached to this container; only one at a time \
                          (detach it with its detach keys, or wait)",
                    );
                    let _ = stream.write_all(&answer);
                    return;
                }
                if stream.write_all(&[attach::OK]).is_err() {
                    return;
                }
                if rows > 0 || cols > 0 {
                    let _ = tty::set_window_size(self.master.as_fd(), &winsize(rows, cols));
                }
                *client = Some(Client {
                    stream,
                    backlog: Vec::new(),
                    input: Vec::new(),
                });
            }
            attach::Request::Logs => {
                if !log_failed {
                    let _ = stream.write_all(&[attach::FILE_COMPLETE]);
                    return;
                }
                // Up to 1 MiB: written by a thread of its own, with a
                // deadline, so the loop never waits on a slow reader.
                let mut answer = vec![attach::RING];
                let (a, b) = ring.0.as_slices();
                answer.extend_from_slice(a);
                answer.extend_from_slice(b);
                std::thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_write_timeout(Some(HANDSHAKE_DEADLINE));
                    let _ = stream.write_all(&answer);
                });
            }
        }
    }
}

/// Input from the attached client; false when it is to be dropped.
fn client_input(
    client: &mut Option<Client>,
    ev: PollFlags,
    master: BorrowedFd<'_>,
    to_pty: &mut Vec<u8>,
    master_open: bool,
    buf: &mut [u8],
) -> bool {
    let Some(c) = client.as_mut() else {
        return true;
    };
    if ev.contains(PollFlags::POLLOUT) && flush_client(c).is_err() {
        return false;
    }
    if !ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
        return true;
    }
    match c.stream.read(buf) {
        Ok(0) => false,
        Ok(n) => {
            c.input.extend_from_slice(&buf[..n]);
            loop {
                match attach::parse(&mut c.input) {
                    Ok(Some(attach::Frame::Data(d))) => to_pty.extend_from_slice(&d),
                    Ok(Some(attach::Frame::Winsize(r, col))) => {
                        let _ = tty::set_window_size(master, &winsize(r, col));
                    }
                    Ok(None) => break,
                    Err(_) => return false,
                }
            }
            if master_open {
                flush_pty(master, to_pty);
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => true,
        Err(_) => false,
    }
}

fn winsize(rows: u16, cols: u16) -> libc::winsize {
    libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

fn flush_client(c: &mut Client) -> std::io::Result<()> {
    while !c.backlog.is_empty() {
        match c.stream.write(&c.backlog) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                c.backlog.drain(..n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn flush_pty(master: BorrowedFd<'_>, pending: &mut Vec<u8>) {
    while !pending.is_empty() {
        match nix::unistd::write(master, pending) {
            Ok(n) => {
                pending.drain(..n);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return,
            Err(_) => {
                pending.clear();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_last_mebibyte() {
        let mut r = Ring::default();
        r.push(&vec![1u8; RING_SIZE - 10]);
        r.push(&[2u8; 20]);
        assert_eq!(r.0.len(), RING_SIZE);
        assert_eq!(r.0.back(), Some(&2));
        r.push(&vec![3u8; RING_SIZE + 5]);
        assert_eq!(r.0.len(), RING_SIZE);
        assert!(r.0.iter().all(|&b| b == 3));
    }
}
