//! The attach socket of a monitor: its small wire protocol and the client
//! side (`ocictl attach`, `ocictl logs`). The server side lives in the
//! monitor's loops ([`crate::shim::pty`], [`crate::shim::capture`], which
//! has no terminal: it answers only `L`).
//!
//! A client connects and sends one request byte:
//! - `A` rows(u16 BE) cols(u16 BE): attach. The monitor answers `O` and then
//!   streams the pty's output raw; the client sends frames: `d` len(u16 BE)
//!   bytes (typed input) or `w` rows cols (window size). Only one attacher
//!   at a time: a second one gets `E` and a message, and is closed.
//! - `L`: logs. The monitor answers `F` when its log file is complete, or
//!   `R` followed by the last output it kept in memory (up to 1 MiB) when it
//!   had to stop writing the file (disk full), then closes.
//!
//! Detach keys are handled by the client: the monitor never sees them.
//!
//! Before it sends a byte, the client checks whom it talks to: the socket
//! file belongs to ocictl's own uid, and the peer (SO_PEERCRED) runs as that
//! uid with the pid the shim recorded. A socket someone else planted never
//! gets a keystroke.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::tty::{self, RawMode, SignalPipe};

pub const ATTACH: u8 = b'A';
pub const LOGS: u8 = b'L';
pub const OK: u8 = b'O';
pub const REFUSED: u8 = b'E';
pub const FILE_COMPLETE: u8 = b'F';
pub const RING: u8 = b'R';
pub const DATA: u8 = b'd';
pub const WINSIZE: u8 = b'w';

/// How long a new client has to send its request, and a reader to take
/// the answer to a logs request.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(2);

/// The monitor's answer to a logs request: `F` while its log file is
/// whole, else `R` and `ring` (what it kept in memory), written by a thread
/// of its own with a deadline, so the monitor's loop never waits on a slow
/// reader.
pub fn answer_logs(mut stream: UnixStream, ring: Option<Vec<u8>>) {
    let Some(ring) = ring else {
        let _ = stream.write_all(&[FILE_COMPLETE]);
        return;
    };
    let mut answer = Vec::with_capacity(ring.len() + 1);
    answer.push(RING);
    answer.extend_from_slice(&ring);
    std::thread::spawn(move || {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_write_timeout(Some(HANDSHAKE_DEADLINE));
        let _ = stream.write_all(&answer);
    });
}

/// A new connection's request, as the shim parses it.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Attach { rows: u16, cols: u16 },
    Logs,
}

/// The request at the start of a new connection: `Ok(None)` while it is
/// incomplete, `Err` for one that is not a request.
pub fn parse_request(buf: &[u8]) -> Result<Option<Request>, u8> {
    match buf.first() {
        None => Ok(None),
        Some(&ATTACH) if buf.len() < 5 => Ok(None),
        Some(&ATTACH) => Ok(Some(Request::Attach {
            rows: u16::from_be_bytes([buf[1], buf[2]]),
            cols: u16::from_be_bytes([buf[3], buf[4]]),
        })),
        Some(&LOGS) => Ok(Some(Request::Logs)),
        Some(&other) => Err(other),
    }
}

/// Whom the client expects at the other end.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The shim's pid, from its meta record.
    pub pid: i32,
    /// The uid that owns the socket file.
    pub socket_owner: u32,
}

/// A client's frame, as the monitor parses it.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Data(Vec<u8>),
    Winsize(u16, u16),
}

pub fn encode_data(out: &mut Vec<u8>, data: &[u8]) {
    for chunk in data.chunks(u16::MAX as usize) {
        out.push(DATA);
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
}

pub fn encode_winsize(out: &mut Vec<u8>, rows: u16, cols: u16) {
    out.push(WINSIZE);
    out.extend_from_slice(&rows.to_be_bytes());
    out.extend_from_slice(&cols.to_be_bytes());
}

/// Take one complete frame off the front of `buf`. `Err` for a byte that
/// starts no frame (the monitor then drops the client).
pub fn parse(buf: &mut Vec<u8>) -> Result<Option<Frame>, u8> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    if buf.len() < 5 && kind == WINSIZE || buf.len() < 3 {
        return match kind {
            DATA | WINSIZE => Ok(None),
            other => Err(other),
        };
    }
    let a = u16::from_be_bytes([buf[1], buf[2]]);
    match kind {
        DATA => {
            let end = 3 + a as usize;
            if buf.len() < end {
                return Ok(None);
            }
            let data = buf[3..end].to_vec();
            buf.drain(..end);
            Ok(Some(Frame::Data(data)))
        }
        WINSIZE => {
            let b = u16::from_be_bytes([buf[3], buf[4]]);
            buf.drain(..5);
            Ok(Some(Frame::Winsize(a, b)))
        }
        other => Err(other),
    }
}

/// A detach key sequence, written as Docker writes it: comma-separated
/// keys, each a single character or `ctrl-X` (X one of `a`-`z`, `@`, `[`,
/// `\`, `]`, `^`, `_`). Default: `ctrl-p,ctrl-q`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(pub Vec<u8>);

impl Default for DetachKeys {
    fn default() -> Self {
        DetachKeys(vec![0x10, 0x11])
    }
}

impl FromStr for DetachKeys {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for key in s.split(',') {
            let lower = key.to_ascii_lowercase();
            let byte = if let Some(c) = lower.strip_prefix("ctrl-") {
                match c.as_bytes() {
                    [b @ b'a'..=b'z'] => b - b'a' + 1,
                    [b @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_')] => b ^ 0x40,
                    _ => return Err(format!("{key:?} is not a control key (ctrl-a … ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_)")),
                }
            } else if key.len() == 1 && key.is_ascii() {
                key.as_bytes()[0]
            } else {
                return Err(format!(
                    "{key:?} is not a key: use one character or ctrl-X, comma-separated (e.g. ctrl-p,ctrl-q)"
                ));
            };
            keys.push(byte);
        }
        if keys.is_empty() {
            return Err("no detach keys given".into());
        }
        Ok(DetachKeys(keys))
    }
}

/// Finds the detach sequence in typed input, holding back a partial match
/// until it is complete (detach) or broken (the keys are passed on).
#[derive(Debug)]
pub struct DetachScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachScanner {
    pub fn new(keys: &DetachKeys) -> DetachScanner {
        DetachScanner {
            keys: keys.0.clone(),
            matched: 0,
        }
    }

    /// Append what should reach the container to `out`; true when the
    /// sequence is complete (what follows it is dropped). A broken match
    /// keeps its longest tail that starts the sequence again, so
    /// `ctrl-p,ctrl-p,ctrl-q` matches in `^P ^P ^P ^Q` (the first ^P is
    /// passed on).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return true;
                }
                continue;
            }
            // The held keys plus `b`: pass on what can no longer start a
            // match, keep the longest tail that is a prefix of the keys.
            let mut held = self.keys[..self.matched].to_vec();
            held.push(b);
            let keep = (1..=held.len().min(self.keys.len()))
                .rev()
                .find(|&n| held[held.len() - n..] == self.keys[..n])
                .unwrap_or(0);
            out.extend_from_slice(&held[..held.len() - keep]);
            self.matched = keep;
            if keep == self.keys.len() {
                self.matched = 0;
                return true;
            }
        }
        false
    }
}

/// Refuse a peer that is not the shim ocictl started.
fn check_peer(stream: &UnixStream, peer: &Peer) -> io::Result<()> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let me = nix::unistd::geteuid().as_raw();
    if peer.socket_owner != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the attach socket belongs to uid {}, not to uid {me} that ocictl runs as: \
                 refusing to talk to it",
                peer.socket_owner
            ),
        ));
    }
    let cred = getsockopt(stream, PeerCredentials).map_err(io::Error::from)?;
    if cred.uid() != me || cred.pid() != peer.pid {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the process on the attach socket (pid {}, uid {}) is not the container's \
                 shim (pid {}, uid {me}): refusing to talk to it",
                cred.pid(),
                cred.uid(),
                peer.pid
            ),
        ));
    }
    Ok(())
}

/// Connect to a shim's socket, check it is the shim (see the module docs),
/// and send `request` (plus `extra`); the first answer byte comes back
/// with the stream.
pub fn connect(
    path: &Path,
    peer: &Peer,
    request: u8,
    extra: &[u8],
) -> io::Result<(u8, UnixStream)> {
    let mut stream = UnixStream::connect(path)?;
    check_peer(&stream, peer)?;
    // A shim answers at once; a wedged one must not hang the client.
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut msg = vec![request];
    msg.extend_from_slice(extra);
    stream.write_all(&msg)?;
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer)?;
    stream.set_read_timeout(None)?;
    Ok((answer[0], stream))
}

/// Ask a terminal monitor whether its log file is complete: `None` when it
/// is, the last output it kept when it is not.
pub fn logs_request(path: &Path, peer: &Peer) -> io::Result<Option<Vec<u8>>> {
    let (answer, mut stream) = connect(path, peer, LOGS, &[])?;
    match answer {
        FILE_COMPLETE => Ok(None),
        RING => {
            let mut ring = Vec::new();
            stream.read_to_end(&mut ring)?;
            Ok(Some(ring))
        }
        other => Err(io::Error::other(format!(
            "the monitor answered {other:#x} to a logs request"
        ))),
    }
}

/// How an attach session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachEnd {
    /// The detach keys were typed, the input ended, or ocictl was told to
    /// stop: the container keeps running.
    Detached,
    /// The monitor closed the stream: the container ended.
    Ended,
}

/// Attach the caller's terminal to the container's pty through the monitor
/// at `path`: raw mode (restored on every path), window size now and on
/// SIGWINCH, detach on `keys`. `Err(message)` inside `Ok` when the monitor
/// refused (another client is attached).
pub fn attach(
    path: &Path,
    peer: &Peer,
    keys: &DetachKeys,
    signals: &SignalPipe,
) -> io::Result<Result<AttachEnd, String>> {
    let size = tty::controlling_stdio().and_then(tty::window_size);
    let mut hello = Vec::new();
    let (rows, cols) = size.map(|w| (w.ws_row, w.ws_col)).unwrap_or((0, 0));
    hello.extend_from_slice(&rows.to_be_bytes());
    hello.extend_from_slice(&cols.to_be_bytes());
    let (answer, mut stream) = connect(path, peer, ATTACH, &hello)?;
    if answer != OK {
        let mut message = String::new();
        let _ = stream.read_to_string(&mut message);
        return Ok(Err(message));
    }
    // SAFETY: the standard fds stay open for the life of the process.
    let stdin = unsafe { BorrowedFd::borrow_raw(0) };
    let stdout = unsafe { BorrowedFd::borrow_raw(1) };
    let _raw = RawMode::enter(stdin)?;
    if let Some(ws) = size {
        nudge_redraw(&mut stream, ws.ws_row, ws.ws_col)?;
    }
    relay(&mut stream, stdin, stdout, keys, signals).map(Ok)
}

/// A full-screen program (vi, top) drew its screen for an earlier client:
/// make it draw again for this one, as Docker does, by changing the pty's
/// size (one row more) and back. The program gets SIGWINCH and redraws at
/// the final size, which is this terminal's.
fn nudge_redraw(stream: &mut UnixStream, rows: u16, cols: u16) -> io::Result<()> {
    let other = if rows == u16::MAX { rows - 1 } else { rows + 1 };
    let mut frames = Vec::new();
    encode_winsize(&mut frames, other, cols);
    encode_winsize(&mut frames, rows, cols);
    stream.write_all(&frames)
}

fn relay(
    stream: &mut UnixStream,
    stdin: BorrowedFd<'_>,
    stdout: BorrowedFd<'_>,
    keys: &DetachKeys,
    signals: &SignalPipe,
) -> io::Result<AttachEnd> {
    let mut scanner = DetachScanner::new(keys);
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = std::fs::File::from(stdout.try_clone_to_owned()?);
    loop {
        let mut fds = vec![
            PollFd::new(signals.fd(), PollFlags::POLLIN),
            PollFd::new(stream.as_fd(), PollFlags::POLLIN),
        ];
        fds.push(PollFd::new(stdin, PollFlags::POLLIN));
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ev = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .unwrap_or(PollFlags::empty())
        };
        let (sig, sock, input) = (!ev(0).is_empty(), !ev(1).is_empty(), !ev(2).is_empty());
        drop(fds);
        if sock {
            match stream.read(&mut buf) {
                Ok(0) => return Ok(AttachEnd::Ended),
                Ok(n) => {
                    // A closed stdout ends the session, not the container.
                    if out.write_all(&buf[..n]).is_err() {
                        return Ok(AttachEnd::Detached);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Ok(AttachEnd::Ended)
                }
                Err(e) => return Err(e),
            }
        }
        if input {
            match nix::unistd::read(stdin, &mut buf) {
                // The input's end ends the session, as with Docker (which
                // closes the output when a tty container's stdin closes):
                // `ocictl attach ID </dev/null` returns; the container runs on.
                Ok(0) | Err(nix::errno::Errno::EIO) => return Ok(AttachEnd::Detached),
                Ok(n) => {
                    let mut typed = Vec::new();
                    let detach = scanner.feed(&buf[..n], &mut typed);
                    let mut frame = Vec::new();
                    encode_data(&mut frame, &typed);
                    stream.write_all(&frame)?;
                    if detach {
                        return Ok(AttachEnd::Detached);
                    }
                }
                Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if sig {
            signals.drain();
            if signals.take(libc::SIGWINCH) {
                if let Some(ws) = tty::controlling_stdio().and_then(tty::window_size) {
                    let mut frame = Vec::new();
                    encode_winsize(&mut frame, ws.ws_row, ws.ws_col);
                    stream.write_all(&frame)?;
                }
            }
            if signals
                .take_any(tty::STOP_SIGNALS.iter().copied())
                .is_some()
            {
                return Ok(AttachEnd::Detached);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(
            "ctrl-p,ctrl-q".parse::<DetachKeys>().unwrap(),
            DetachKeys::default()
        );
        assert_eq!("ctrl-a,x".parse::<DetachKeys>().unwrap().0, vec![1, b'x']);
        assert_eq!("ctrl-\\".parse::<DetachKeys>().unwrap().0, vec![0x1c]);
        assert!("ctrl-1".parse::<DetachKeys>().is_err());
        assert!("ab".parse::<DetachKeys>().is_err());
    }

    #[test]
    fn scanner_holds_partial_matches_and_passes_broken_ones() {
        let mut s = DetachScanner::new(&DetachKeys::default());
        let mut out = Vec::new();
        assert!(!s.feed(b"ab\x10", &mut out));
        assert_eq!(out, b"ab");
        assert!(!s.feed(b"c", &mut out));
        assert_eq!(out, b"ab\x10c");
        out.clear();
        assert!(!s.feed(b"\x10\x10", &mut out));
        assert_eq!(out, b"\x10");
        assert!(s.feed(b"\x11rest", &mut out));
        assert_eq!(out, b"\x10");
    }

    #[test]
    fn scanner_matches_keys_with_a_repeated_prefix() {
        let keys: DetachKeys = "ctrl-p,ctrl-p,ctrl-q".parse().unwrap();
        let mut s = DetachScanner::new(&keys);
        let mut out = Vec::new();
        assert!(s.feed(b"\x10\x10\x10\x11", &mut out));
        assert_eq!(out, b"\x10");
        let keys: DetachKeys = "a,b,a,c".parse().unwrap();
        let mut s = DetachScanner::new(&keys);
        out.clear();
        assert!(!s.feed(b"xabab", &mut out));
        assert_eq!(out, b"xab");
        assert!(s.feed(b"ac", &mut out));
        assert_eq!(out, b"xab");
        // Broken for good: everything held is passed on, in order.
        let mut s = DetachScanner::new(&DetachKeys::default());
        out.clear();
        assert!(!s.feed(b"\x10\x10x", &mut out));
        assert_eq!(out, b"\x10\x10x");
    }

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        encode_data(&mut buf, b"hi");
        encode_winsize(&mut buf, 24, 80);
        let mut partial = buf[..4].to_vec();
        assert_eq!(parse(&mut partial), Ok(None));
        assert_eq!(parse(&mut buf), Ok(Some(Frame::Data(b"hi".to_vec()))));
        assert_eq!(parse(&mut buf), Ok(Some(Frame::Winsize(24, 80))));
        assert_eq!(parse(&mut buf), Ok(None));
        assert_eq!(parse(&mut vec![b'z', 0, 0]), Err(b'z'));
    }

    #[test]
    fn requests_parse_once_complete() {
        assert_eq!(parse_request(b""), Ok(None));
        assert_eq!(parse_request(b"A\0\x18"), Ok(None));
        assert_eq!(
            parse_request(b"A\0\x18\0\x50"),
            Ok(Some(Request::Attach { rows: 24, cols: 80 }))
        );
        assert_eq!(parse_request(b"L"), Ok(Some(Request::Logs)));
        assert_eq!(parse_request(b"?"), Err(b'?'));
    }
}
