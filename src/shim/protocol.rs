//! What travels between a caller and its shim over their socket pair: one
//! [`Job`] (with the state directory's fds attached, SCM_RIGHTS), then one
//! [`Report`] back. Both are length-prefixed JSON frames (u32 big-endian
//! length, then the JSON), so the caller's socket stays open after the job:
//! a byte from the caller (or its end closing) while the runtime runs means
//! "abort" (Ctrl-C on `create`/`run -d`), and the shim answers
//! [`Report::Aborted`] once nothing is left behind.

use std::ffi::OsString;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};

use crate::runtime::{Argv, Error, Runtime, Termination};

/// The largest frame either side accepts.
const FRAME_CAP: usize = 1 << 20;
/// The byte a caller sends to abort a start.
pub const ABORT: u8 = b'X';

/// The job a caller hands its shim.
#[derive(Debug, Serialize, Deserialize)]
pub struct Job {
    /// The runtime and its global options, as the caller configured them.
    pub runtime: Runtime,
    pub id: String,
    /// The subcommand and its arguments (ID last), `--pid-file` included.
    pub args: Vec<OsString>,
    /// The index in `args` of the `--console-socket` value the shim fills
    /// in with its own socket (only the shim knows its path).
    pub console_socket_at: Option<usize>,
    /// Where the runtime writes the init's pid.
    pub pid_file: PathBuf,
    pub output: Output,
    /// The pty's initial size (rows, columns).
    pub winsize: Option<(u16, u16)>,
    /// The caller's fds 3 … 3+N-1 go on to the container.
    pub preserve_fds: u32,
    /// Log the shim's own tracing to `shim.log` in its state directory.
    pub debug_log: bool,
}

/// Where the container's output goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Output {
    /// The caller's stdio, as runc would give it.
    Inherit,
    /// Non-terminal: stdout and stderr appended to this file.
    File(PathBuf),
    /// The shim holds the pty; its output is logged to the state
    /// directory's rotated `console.log` (each file at most `max_size`).
    Pty { max_size: u64 },
    /// The shim holds the pty and logs its output to this file.
    PtyToFile(PathBuf),
    /// Non-terminal, `--capture`: stdout and stderr are pipes the shim
    /// reads into the state directory's rotated `console.log`.
    Capture { max_size: u64 },
}

impl Output {
    pub fn pty(&self) -> bool {
        matches!(self, Output::Pty { .. } | Output::PtyToFile(_))
    }
}

/// The shim's one report to its caller.
#[derive(Debug, Serialize, Deserialize)]
pub enum Report {
    Up {
        monitor_pid: i32,
        init_pid: i32,
    },
    /// The container runs, but is not watched (its pid file is unusable).
    Unmonitored {
        warning: String,
    },
    Failed(WireError),
    /// The caller asked to stop before the container was up: the runtime
    /// was stopped and whatever it had created deleted.
    Aborted,
}

/// A driver error as it travels: its kind, the exit code it means, and
/// every field needed to rebuild it exactly.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireError {
    pub kind: WireKind,
    /// What a runtime's failure means (for [`WireKind::RuntimeFailed`]).
    pub failure: Option<crate::runtime::ErrorKind>,
    pub exit_code: i32,
    pub argv: Vec<OsString>,
    pub status: Option<WireStatus>,
    pub message: String,
    pub stderr: String,
    pub binary: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum WireKind {
    RuntimeFailed,
    RuntimeNotFound,
    RuntimeNotExecutable,
    Spawn,
    Io,
    Invalid,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum WireStatus {
    Exited(i32),
    Signaled(i32),
}

impl From<Termination> for WireStatus {
    fn from(t: Termination) -> Self {
        match t {
            Termination::Exited(c) => WireStatus::Exited(c),
            Termination::Signaled(s) => WireStatus::Signaled(s),
        }
    }
}

impl From<WireStatus> for Termination {
    fn from(t: WireStatus) -> Self {
        match t {
            WireStatus::Exited(c) => Termination::Exited(c),
            WireStatus::Signaled(s) => Termination::Signaled(s),
        }
    }
}

impl WireError {
    pub fn of(e: &Error) -> WireError {
        let mut w = WireError {
            kind: WireKind::Invalid,
            failure: None,
            exit_code: match e {
                Error::Failed { status, .. } => status.shell_code(),
                _ => 1,
            },
            argv: Vec::new(),
            status: None,
            message: e.to_string(),
            stderr: String::new(),
            binary: None,
        };
        match e {
            Error::Failed {
                argv,
                status,
                kind,
                message,
                stderr,
            } => {
                w.kind = WireKind::RuntimeFailed;
                w.failure = Some(*kind);
                w.argv = argv.0.clone();
                w.status = Some((*status).into());
                w.message = message.clone();
                w.stderr = stderr.clone();
            }
            Error::RuntimeNotFound { binary } => {
                w.kind = WireKind::RuntimeNotFound;
                w.binary = Some(binary.clone());
            }
            Error::RuntimeNotExecutable { binary, source } => {
                w.kind = WireKind::RuntimeNotExecutable;
                w.binary = Some(binary.clone());
                w.message = source.to_string();
            }
            Error::Spawn { argv, source } => {
                w.kind = WireKind::Spawn;
                w.argv = argv.0.clone();
                w.message = source.to_string();
            }
            Error::Io { context, source } => {
                w.kind = WireKind::Io;
                w.message = format!("{context}: {source}");
            }
            _ => {}
        }
        w
    }

    pub fn into_error(self) -> Error {
        let binary = self.binary.unwrap_or_default();
        match self.kind {
            WireKind::RuntimeFailed => Error::Failed {
                argv: Argv(self.argv),
                status: self
                    .status
                    .map(Into::into)
                    .unwrap_or(Termination::Exited(self.exit_code)),
                kind: self.failure.unwrap_or(crate::runtime::ErrorKind::Other),
                message: self.message,
                stderr: self.stderr,
            },
            WireKind::RuntimeNotFound => Error::RuntimeNotFound { binary },
            WireKind::RuntimeNotExecutable => Error::RuntimeNotExecutable {
                binary,
                source: io::Error::new(io::ErrorKind::PermissionDenied, self.message),
            },
            WireKind::Spawn => Error::Spawn {
                argv: Argv(self.argv),
                source: io::Error::other(self.message),
            },
            WireKind::Io => Error::Io {
                context: "the shim".into(),
                source: io::Error::other(self.message),
            },
            WireKind::Invalid => Error::Invalid(self.message),
        }
    }
}

fn frame(value: &impl Serialize) -> io::Result<Vec<u8>> {
    let json = serde_json::to_vec(value).map_err(io::Error::other)?;
    let mut out = (json.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&json);
    Ok(out)
}

/// Send `value` as one frame, with `fds` attached (SCM_RIGHTS).
pub fn send(stream: &UnixStream, value: &impl Serialize, fds: &[RawFd]) -> io::Result<()> {
    let data = frame(value)?;
    let mut sent = 0;
    while sent < data.len() {
        let iov = [IoSlice::new(&data[sent..])];
        let cmsg = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage] = if sent == 0 && !fds.is_empty() {
            &cmsg
        } else {
            &[]
        };
        match sendmsg::<()>(stream.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None) {
            Ok(n) => sent += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Receive one frame and the fds that came with it (at most `max_fds`).
pub fn receive<T: serde::de::DeserializeOwned>(
    stream: &mut UnixStream,
    max_fds: usize,
) -> io::Result<(T, Vec<OwnedFd>)> {
    let mut head = [0u8; 4];
    let mut fds = Vec::new();
    let mut got = 0;
    // The fds ride on the first bytes: read the length with recvmsg.
    while got < head.len() {
        let mut cmsg = nix::cmsg_space!([RawFd; 4]);
        let mut iov = [IoSliceMut::new(&mut head[got..])];
        let msg = match recvmsg::<()>(
            stream.as_fd().as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        for c in msg.cmsgs().map_err(io::Error::other)? {
            if let ControlMessageOwned::ScmRights(received) = c {
                // SAFETY: the kernel just installed these fds for us.
                fds.extend(
                    received
                        .into_iter()
                        .map(|f| unsafe { OwnedFd::from_raw_fd(f) }),
                );
            }
        }
        if msg.bytes == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += msg.bytes;
    }
    if fds.len() > max_fds {
        return Err(io::Error::other(format!(
            "{} file descriptors came with the frame, at most {max_fds} expected",
            fds.len()
        )));
    }
    let len = u32::from_be_bytes(head) as usize;
    if len > FRAME_CAP {
        return Err(io::Error::other(format!(
            "a frame of {len} bytes (at most {FRAME_CAP})"
        )));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    let value = serde_json::from_slice(&body).map_err(io::Error::other)?;
    Ok((value, fds))
}

/// Write one frame (the report; no fds).
pub fn write(stream: &mut UnixStream, value: &impl Serialize) -> io::Result<()> {
    stream.write_all(&frame(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_kind_and_exit_code() {
        let e = Error::Failed {
            argv: Argv(vec!["runc".into(), "create".into()]),
            status: Termination::Exited(3),
            kind: crate::runtime::ErrorKind::NotFound,
            message: "boom".into(),
            stderr: "raw".into(),
        };
        let w = WireError::of(&e);
        assert_eq!(w.kind, WireKind::RuntimeFailed);
        assert_eq!(w.failure, Some(crate::runtime::ErrorKind::NotFound));
        assert_eq!(w.exit_code, 3);
        let json = serde_json::to_vec(&w).unwrap();
        let back: WireError = serde_json::from_slice(&json).unwrap();
        let back = back.into_error();
        assert!(matches!(
            back,
            Error::Failed {
                status: Termination::Exited(3),
                ..
            }
        ));
        assert_eq!(back.kind(), Some(crate::runtime::ErrorKind::NotFound));
        assert_eq!(back.to_string(), e.to_string());
        let nf = WireError::of(&Error::RuntimeNotFound {
            binary: "nope".into(),
        })
        .into_error();
        assert!(matches!(nf, Error::RuntimeNotFound { .. }));
    }

    #[test]
    fn frames_carry_fds() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let f = tempfile::tempfile().unwrap();
        send(&a, &vec![1, 2, 3], &[f.as_raw_fd()]).unwrap();
        let (v, fds): (Vec<i32>, _) = receive(&mut b, 2).unwrap();
        assert_eq!(v, [1, 2, 3]);
        assert_eq!(fds.len(), 1);
        send(&a, &"x", &[f.as_raw_fd(), f.as_raw_fd()]).unwrap();
        assert!(receive::<String>(&mut b, 1).is_err());
    }
}
