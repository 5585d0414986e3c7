//! Starting the runtime and waiting for it: captured output with an optional
//! timeout (poll, no threads), or inherited stdio with a signal proxy for
//! foreground runs. Every child started here is reaped here.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal as NixSignal};
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use nix::unistd::Pid;

use super::error::{Argv, Error, Result, Termination};

/// What a captured run produced.
#[derive(Debug)]
pub struct Captured {
    pub status: Termination,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

pub(crate) fn spawn(mut cmd: Command, argv: &Argv, binary: &std::path::Path) -> Result<Child> {
    cmd.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::RuntimeNotFound {
            binary: binary.to_path_buf(),
        },
        std::io::ErrorKind::PermissionDenied => Error::RuntimeNotExecutable {
            binary: binary.to_path_buf(),
            source,
        },
        _ => Error::Spawn {
            argv: argv.clone(),
            source,
        },
    })
}

/// Run to completion with stdout and stderr captured, `stdin` written to the
/// child's stdin (or /dev/null), and the child killed after `timeout`.
/// With `echo_stderr`, what the runtime writes to stderr is also passed on
/// to ocictl's stderr as it comes (`--debug` without `--log`: runc's own
/// debug lines, where runc would have printed them).
pub(crate) fn capture(
    mut cmd: Command,
    argv: &Argv,
    binary: &std::path::Path,
    stdin: Option<&[u8]>,
    timeout: Option<Duration>,
    echo_stderr: bool,
) -> Result<Captured> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = spawn(cmd, argv, binary)?;
    let deadline = timeout.map(|t| Instant::now() + t);
    let io_result = std::thread::scope(|scope| {
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A runtime that exits without reading gives EPIPE: not our error.
            scope.spawn(move || {
                let _ = pipe.write_all(input);
            });
        }
        read_both(&mut child, deadline, echo_stderr)
    });
    match io_result {
        Ok((stdout, stderr)) => {
            let status = child
                .wait()
                .map_err(|e| Error::io(format!("waiting for `{}`", argv.short()), e))?;
            Ok(Captured {
                status: Termination::from_status(status),
                stdout,
                stderr,
            })
        }
        Err(ReadError::TimedOut) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(Error::TimedOut {
                argv: argv.clone(),
                after: timeout.unwrap_or_default(),
            })
        }
        Err(ReadError::Io(e)) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(Error::io(
                format!("reading the output of `{}`", argv.short()),
                e,
            ))
        }
    }
}

/// A poll(2) timeout for `d`, rounded up to whole milliseconds (so a
/// deadline is never polled as "no wait") and capped at what poll takes.
pub(crate) fn poll_timeout(d: Duration) -> PollTimeout {
    PollTimeout::try_from(d.as_millis().min(i32::MAX as u128 - 1) as i32 + 1)
        .unwrap_or(PollTimeout::MAX)
}

enum ReadError {
    TimedOut,
    Io(std::io::Error),
}

/// Read stdout and stderr to EOF together, so neither pipe can fill up and
/// block the runtime, stopping at the deadline.
fn read_both(
    child: &mut Child,
    deadline: Option<Instant>,
    echo_stderr: bool,
) -> std::result::Result<(Vec<u8>, Vec<u8>), ReadError> {
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
    let mut chunk = [0u8; 16 * 1024];
    while out.is_some() || err.is_some() {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ReadError::TimedOut);
                }
                poll_timeout(left)
            }
        };
        let (out_ready, err_ready) = {
            let mut fds = Vec::with_capacity(2);
            if let Some(o) = &out {
                fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
            }
            if let Some(e) = &err {
                fds.push(PollFd::new(e.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(ReadError::Io(e.into())),
            }
            let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
            match (&out, &err) {
                (Some(_), Some(_)) => (ready(&fds[0]), ready(&fds[1])),
                (Some(_), None) => (ready(&fds[0]), false),
                _ => (false, ready(&fds[0])),
            }
        };
        if out_ready {
            read_some(&mut out, &mut out_buf, &mut chunk)?;
        }
        if err_ready {
            let before = err_buf.len();
            read_some(&mut err, &mut err_buf, &mut chunk)?;
            if echo_stderr {
                // Best effort: a closed stderr must not fail the call.
                let _ = std::io::stderr().write_all(&err_buf[before..]);
            }
        }
    }
    Ok((out_buf, err_buf))
}

fn read_some<R: Read>(
    pipe: &mut Option<R>,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
) -> std::result::Result<(), ReadError> {
    if let Some(p) = pipe {
        match p.read(chunk) {
            Ok(0) => *pipe = None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    Ok(())
}

/// Signals a foreground runtime should get when ocictl gets them: runc's own
/// signal proxy passes them on to the container.
pub const PROXIED_SIGNALS: &[i32] = &[
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// Spawn with inherited stdio and wait, forwarding the signals ocictl
/// receives from other processes to the runtime. Signals the kernel sends
/// to the whole foreground process group (Ctrl-C at a terminal) already
/// reach the runtime, so they are not sent twice — unless the runtime has
/// a process group of its own (`own_group`), where only ocictl gets them.
pub(crate) fn run_inherited(
    cmd: Command,
    argv: &Argv,
    binary: &std::path::Path,
    own_group: bool,
) -> Result<Termination> {
    use signal_hook::iterator::exfiltrator::WithOrigin;
    use signal_hook::iterator::SignalsInfo;

    let mut signals = SignalsInfo::<WithOrigin>::new(PROXIED_SIGNALS)
        .map_err(|e| Error::io("installing the signal proxy", e))?;
    let handle = signals.handle();
    let child = match spawn(cmd, argv, binary) {
        Ok(child) => child,
        Err(e) => {
            handle.close();
            return Err(e);
        }
    };
    let pid = Pid::from_raw(child.id() as i32);
    // Set once the child has exited and before it is reaped, so its pid is
    // never signalled after it could have been reused.
    let exited = Arc::new(Mutex::new(false));
    let forwarder = {
        let exited = Arc::clone(&exited);
        std::thread::spawn(move || {
            for origin in signals.forever() {
                let from_kernel =
                    matches!(origin.cause, signal_hook::low_level::siginfo::Cause::Kernel);
                if from_kernel && !own_group && origin.signal != libc::SIGWINCH {
                    continue;
                }
                let guard = exited.lock().unwrap_or_else(|p| p.into_inner());
                if !*guard {
                    if let Ok(sig) = NixSignal::try_from(origin.signal) {
                        tracing::debug!(signal = %sig, "forwarding to the runtime");
                        let _ = kill(pid, sig);
                    }
                }
            }
        })
    };
    let status = wait_then_reap(child, &exited);
    handle.close();
    let _ = forwarder.join();
    status.map_err(|e| Error::io(format!("waiting for `{}`", argv.short()), e))
}

fn wait_then_reap(mut child: Child, exited: &Mutex<bool>) -> std::io::Result<Termination> {
    let pid = Pid::from_raw(child.id() as i32);
    loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    *exited.lock().unwrap_or_else(|p| p.into_inner()) = true;
    Ok(Termination::from_status(child.wait()?))
}

/// An anonymous file the runtime writes its log into, reached through
/// `/proc/<pid>/fd/N`: it has no name on disk, so nothing is left behind
/// even if ocictl is killed.
pub(crate) struct PrivateLog {
    file: std::fs::File,
}

impl PrivateLog {
    pub fn new() -> Result<PrivateLog> {
        let file = tempfile::tempfile().map_err(|e| Error::io("creating a private log file", e))?;
        Ok(PrivateLog { file })
    }

    pub fn path(&self) -> std::path::PathBuf {
        format!("/proc/{}/fd/{}", std::process::id(), self.file.as_raw_fd()).into()
    }

    pub fn contents(&mut self) -> String {
        use std::io::Seek;
        let mut text = String::new();
        let _ = self.file.seek(std::io::SeekFrom::Start(0));
        let _ = self.file.read_to_string(&mut text);
        text
    }
}

/// The runtime's failure, detached from the caller's stdio: its message
/// from the private log when there is one, else from what it wrote to the
/// private `stderr` file.
pub(crate) fn detached_failure(
    argv: Argv,
    status: Termination,
    private_log: Option<&mut PrivateLog>,
    stderr: Option<&mut std::fs::File>,
) -> Error {
    let mut text = String::new();
    if let Some(f) = stderr {
        let _ = std::io::Seek::rewind(f);
        let _ = f.read_to_string(&mut text);
    }
    let log_text = private_log.map(|l| l.contents()).unwrap_or_default();
    let mut message = super::log::error_message(&log_text);
    if message.is_empty() {
        message = super::log::error_message(&text);
    }
    Error::Failed {
        argv,
        status,
        message,
        stderr: text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_timeouts_round_up_and_never_overflow() {
        assert_eq!(
            poll_timeout(Duration::ZERO),
            PollTimeout::try_from(1).unwrap()
        );
        assert_eq!(
            poll_timeout(Duration::from_micros(1500)),
            PollTimeout::try_from(2).unwrap()
        );
        // --timeout 1000h: capped, not wrapped into a negative (endless) wait.
        assert_eq!(
            poll_timeout(Duration::from_secs(3_600_000)),
            PollTimeout::MAX
        );
    }
}
