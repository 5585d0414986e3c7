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
use nix::unistd::Pid;

use super::bounded_output::{BoundedOutput, STDOUT_CAP};
use super::error::{Argv, Error, Result, Termination};

/// A runtime process just started, and the argv it was given.
pub(crate) struct Launched {
    pub child: Child,
    pub argv: Argv,
}

/// What a captured run produced.
#[derive(Debug)]
pub struct Captured {
    pub status: Termination,
    pub stdout: Vec<u8>,
    /// Its head and tail when it was long (see [`BoundedOutput`]).
    pub stderr: Vec<u8>,
    /// How many bytes of stderr were cut from the middle.
    pub stderr_cut: u64,
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

/// The stdio of a captured run: stdout and stderr piped, stdin piped when
/// there is input for it, else /dev/null.
pub(crate) fn wire_captured(cmd: &mut Command, stdin: Option<&[u8]>) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
}

/// Run to completion with stdout and stderr captured, `stdin` written to the
/// child's stdin, and the child killed after `timeout` with every process it
/// started (`own_group`: the runtime leads its own group, `--setpgid`).
///
/// With `echo_stderr`, what the runtime writes to stderr is also passed on
/// to ocictl's stderr as it comes (`--debug` without `--log`: runc's own
/// debug lines, where runc would have printed them).
pub(crate) fn capture(
    launched: Launched,
    stdin: Option<&[u8]>,
    timeout: Option<Duration>,
    own_group: bool,
    echo_stderr: bool,
) -> Result<Captured> {
    let Launched { mut child, argv } = launched;
    let argv = &argv;
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
            let status = Termination::from_status(status);
            if stdout.cut() > 0 && status.success() {
                return Err(Error::BadOutput {
                    argv: argv.clone(),
                    what: "more output than ocictl reads",
                    detail: format!("over {} MiB on stdout", STDOUT_CAP >> 20),
                    raw: String::from_utf8_lossy(&stdout.into_bytes()[..120]).into_owned(),
                });
            }
            Ok(Captured {
                status,
                stdout: stdout.into_bytes(),
                stderr_cut: stderr.cut(),
                stderr: stderr.into_bytes(),
            })
        }
        Err(ReadError::TimedOut) => {
            kill_tree(Pid::from_raw(child.id() as i32), own_group);
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

/// End a timed-out runtime and everything it started: a hung wrapper
/// script's child must not outlive it. Each process is stopped before its
/// children are read (so it can neither fork nor reap behind the walk),
/// then all are killed. With its own process group (`--setpgid`) the whole
/// group goes too, including children that left the tree by daemonizing.
///
/// Why not always a group of its own: a prompt call shares ocictl's group so
/// that Ctrl-C at the terminal reaches it with ocictl, as it would reach
/// runc run from a shell; the walk gives the same end without that change.
fn kill_tree(root: Pid, own_group: bool) {
    let mut found = Vec::new();
    let mut stack = vec![root];
    // SIGSTOP takes effect later than kill() returns: a process caught in
    // the middle of a fork can still add a child after its list was read.
    // So walk again once every process found has really stopped, until a
    // walk finds nobody new (bounded: a fork bomb is not chased forever).
    for _ in 0..5 {
        let before = found.len();
        while let Some(pid) = stack.pop() {
            if found.contains(&pid) || kill(pid, NixSignal::SIGSTOP).is_err() {
                continue;
            }
            found.push(pid);
            stack.extend(children_of(pid));
        }
        if found.len() == before && before > 0 {
            break;
        }
        let deadline = Instant::now() + Duration::from_millis(200);
        for &pid in &found {
            while !has_stopped(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        for &pid in &found {
            stack.extend(children_of(pid));
        }
    }
    if own_group {
        let _ = nix::sys::signal::killpg(root, NixSignal::SIGKILL);
    }
    for pid in found {
        let _ = kill(pid, NixSignal::SIGKILL);
    }
}

/// Whether `pid` is stopped, a zombie or gone (from /proc/PID/stat).
fn has_stopped(pid: Pid) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    matches!(state, Some("T" | "t" | "Z" | "X") | None)
}

/// A process's children, from /proc/PID/task/*/children.
fn children_of(pid: Pid) -> Vec<Pid> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        children.extend(
            text.split_whitespace()
                .filter_map(|w| w.parse().ok())
                .map(Pid::from_raw),
        );
    }
    children
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
/// block the runtime, stopping at the deadline. What is kept is bounded;
/// the rest is read and dropped, so the runtime is never blocked.
fn read_both(
    child: &mut Child,
    deadline: Option<Instant>,
    echo_stderr: bool,
) -> std::result::Result<(BoundedOutput, BoundedOutput), ReadError> {
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let (mut out_buf, mut err_buf) = (BoundedOutput::stdout(), BoundedOutput::stderr());
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
            let n = read_some(&mut err, &mut err_buf, &mut chunk)?;
            if echo_stderr {
                // Best effort: a closed stderr must not fail the call.
                let _ = std::io::stderr().write_all(&chunk[..n]);
            }
        }
    }
    Ok((out_buf, err_buf))
}

/// One read into `buf`; how many bytes it gave (0 at EOF).
fn read_some<R: Read>(
    pipe: &mut Option<R>,
    buf: &mut BoundedOutput,
    chunk: &mut [u8],
) -> std::result::Result<usize, ReadError> {
    if let Some(p) = pipe {
        match p.read(chunk) {
            Ok(0) => *pipe = None,
            Ok(n) => {
                buf.push(&chunk[..n]);
                return Ok(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    Ok(0)
}

/// Signals a foreground runtime should get when ocictl gets them: runc's own
/// signal proxy passes them on to the container.
///
/// SIGTSTP too (Ctrl-Z): runc catches it and passes it on, so under bare
/// runc nothing stops (a container's process leads a session of its own,
/// where the kernel discards a stop signal), and the shell keeps waiting.
/// Were ocictl to stop alone, runc would be left running in the background
/// and spin on SIGTTIN reading the terminal; so ocictl does as runc does.
pub const PROXIED_SIGNALS: &[i32] = &[
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGTSTP,
];

/// The signal proxy of a foreground runtime: installed before the runtime
/// starts (so no signal is missed in between), then [`SignalProxy::run`]
/// waits for it, forwarding the signals ocictl receives from other
/// processes. Signals the kernel sends to the whole foreground process group
/// (Ctrl-C at a terminal) already reach the runtime, so they are not sent
/// twice — unless the runtime has a process group of its own (`own_group`),
/// where only ocictl gets them.
///
/// With `stderr_log` (a reader of the runtime's private log; the runtime's
/// stderr then piped), the runtime's stderr goes through ocictl: see
/// [`pass_stderr`].
pub(crate) struct SignalProxy {
    signals: signal_hook::iterator::SignalsInfo<signal_hook::iterator::exfiltrator::WithOrigin>,
}

impl SignalProxy {
    pub fn install() -> Result<SignalProxy> {
        let signals = signal_hook::iterator::SignalsInfo::new(PROXIED_SIGNALS)
            .map_err(|e| Error::io("installing the signal proxy", e))?;
        Ok(SignalProxy { signals })
    }

    pub fn run(
        self,
        launched: Launched,
        own_group: bool,
        stderr_log: Option<std::fs::File>,
    ) -> Result<Termination> {
        let Launched { mut child, argv } = launched;
        let mut signals = self.signals;
        let handle = signals.handle();
        let stderr_pass = child
            .stderr
            .take()
            .map(|pipe| StderrPass::start(pipe, stderr_log));
        let pid = Pid::from_raw(child.id() as i32);
        let _terminal = own_group.then(|| Foreground::hand_to(pid)).flatten();
        // Set once the child has exited and before it is reaped, so its pid
        // is never signalled after it could have been reused.
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
        let status = super::reap::wait_then_reap(child, || {
            *exited.lock().unwrap_or_else(|p| p.into_inner()) = true;
        });
        handle.close();
        let _ = forwarder.join();
        if let Some(passed) = stderr_pass {
            passed.finish();
        }
        status.map_err(|e| Error::io(format!("waiting for `{}`", argv.short()), e))
    }
}

/// The terminal handed to a runtime with a process group of its own
/// (`--setpgid`), as a shell hands it to a job: a runtime in a background
/// group that reads the terminal (runc copies stdin to the process) gets
/// SIGTTIN, which runc catches, and spins at 100% CPU. Ctrl-C and Ctrl-Z
/// then reach the runtime from the terminal, as under bare runc. Given back
/// to ocictl's group when dropped.
struct Foreground {
    fd: std::os::fd::BorrowedFd<'static>,
    ours: Pid,
}

impl Foreground {
    /// Only when ocictl's stdin, stdout or stderr is a terminal on which
    /// ocictl's group is in the foreground.
    fn hand_to(group: Pid) -> Option<Foreground> {
        let fd = crate::tty::controlling_stdio()?;
        let ours = nix::unistd::getpgrp();
        if nix::unistd::tcgetpgrp(fd).ok()? != ours {
            return None;
        }
        nix::unistd::tcsetpgrp(fd, group).ok()?;
        Some(Foreground { fd, ours })
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        // From the background, tcsetpgrp stops the caller with SIGTTOU
        // unless that is blocked.
        use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
        let mut ttou = SigSet::empty();
        ttou.add(NixSignal::SIGTTOU);
        let mut old = SigSet::empty();
        let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old));
        let _ = nix::unistd::tcsetpgrp(self.fd, self.ours);
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
}

/// How long the runtime's stderr may stay open after it exited.
const STDERR_AFTER_EXIT: Duration = Duration::from_secs(2);

/// The runtime's stderr passed on to ocictl's by a thread (see
/// [`pass_stderr`]; without a log, everything is passed on).
pub(crate) struct StderrPass {
    done: std::sync::mpsc::Receiver<()>,
}

impl StderrPass {
    pub fn start(pipe: std::process::ChildStderr, log: Option<std::fs::File>) -> StderrPass {
        let (tx, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            pass_stderr(pipe, log.as_ref());
            let _ = tx.send(());
        });
        StderrPass { done }
    }

    /// Once the runtime has exited: the pipe ends with it, unless something
    /// it started kept it open; then what remains is passed on by the
    /// thread while ocictl finishes, not waited for.
    pub fn finish(self) {
        let _ = self.done.recv_timeout(STDERR_AFTER_EXIT);
    }
}

/// Copy the runtime's stderr to ocictl's as it comes, except the line runc
/// prints there when it fails: the message of an error record it has just
/// written to its log (runc logs the error, then prints the same text to
/// stderr, then exits; so the record is there when the line arrives). ocictl
/// reports that error itself, once.
fn pass_stderr(mut pipe: std::process::ChildStderr, log: Option<&std::fs::File>) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = std::io::stderr();
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let chunk = match log {
            Some(log) => strip_logged_error(&buf[..n], log),
            None => &buf[..n],
        };
        // A closed stderr: keep reading, so the runtime never blocks on it.
        let _ = out.write_all(chunk).and_then(|()| out.flush());
    }
}

/// `chunk` without a trailing line that repeats an error record of `log`.
fn strip_logged_error<'a>(chunk: &'a [u8], log: &std::fs::File) -> &'a [u8] {
    use std::os::unix::fs::FileExt;
    let len = log.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return chunk;
    }
    let mut text = vec![0u8; len.min(1 << 20) as usize];
    let n = log.read_at(&mut text, 0).unwrap_or(0);
    let text = String::from_utf8_lossy(&text[..n]);
    for record in text.lines().filter_map(super::log::parse_log_line) {
        if !(record.level.eq_ignore_ascii_case("error")
            || record.level.eq_ignore_ascii_case("fatal"))
        {
            continue;
        }
        let line = format!("{}\n", record.msg);
        if let Some(rest) = chunk.strip_suffix(line.as_bytes()) {
            return rest;
        }
    }
    chunk
}

/// A file with no name (O_TMPFILE in TMPDIR), mode 0600 whatever the umask.
pub(crate) fn private_anonymous_file() -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::PermissionsExt;
    let file = tempfile::tempfile()?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// The path through which another process of ocictl's user opens the file
/// behind ocictl's own fd (its only name when it is anonymous).
pub(crate) fn proc_fd_path(file: &std::fs::File) -> std::path::PathBuf {
    format!("/proc/{}/fd/{}", std::process::id(), file.as_raw_fd()).into()
}

/// An anonymous file the runtime writes its log into, reached through
/// `/proc/<pid>/fd/N`: it has no name on disk, so nothing is left behind
/// even if ocictl is killed.
pub(crate) struct PrivateLog {
    file: std::fs::File,
}

impl PrivateLog {
    pub fn new() -> Result<PrivateLog> {
        let file =
            private_anonymous_file().map_err(|e| Error::io("creating a private log file", e))?;
        Ok(PrivateLog { file })
    }

    pub fn path(&self) -> std::path::PathBuf {
        proc_fd_path(&self.file)
    }

    /// A second handle on the log, for reading it while the runtime runs.
    pub fn reader(&self) -> Result<std::fs::File> {
        self.file
            .try_clone()
            .map_err(|e| Error::io("opening the private log file", e))
    }

    /// What the runtime logged, bounded: its head and tail when long.
    pub fn contents(&mut self) -> String {
        bounded_text(&mut self.file)
    }
}

/// A file the runtime wrote (its log, its stderr), read with the bounds of
/// [`BoundedOutput`].
fn bounded_text(file: &mut std::fs::File) -> String {
    match BoundedOutput::of_file(file) {
        Ok(kept) => String::from_utf8_lossy(&kept.into_bytes()).into_owned(),
        Err(_) => String::new(),
    }
}

/// The runtime's failure, detached from the caller's stdio: its message
/// from the private log when there is one, else from what it wrote to the
/// private `stderr` file.
pub(crate) fn detached_failure(
    flavor: super::Flavor,
    argv: Argv,
    status: Termination,
    private_log: Option<&mut PrivateLog>,
    stderr: Option<&mut std::fs::File>,
) -> Error {
    let text = stderr.map(bounded_text).unwrap_or_default();
    let log_text = private_log.map(|l| l.contents()).unwrap_or_default();
    let source = if flavor.error_message(&log_text).is_empty() {
        &text
    } else {
        &log_text
    };
    flavor.failure(argv, status, &source.clone(), text)
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
