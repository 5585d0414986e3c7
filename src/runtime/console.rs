//! The console socket (go-runc's `NewConsoleSocket`/`NewTempConsoleSocket`,
//! runc's recvtty): a unix socket the runtime connects to, sending one
//! message whose payload is the pty's name and whose SCM_RIGHTS control
//! data carries the pty master.
//!
//! The socket (and, for a private one, its 0700 directory) is removed when
//! the [`ConsoleSocket`] is dropped: on success, on error, and — because the
//! waiting loop wakes on SIGINT/SIGTERM through [`crate::tty::signals`] and
//! returns — on those signals too.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};

use super::error::{Error, Result};
use crate::tty::SignalPipe;

/// The longest pty name accepted as the message's payload.
const MAX_NAME: usize = 4096;
/// How long a peer that connected has to send its message.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A fresh private directory (mode 0700) under `$XDG_RUNTIME_DIR`, or the
/// system temp dir (`$TMPDIR`, /tmp) when that is unset or unusable.
pub fn private_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    // Explicit: tempfile's default is 0777 less the umask. Set again after
    // the mkdir, so the mode is exact whatever the umask.
    let private = || std::fs::Permissions::from_mode(0o700);
    let make = |base: &Path| {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .permissions(private())
            .tempdir_in(base)?;
        std::fs::set_permissions(dir.path(), private())?;
        Ok::<_, std::io::Error>(dir)
    };
    if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        if let Ok(dir) = make(Path::new(&xdg)) {
            return Ok(dir);
        }
    }
    let base = std::env::temp_dir();
    make(&base).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot make a private directory in {}: {e}", base.display()),
        )
    })
}

/// A listening console socket.
#[derive(Debug)]
pub struct ConsoleSocket {
    listener: UnixListener,
    path: PathBuf,
    /// The private directory, removed (with the socket) on drop.
    dir: Option<tempfile::TempDir>,
}

/// A received pty master.
#[derive(Debug)]
pub struct Console {
    pub master: OwnedFd,
    /// The pty's name as the runtime sent it (inside the container's
    /// devpts, e.g. `/dev/pts/0`).
    pub name: String,
}

/// Why [`ConsoleSocket::accept`] returned without a console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoConsole {
    /// The `give_up` check said so (e.g. the runtime exited).
    GaveUp,
    /// The deadline passed.
    TimedOut,
}

impl ConsoleSocket {
    /// Listen at `path`, which must not exist yet. The socket file is
    /// removed again on drop.
    pub fn bind(path: &Path) -> Result<ConsoleSocket> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let listener = UnixListener::bind(&path).map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    ": it already exists (another listener, or a stale socket: remove it)"
                }
                _ => "",
            };
            Error::io(
                format!("cannot listen on console socket {}{hint}", path.display()),
                e,
            )
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("setting up the console socket", e))?;
        Ok(ConsoleSocket {
            listener,
            path,
            dir: None,
        })
    }

    /// Listen on a fresh socket in a private 0700 directory (see
    /// [`private_dir`]); both are removed on drop.
    pub fn temp() -> Result<ConsoleSocket> {
        let dir = private_dir("ocictl-console-")
            .map_err(|e| Error::io("creating the console socket", e))?;
        let mut sock = ConsoleSocket::bind(&dir.path().join("console.sock"))?;
        sock.dir = Some(dir);
        Ok(sock)
    }

    /// The socket's path, for `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The private directory of a [`ConsoleSocket::temp`] socket, a safe
    /// place for other short-lived files (a pid file).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// Wait for one connection and receive its pty master. Wakes on the
    /// signal pipe, and then (and at least every 100 ms) asks `give_up`
    /// whether to stop waiting — e.g. because the runtime exited without
    /// connecting, or SIGTERM arrived.
    pub fn accept(
        &self,
        signals: &SignalPipe,
        timeout: Option<Duration>,
        mut give_up: impl FnMut() -> bool,
    ) -> Result<std::result::Result<Console, NoConsole>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => return receive(stream, signals).map(Ok),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("accepting on the console socket", e)),
            }
            if give_up() {
                // One last look: the runtime may have connected and exited.
                return match self.listener.accept() {
                    Ok((stream, _)) => receive(stream, signals).map(Ok),
                    Err(_) => Ok(Err(NoConsole::GaveUp)),
                };
            }
            let mut wait = Duration::from_millis(100);
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Err(NoConsole::TimedOut));
                }
                wait = wait.min(left);
            }
            let mut fds = [
                PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
                PollFd::new(signals.fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, super::process::poll_timeout(wait)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(Error::io("waiting on the console socket", e.into())),
            }
            if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                signals.drain();
            }
        }
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        // `dir` (a TempDir) removes itself and anything left inside.
    }
}

/// Receive exactly one fd, a terminal, with a bounded name as payload.
fn receive(stream: UnixStream, signals: &SignalPipe) -> Result<Console> {
    let deadline = Instant::now() + SEND_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Invalid(format!(
                "the console socket's peer connected but sent nothing within {SEND_TIMEOUT:?}"
            )));
        }
        let mut fds = [
            PollFd::new(stream.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, super::process::poll_timeout(left)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::io("waiting for the pty master", e.into())),
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            signals.drain();
        }
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            break;
        }
    }
    receive_now(stream.as_raw_fd())
}

fn receive_now(fd: RawFd) -> Result<Console> {
    // One byte more than allowed: a stream socket does not flag a
    // message longer than the buffer, a full buffer does.
    let mut name = vec![0u8; MAX_NAME + 1];
    // Room for two fds, so a peer sending more than one is noticed.
    let mut cmsg = nix::cmsg_space!([RawFd; 2]);
    let mut iov = [IoSliceMut::new(&mut name)];
    let msg = loop {
        match recvmsg::<UnixAddr>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => continue,
            r => break r,
        }
    }
    .map_err(|e| Error::io("receiving the pty master", e.into()))?;
    let mut received: Vec<OwnedFd> = Vec::new();
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: the kernel just installed these fds for us.
                received.extend(fds.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
            }
        }
    }
    let flags = msg.flags;
    let len = msg.bytes;
    let fail = |what: String| Err(Error::Invalid(format!("console socket: {what}")));
    if flags.contains(MsgFlags::MSG_CTRUNC) || received.len() > 1 {
        return fail(format!(
            "the peer sent {} file descriptors; exactly one (the pty master) was expected",
            if received.len() > 1 {
                received.len().to_string()
            } else {
                "too many".to_string()
            }
        ));
    }
    if flags.contains(MsgFlags::MSG_TRUNC) || len > MAX_NAME {
        return fail(format!(
            "the peer's message is longer than {MAX_NAME} bytes: not a runtime sending a pty"
        ));
    }
    let Some(master) = received.pop() else {
        return fail(if len == 0 {
            "the peer closed the connection without sending a pty master".into()
        } else {
            format!("the peer sent {len} bytes but no file descriptor: not a runtime sending a pty")
        });
    };
    if !crate::tty::is_tty(master.as_fd()) {
        return fail("the file descriptor received is not a terminal".into());
    }
    let name = &name[..len];
    let name = match std::str::from_utf8(name) {
        Ok(n) if !n.contains('\0') => n.to_string(),
        _ => return fail("the pty name sent is not text".into()),
    };
    Ok(Console { master, name })
}
