//! A terminal shim's loop: one `poll` over the pty master, the signal
//! pipe (SIGCHLD), the attach socket, clients still handshaking, and the
//! one attached client. Everything the pty prints goes to the log through
//! a [`Logger`] (writing stops, the container does not, when the disk is
//! full), whose 1 MiB in-memory ring `logs` gets when the log stopped.
//!
//! Nothing here blocks: a client that connects and stays silent is dropped
//! after [`HANDSHAKE_DEADLINE`] without ever stalling the container's output,
//! and the answers to a handshake are a few bytes on a fresh socket.

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;

use crate::runtime::reap::reap_now;
use crate::runtime::Termination;
use crate::shim::attach::{self, HANDSHAKE_DEADLINE};
use crate::shim::console_log::{Logger, Ring};
use crate::shim::log_record::Stream;
use crate::tty::{self, SignalPipe};

/// Clients handshaking at once; a newer one evicts the oldest, so silent
/// connections can never lock a real client out.
const MAX_PENDING: usize = 16;

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
    pub log: Logger,
    pub winsize: Option<(u16, u16)>,
}

impl Terminal {
    /// Run until the init has ended and the pty is drained; returns the
    /// init's end (None when told to stop or when it could not be seen).
    pub fn run(self, init: Pid) -> Option<Termination> {
        let _ = tty::set_nonblocking(self.master.as_fd());
        let _ = self.listener.set_nonblocking(true);
        if let Some((rows, cols)) = self.winsize.filter(|w| w.0 > 0 || w.1 > 0) {
            let _ = tty::set_window_size(self.master.as_fd(), &winsize(rows, cols));
        }
        let mut l = Loop {
            status: reap_now(init),
            t: self,
            init,
            client: None,
            pending: Vec::new(),
            to_pty: Vec::new(),
            master_open: true,
            buf: vec![0u8; 32 * 1024],
        };
        // Until the init has ended and its pty is closed.
        while l.status.is_none() || l.master_open {
            match l.turn() {
                Turn::Again => {}
                Turn::Drained => break,
                Turn::Stop => return None,
            }
        }
        l.status
    }
}

/// The loop's state between turns.
struct Loop {
    t: Terminal,
    init: Pid,
    status: Option<Termination>,
    client: Option<Client>,
    pending: Vec<Pending>,
    to_pty: Vec<u8>,
    master_open: bool,
    buf: Vec<u8>,
}

/// What one turn of the loop says.
enum Turn {
    Again,
    /// The init ended and the pty has been quiet for a while.
    Drained,
    /// SIGTERM/SIGINT/SIGQUIT, or poll itself failed.
    Stop,
}

/// What poll reported, by source.
struct Ready {
    n: usize,
    sig: PollFlags,
    listen: PollFlags,
    master: PollFlags,
    client: PollFlags,
    pending: Vec<bool>,
}

impl Loop {
    fn turn(&mut self) -> Turn {
        let Some(ready) = self.poll() else {
            return Turn::Stop;
        };
        if ready.n == 0 && self.status.is_some() && self.pending.is_empty() {
            return Turn::Drained;
        }
        if !ready.sig.is_empty() && self.on_signals() {
            return Turn::Stop;
        }
        self.on_handshakes(ready.pending);
        if !ready.listen.is_empty() {
            self.on_connections();
        }
        if ready
            .master
            .intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
        {
            self.on_output();
        }
        let master = self.t.master.as_fd();
        if ready.master.contains(PollFlags::POLLOUT) {
            flush_pty(master, &mut self.to_pty);
        }
        if !ready.client.is_empty()
            && !client_input(
                &mut self.client,
                ready.client,
                master,
                &mut self.to_pty,
                self.master_open,
                &mut self.buf,
            )
        {
            self.client = None;
        }
        Turn::Again
    }

    /// One poll over every source; None when poll failed.
    fn poll(&self) -> Option<Ready> {
        let master = self.t.master.as_fd();
        let backlog = self.client.as_ref().is_some_and(|c| !c.backlog.is_empty());
        let mut fds = vec![
            PollFd::new(self.t.signals.fd(), PollFlags::POLLIN),
            PollFd::new(self.t.listener.as_fd(), PollFlags::POLLIN),
        ];
        // A closed pty is left out: the kernel reports POLLHUP for it
        // whatever is asked, and polling it would spin.
        let master_at = self.master_open.then(|| {
            let mut flags = PollFlags::empty();
            if !backlog {
                flags |= PollFlags::POLLIN;
            }
            if !self.to_pty.is_empty() {
                flags |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(master, flags));
            fds.len() - 1
        });
        let client_at = self.client.as_ref().map(|c| {
            let mut f = PollFlags::POLLIN;
            if backlog {
                f |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(c.stream.as_fd(), f));
            fds.len() - 1
        });
        let pending_at = fds.len();
        for p in &self.pending {
            fds.push(PollFd::new(p.stream.as_fd(), PollFlags::POLLIN));
        }
        let now = Instant::now();
        let mut wait = self
            .pending
            .iter()
            .map(|p| p.deadline.saturating_duration_since(now))
            .min();
        if self.status.is_some() {
            wait = Some(wait.map_or(tty::DRAIN_IDLE, |w| w.min(tty::DRAIN_IDLE)));
        }
        let timeout = wait.map_or(PollTimeout::NONE, crate::runtime::process::poll_timeout);
        let n = loop {
            match poll(&mut fds, timeout) {
                Ok(n) => break n as usize,
                Err(Errno::EINTR) => {}
                Err(_) => return None,
            }
        };
        let ev = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .unwrap_or(PollFlags::empty())
        };
        let at = |i: Option<usize>| i.map(ev).unwrap_or(PollFlags::empty());
        Some(Ready {
            n,
            sig: ev(0),
            listen: ev(1),
            master: at(master_at),
            client: at(client_at),
            pending: (0..self.pending.len())
                .map(|i| !ev(pending_at + i).is_empty())
                .collect(),
        })
    }

    /// True when told to stop.
    fn on_signals(&mut self) -> bool {
        let signals = self.t.signals;
        signals.drain();
        if signals.take(libc::SIGCHLD) && self.status.is_none() {
            self.status = reap_now(self.init);
        }
        if signals
            .take_any([libc::SIGTERM, libc::SIGINT, libc::SIGQUIT])
            .is_some()
        {
            return true;
        }
        signals.clear(&[libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH]);
        false
    }

    /// Handshakes: read what came, serve complete requests, drop the late
    /// and the broken. `ready` is per pending connection, as polled.
    fn on_handshakes(&mut self, ready: Vec<bool>) {
        let now = Instant::now();
        let waiting = std::mem::take(&mut self.pending);
        for (mut p, readable) in waiting.into_iter().zip(ready) {
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
                Ok(Some(request)) => self.t.serve(
                    p.stream,
                    request,
                    &mut self.client,
                    self.t.log.ring_if_failed(),
                ),
                Ok(None) if !done => self.pending.push(p),
                // Late, gone, or not a request: dropped.
                _ => {}
            }
        }
    }

    /// New connections (after the handshakes, whose readiness was polled
    /// for the list as it was).
    fn on_connections(&mut self) {
        while let Ok((stream, _)) = self.t.listener.accept() {
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            if self.pending.len() >= MAX_PENDING {
                self.pending.remove(0);
            }
            self.pending.push(Pending {
                stream,
                request: Vec::new(),
                deadline: Instant::now() + HANDSHAKE_DEADLINE,
            });
        }
    }

    /// The pty printed: ring, log, client.
    fn on_output(&mut self) {
        match nix::unistd::read(self.t.master.as_fd(), &mut self.buf) {
            Ok(0) | Err(Errno::EIO) => self.master_open = false,
            Ok(n) => {
                let out = &self.buf[..n];
                self.t.log.log(Stream::Stdout, out);
                if let Some(c) = self.client.as_mut() {
                    c.backlog.extend_from_slice(out);
                    if flush_client(c).is_err() {
                        self.client = None;
                    }
                }
            }
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
            Err(_) => self.master_open = false,
        }
    }
}

impl Terminal {
    /// A complete request from a new connection.
    fn serve(
        &self,
        mut stream: UnixStream,
        request: attach::Request,
        client: &mut Option<Client>,
        failed: Option<&Ring>,
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
            attach::Request::Logs => attach::answer_logs(stream, failed.map(Ring::to_vec)),
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
