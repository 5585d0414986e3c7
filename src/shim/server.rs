//! The per-container monitor: go-runc's ProcessMonitor, as a detached
//! process of its own. `create` and `run -d` start it by default; it runs
//! the runtime itself, so the container's init is re-parented to it when
//! the runtime exits, reaps that init, and records how it ended (see
//! [`crate::shim::state`] for the state directory it writes).
//!
//! Life of a monitor:
//! 1. The caller ([`Runtime::create_monitored`], [`Runtime::run_monitored`]) makes
//!    a private staging directory beside the runtime's root and starts
//!    `ocictl monitor --fd N` through a double fork (`setsid`, so its own
//!    session; the caller reaps the short-lived middle process). It sends the
//!    job (global options, the subcommand's argv) over the socket pair on
//!    fd N and waits for one report on it.
//! 2. The monitor takes the state directory's lock, becomes a child
//!    subreaper, and runs the runtime with `--pid-file` (the user's, or a
//!    private one) and, for a terminal it is to hold, `--console-socket`
//!    pointing at its own socket. The runtime gets ocictl's stdio, so a
//!    non-terminal container's stdio is exactly what runc would give it —
//!    or, with `--log-output FILE`, that file as stdout and stderr.
//! 3. When the runtime fails, the monitor reports its error (the message
//!    from its private log, its exit status) and exits; the caller returns
//!    that error. When it succeeds, the monitor moves the staging directory
//!    to `<base>/<id>`, reports the init's pid, closes its copies of the
//!    caller's stdio and of the preserved fds, and `chdir`s to `/`.
//! 4. Non-terminal: it blocks in `waitpid` until the init has ended. With a
//!    terminal: one `poll` loop over the pty master, the attach socket, one
//!    attached client and the signal pipe (SIGCHLD); everything the pty
//!    prints goes to a log file (writing stops, the container does not,
//!    when the disk is full) and to a 1 MiB in-memory ring.
//! 5. It writes `exit.json` (atomically) and exits, which releases the lock
//!    readers wait on.
//!
//! Killing the monitor (SIGKILL; SIGTERM makes it leave cleanly) leaves the
//! container running; its exit status then stays unknown.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::runtime::ConsoleSocket;
use crate::runtime::{absolute, Args};
use crate::runtime::{process, ContainerId, CreateOpts, LogFormat, RunOpts, Runtime};
use crate::runtime::{Argv, Error, Result, Termination};
use crate::shim::attach;
use crate::shim::state::{base_dir, try_flock, ExitRecord, Meta, StateDir};
use crate::signal::Signal;
use crate::tty::{self, SignalPipe};

/// The subcommand of ocictl's binary that runs a monitor: `monitor --fd N`.
pub const MONITOR_SUBCOMMAND: &str = "monitor";
/// How much of a terminal's recent output the monitor keeps in memory.
pub const RING_SIZE: usize = 1 << 20;

/// What the caller asks of a monitor, beside the runtime's own options.
#[derive(Debug, Clone, Default)]
pub struct MonitorOpts {
    /// The container's process has a terminal. Without a `--console-socket`
    /// of the user's, the monitor receives and holds it.
    pub terminal: bool,
    /// Non-terminal: the container's stdout and stderr go to this file
    /// (appended). Terminal: the pty's output is logged here instead of
    /// the state directory's `console.log`.
    pub log_output: Option<PathBuf>,
    /// The pty's initial size (rows, columns), e.g. the caller's terminal's.
    pub winsize: Option<(u16, u16)>,
    /// The ocictl binary to run as the monitor (default: this executable).
    pub program: Option<PathBuf>,
}

/// A container started under a monitor.
#[derive(Debug)]
pub struct Monitored {
    /// `None` when the runtime wrote no pid file and nothing is monitored
    /// (see `warning`).
    pub monitor_pid: Option<i32>,
    pub init_pid: Option<i32>,
    /// Why the container is not monitored after all.
    pub warning: Option<String>,
}

/// The driver's options, as they travel to the monitor.
#[derive(Debug, Serialize, Deserialize)]
struct Globals {
    binary: OsString,
    root: Option<OsString>,
    debug: bool,
    log: Option<OsString>,
    log_format: Option<String>,
    systemd_cgroup: bool,
    rootless: Option<bool>,
    criu: Option<OsString>,
    pdeath_signal: Option<i32>,
    setpgid: bool,
    cwd: Option<OsString>,
    extra_args: Vec<OsString>,
}

impl Globals {
    fn of(r: &Runtime) -> Globals {
        let os = |p: &Option<PathBuf>| p.as_ref().map(|p| p.clone().into_os_string());
        Globals {
            binary: r.binary.clone().into_os_string(),
            root: os(&r.root),
            debug: r.debug,
            log: os(&r.log),
            log_format: r.log_format.map(|f| {
                match f {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }
                .into()
            }),
            systemd_cgroup: r.systemd_cgroup,
            rootless: r.rootless,
            criu: os(&r.criu),
            pdeath_signal: r.pdeath_signal.map(Signal::number),
            setpgid: r.setpgid,
            cwd: os(&r.cwd),
            extra_args: r.extra_args.clone(),
        }
    }

    fn runc(self) -> Runtime {
        Runtime {
            binary: self.binary.into(),
            root: self.root.map(Into::into),
            debug: self.debug,
            log: self.log.map(Into::into),
            log_format: self.log_format.map(|f| match f.as_str() {
                "text" => LogFormat::Text,
                _ => LogFormat::Json,
            }),
            systemd_cgroup: self.systemd_cgroup,
            rootless: self.rootless,
            criu: self.criu.map(Into::into),
            pdeath_signal: self.pdeath_signal.and_then(Signal::from_number),
            setpgid: self.setpgid,
            cwd: self.cwd.map(Into::into),
            extra_args: self.extra_args,
            timeout: None,
        }
    }
}

/// The job a caller hands its monitor.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    globals: Globals,
    /// The subcommand and its arguments, `--pid-file` (and the monitor's
    /// `--console-socket`) included.
    args: Vec<OsString>,
    staging: OsString,
    final_dir: OsString,
    pid_file: OsString,
    /// The monitor receives the pty on `<staging>/console.sock`.
    console: bool,
    /// The output's file: the pty log, or the captured stdout/stderr. A
    /// default pty log names its place in the final directory; it is
    /// opened in the staging directory, which becomes that.
    log: Option<OsString>,
    default_log: bool,
    capture_stdio: bool,
    winsize: Option<(u16, u16)>,
    preserve_fds: u32,
}

/// The monitor's one report to its caller.
#[derive(Debug, Serialize, Deserialize)]
enum Report {
    Up {
        monitor_pid: i32,
        init_pid: i32,
    },
    Unmonitored {
        warning: String,
    },
    Failed {
        argv: Vec<OsString>,
        code: Option<i32>,
        signal: Option<i32>,
        kind: crate::runtime::ErrorKind,
        message: String,
        stderr: String,
    },
    NotFound {
        binary: OsString,
    },
    NotExecutable {
        binary: OsString,
        message: String,
    },
    Other {
        message: String,
    },
}

impl Report {
    fn of_error(e: Error) -> Report {
        match e {
            Error::Failed {
                argv,
                status,
                kind,
                message,
                stderr,
            } => {
                let (code, signal) = match status {
                    Termination::Exited(c) => (Some(c), None),
                    Termination::Signaled(s) => (None, Some(s)),
                };
                Report::Failed {
                    argv: argv.0,
                    code,
                    signal,
                    kind,
                    message,
                    stderr,
                }
            }
            Error::RuntimeNotFound { binary } => Report::NotFound {
                binary: binary.into_os_string(),
            },
            Error::RuntimeNotExecutable { binary, source } => Report::NotExecutable {
                binary: binary.into_os_string(),
                message: source.to_string(),
            },
            other => Report::Other {
                message: other.to_string(),
            },
        }
    }
}

impl Runtime {
    /// `runc create` under a monitor (see the module docs). Returns once
    /// the container is created, or with the runtime's own error.
    pub fn create_monitored(
        &self,
        id: &ContainerId,
        opts: &CreateOpts,
        monitor: &MonitorOpts,
    ) -> Result<Monitored> {
        self.start_monitor(id, "create", opts, monitor, |_| {})
    }

    /// `runc run --detach` under a monitor; `--detach` is implied. Returns
    /// once the container runs, or with the runtime's own error.
    pub fn run_monitored(
        &self,
        id: &ContainerId,
        opts: &RunOpts,
        monitor: &MonitorOpts,
    ) -> Result<Monitored> {
        self.start_monitor(id, "run", &opts.create, monitor, |args| {
            args.flag("detach", true)
                .flag("keep", opts.keep)
                .flag("no-subreaper", opts.no_subreaper);
        })
    }

    fn start_monitor(
        &self,
        id: &ContainerId,
        sub: &str,
        create: &CreateOpts,
        monitor: &MonitorOpts,
        more: impl FnOnce(&mut Args),
    ) -> Result<Monitored> {
        let base = base_dir(self);
        let make_staging = || {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&base)?;
            tempfile::Builder::new()
                .prefix(&format!(".{id}."))
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir_in(&base)
        };
        // A second try when another ocictl removed the (empty) base meanwhile.
        let staging = make_staging().or_else(|_| make_staging()).map_err(|e| {
            Error::io(
                format!("cannot create a directory in {}", base.display()),
                e,
            )
        })?;
        let console = monitor.terminal && create.console_socket.is_none();
        let mut create = create.clone();
        let pid_file = match &create.pid_file {
            Some(p) => PathBuf::from(absolute(p)),
            None => staging.path().join("pid"),
        };
        create.pid_file = Some(pid_file.clone());
        if console {
            create.console_socket = Some(staging.path().join("console.sock"));
        }
        let mut args = Args::subcommand(sub);
        create.push_args(&mut args);
        more(&mut args);
        args.arg(id);
        let final_dir = StateDir::of(self, id);
        let log = match (&monitor.log_output, console) {
            (Some(file), _) => Some(absolute(file)),
            (None, true) => Some(final_dir.console_log_path().into_os_string()),
            (None, false) => None,
        };
        let job = Job {
            globals: Globals::of(self),
            args: args.into_vec(),
            staging: staging.path().as_os_str().to_owned(),
            final_dir: final_dir.path().as_os_str().to_owned(),
            pid_file: pid_file.into_os_string(),
            console,
            capture_stdio: !monitor.terminal && monitor.log_output.is_some(),
            default_log: console && monitor.log_output.is_none(),
            log,
            winsize: monitor.winsize,
            preserve_fds: create.preserve_fds.unwrap_or(0),
        };
        let program = match &monitor.program {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .map_err(|e| Error::io("cannot find ocictl's own executable", e))?,
        };
        let staging_path = staging.path().to_path_buf();
        let report = spawn_monitor(&program, &job);
        // From here the monitor owns the staging directory (it removes it
        // on failure); remove it only when no monitor ever took it.
        let taken = staging_path.join("lock").exists();
        if taken {
            let _ = staging.keep();
        } else {
            drop(staging);
        }
        let failed = !matches!(report, Ok(Report::Up { .. }));
        if failed {
            // Leave no empty base directory behind (fails when not empty).
            let _ = std::fs::remove_dir(&base);
        }
        match report? {
            Report::Up {
                monitor_pid,
                init_pid,
            } => Ok(Monitored {
                monitor_pid: Some(monitor_pid),
                init_pid: Some(init_pid),
                warning: None,
            }),
            Report::Unmonitored { warning } => Ok(Monitored {
                monitor_pid: None,
                init_pid: None,
                warning: Some(warning),
            }),
            Report::Failed {
                argv,
                code,
                signal,
                kind,
                message,
                stderr,
            } => Err(Error::Failed {
                argv: Argv(argv),
                status: match (code, signal) {
                    (_, Some(s)) => Termination::Signaled(s),
                    (c, None) => Termination::Exited(c.unwrap_or(1)),
                },
                kind,
                message,
                stderr,
            }),
            Report::NotFound { binary } => Err(Error::RuntimeNotFound {
                binary: binary.into(),
            }),
            Report::NotExecutable { binary, message } => Err(Error::RuntimeNotExecutable {
                binary: binary.into(),
                source: std::io::Error::other(message),
            }),
            Report::Other { message } => Err(Error::Invalid(message)),
        }
    }
}

/// Start the monitor (double fork, own session), hand it the job, and read
/// its report.
fn spawn_monitor(program: &Path, job: &Job) -> Result<Report> {
    let (mut ours, theirs) =
        UnixStream::pair().map_err(|e| Error::io("cannot create the monitor's socket", e))?;
    let fd = theirs.as_raw_fd();
    let mut cmd = Command::new(program);
    cmd.arg(MONITOR_SUBCOMMAND).arg("--fd").arg(fd.to_string());
    // SAFETY: only async-signal-safe calls (fcntl, setsid, fork, _exit)
    // between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            match libc::fork() {
                -1 => Err(std::io::Error::last_os_error()),
                0 => Ok(()),
                _ => libc::_exit(0),
            }
        });
    }
    let argv = Argv(vec![
        program.as_os_str().to_owned(),
        MONITOR_SUBCOMMAND.into(),
    ]);
    let mut middle = cmd.spawn().map_err(|source| Error::Spawn {
        argv: argv.clone(),
        source,
    })?;
    let _ = middle.wait();
    drop(theirs);
    let json = serde_json::to_vec(job).map_err(|e| Error::Invalid(e.to_string()))?;
    ours.write_all(&json)
        .and_then(|_| ours.shutdown(std::net::Shutdown::Write))
        .map_err(|e| Error::io("cannot hand the job to the monitor", e))?;
    let mut answer = Vec::new();
    ours.read_to_end(&mut answer)
        .map_err(|e| Error::io("cannot read the monitor's report", e))?;
    if answer.is_empty() {
        return Err(Error::Invalid(
            "the monitor exited without reporting whether the container started \
             (`ocictl state ID` tells; --no-monitor runs the runtime directly)"
                .into(),
        ));
    }
    serde_json::from_slice(&answer)
        .map_err(|e| Error::Invalid(format!("the monitor's report is unreadable: {e}")))
}

/// The monitor process: `ocictl monitor --fd N`. Returns its exit code.
pub fn serve(fd: RawFd) -> i32 {
    // SAFETY: the caller handed us this fd, open and ours alone.
    let mut report = unsafe { UnixStream::from_raw_fd(fd) };
    set_cloexec(fd);
    let mut raw = Vec::new();
    if report.read_to_end(&mut raw).is_err() {
        return 1;
    }
    let job: Job = match serde_json::from_slice(&raw) {
        Ok(job) => job,
        Err(e) => {
            send(
                &mut report,
                &Report::Other {
                    message: format!("the monitor got an unreadable job: {e}"),
                },
            );
            return 1;
        }
    };
    let staging = PathBuf::from(&job.staging);
    match Monitor::start(job, report) {
        Ok(Some(monitor)) => monitor.watch(),
        Ok(None) => 0,
        Err((mut report, e)) => {
            // Gone before the caller hears of it, so it can tidy the base.
            let _ = std::fs::remove_dir_all(&staging);
            send(&mut report, &Report::of_error(e));
            1
        }
    }
}

fn send(report: &mut UnixStream, r: &Report) {
    if let Ok(json) = serde_json::to_vec(r) {
        let _ = report.write_all(&json);
    }
}

fn set_cloexec(fd: RawFd) {
    // SAFETY: F_GETFD/F_SETFD on an fd number; harmless if it is not open.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }
}

/// Close what the monitor inherited beyond stdio, the preserved fds and
/// its own socket: a long-lived process must not hold a caller's pipe (a
/// test harness's, a build's jobserver) open. The container gets only
/// stdio and the preserved fds from runc anyway.
fn close_inherited_fds(preserve: u32, keep: RawFd) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd >= 3 + preserve as RawFd && fd != keep {
            // SAFETY: closing an fd nothing in this process uses (the
            // directory listing above is closed already; EBADF is harmless).
            unsafe { libc::close(fd) };
        }
    }
}

/// Give back the start-up's memory once the container is up: free heap
/// pages, and unmap the pages of read-only file mappings (code, constants)
/// that are exactly the file's (no private copy), so only what the waiting
/// loop touches again is resident. Nothing changes for the program: a page
/// dropped this way is faulted back in from the page cache when used.
fn trim_memory() {
    // SAFETY: malloc_trim only returns free memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut candidates: Vec<(usize, usize)> = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) {
                let perms = words.next().unwrap_or("");
                let path = words.nth(3).unwrap_or("");
                current = (perms.starts_with('r')
                    && !perms.contains('w')
                    && perms.ends_with('p')
                    && path.starts_with('/'))
                .then_some((start, end - start));
                continue;
            }
        }
        if first == "Anonymous:" {
            let anon: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(1);
            if let (Some(m), 0) = (current.take(), anon) {
                candidates.push(m);
            }
        }
    }
    for (start, len) in candidates {
        // SAFETY: a private, read-only file mapping without private pages:
        // dropping its pages only makes them fault in again from the file.
        unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    }
}

/// A monitor whose container is up.
struct Monitor {
    state: StateDir,
    init: Pid,
    /// Held (flock) until the process exits.
    _lock: File,
    terminal: Option<Terminal>,
}

struct Terminal {
    master: OwnedFd,
    listener: UnixListener,
    signals: &'static SignalPipe,
    log: Option<File>,
    winsize: Option<(u16, u16)>,
}

type StartError = (UnixStream, Error);

impl Monitor {
    /// Steps 2 and 3 of the module docs. `Ok(None)`: the container is not
    /// monitored after all (reported as a warning).
    fn start(job: Job, mut report: UnixStream) -> std::result::Result<Option<Monitor>, StartError> {
        macro_rules! tri {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => return Err((report, e)),
                }
            };
        }
        let staging = PathBuf::from(&job.staging);
        // SAFETY: PR_SET_CHILD_SUBREAPER takes a flag.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
            tri!(Err(Error::io(
                "the monitor cannot become a child subreaper",
                std::io::Error::last_os_error()
            )));
        }
        close_inherited_fds(job.preserve_fds, report.as_raw_fd());
        let lock = tri!(std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(staging.join("lock"))
            .map_err(|e| Error::io("cannot create the monitor's lock", e)));
        if !try_flock(&lock, libc::LOCK_EX) {
            tri!(Err(Error::Invalid("the monitor's lock is taken".into())));
        }
        let signals = if job.console {
            Some(tri!(tty::signals().map_err(|e| Error::io(
                "installing the monitor's signal handlers",
                e
            ))))
        } else {
            None
        };
        let socket = if job.console {
            Some(tri!(ConsoleSocket::bind(&staging.join("console.sock"))))
        } else {
            None
        };
        let log_at = match (&job.log, job.default_log) {
            (_, true) => Some(staging.join("console.log").into_os_string()),
            (log, false) => log.clone(),
        };
        let log = match &log_at {
            Some(path) => Some(tri!(std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| Error::io(
                    format!("cannot open the log {}", Path::new(path).display()),
                    e
                )))),
            None => None,
        };

        let runc = job.globals.runc();
        let mut private_log = if runc.log.is_none() && !runc.debug {
            Some(tri!(process::PrivateLog::new()))
        } else {
            None
        };
        let mut args = Args::default();
        for a in &job.args {
            args.arg(a);
        }
        let log_path = private_log.as_ref().map(process::PrivateLog::path);
        let argv = runc.argv_with_log(args, log_path.as_deref());
        let mut cmd = runc.command(&argv);
        let mut stderr_file = None;
        if job.console {
            let f = tri!(tempfile::tempfile().map_err(|e| Error::io("a private stderr file", e)));
            let child_end = tri!(f
                .try_clone()
                .map_err(|e| Error::io("a private stderr file", e)));
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(child_end);
            stderr_file = Some(f);
        } else if job.capture_stdio {
            let out = log.as_ref().and_then(|l| l.try_clone().ok());
            let err = log.as_ref().and_then(|l| l.try_clone().ok());
            if let (Some(out), Some(err)) = (out, err) {
                cmd.stdin(Stdio::null()).stdout(out).stderr(err);
            }
        }
        let child = tri!(process::spawn(cmd, &argv, &runc.binary));
        let runtime = Pid::from_raw(child.id() as i32);
        drop(child);

        let mut runtime_status = None;
        let mut console = None;
        if let (Some(socket), Some(signals)) = (&socket, signals) {
            let accepted = socket.accept(signals, None, || {
                if runtime_status.is_none() {
                    if let Ok(s) = waitpid(runtime, Some(WaitPidFlag::WNOHANG)) {
                        runtime_status = Termination::from_wait_status(s);
                    }
                }
                runtime_status.is_some()
            });
            match accepted {
                Ok(Ok(c)) => console = Some(c),
                Ok(Err(_)) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "receiving the console");
                }
            }
        }
        drop(socket);
        let status = match runtime_status {
            Some(s) => s,
            None => loop {
                match waitpid(runtime, None) {
                    Ok(s) => {
                        if let Some(t) = Termination::from_wait_status(s) {
                            break t;
                        }
                    }
                    Err(Errno::EINTR) => {}
                    Err(e) => tri!(Err(Error::io("waiting for the runtime", e.into()))),
                }
            },
        };
        if !status.success() {
            tri!(Err(process::detached_failure(
                runc.flavor_hint(),
                argv,
                status,
                private_log.as_mut(),
                stderr_file.as_mut(),
            )));
        }
        let init = match crate::runtime::read_pid_file(Path::new(&job.pid_file)) {
            Ok(pid) => Pid::from_raw(pid),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                send(
                    &mut report,
                    &Report::Unmonitored {
                        warning: format!(
                            "the runtime succeeded but its pid file is unusable ({e}): the \
                             container is not monitored (no exit status, attach or logs)"
                        ),
                    },
                );
                return Ok(None);
            }
        };
        let terminal = match (job.console, console, signals) {
            (false, _, _) => None,
            (true, Some(console), Some(signals)) => {
                let attach_path = Path::new(&job.final_dir).join("attach.sock");
                Some((console.master, signals, attach_path))
            }
            _ => {
                let _ = nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGKILL);
                tri!(Err(Error::Invalid(
                    "the runtime started the container without handing over its terminal".into()
                )))
            }
        };

        // Step 3: move into place, say so, let go of the caller's files.
        let final_dir = PathBuf::from(&job.final_dir);
        if final_dir.exists() {
            let _ = std::fs::remove_dir_all(&final_dir);
        }
        tri!(std::fs::rename(&staging, &final_dir).map_err(|e| Error::io(
            format!("cannot move the monitor's state to {}", final_dir.display()),
            e
        )));
        let state = StateDir::at(final_dir);
        let meta = Meta {
            monitor_pid: std::process::id() as i32,
            init_pid: init.as_raw(),
            terminal: terminal.is_some(),
            log: job.log.clone().map(PathBuf::from),
        };
        let _ = write_atomic(
            &state.meta_path(),
            &serde_json::to_vec(&meta).unwrap_or_default(),
        );
        let terminal = match terminal {
            Some((master, signals, attach_path)) => {
                let listener = tri!(UnixListener::bind(&attach_path).map_err(|e| Error::io(
                    format!("cannot listen on {}", attach_path.display()),
                    e
                )));
                Some(Terminal {
                    master,
                    listener,
                    signals,
                    log: if job.capture_stdio { None } else { log },
                    winsize: job.winsize,
                })
            }
            None => None,
        };
        // Before the report: the caller sees the monitor as it stays.
        trim_memory();
        send(
            &mut report,
            &Report::Up {
                monitor_pid: meta.monitor_pid,
                init_pid: init.as_raw(),
            },
        );
        drop(report);
        let_go_of_stdio(job.preserve_fds);
        Ok(Some(Monitor {
            state,
            init,
            _lock: lock,
            terminal,
        }))
    }

    /// Steps 4 and 5: wait for the end, record it, exit.
    fn watch(self) -> i32 {
        let status = match self.terminal {
            None => reap_blocking(self.init),
            Some(t) => {
                let attach_path = self.state.attach_path();
                let status = t.run(self.init);
                let _ = std::fs::remove_file(attach_path);
                status
            }
        };
        match status {
            Some(status) => {
                let record = ExitRecord::new(status);
                let json = serde_json::to_vec(&record).unwrap_or_default();
                if let Err(e) = write_atomic(&self.state.exit_path(), &json) {
                    tracing::debug!(error = %e, "writing the exit record");
                    return 1;
                }
                0
            }
            None => 1,
        }
    }
}

/// Close the monitor's copies of the caller's stdio and preserved fds (the
/// container has its own), and leave the caller's directory.
fn let_go_of_stdio(preserve: u32) {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard fds.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    for fd in 3..3 + preserve as RawFd {
        // SAFETY: these were the caller's preserved fds, unused here.
        unsafe { libc::close(fd) };
    }
    let _ = std::env::set_current_dir("/");
}

/// Block in waitpid until `init` has ended (reaping any other orphan that
/// lands here meanwhile). `None` when it is not our child.
fn reap_blocking(init: Pid) -> Option<Termination> {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(s) if s.pid() == Some(init) => {
                if let Some(t) = Termination::from_wait_status(s) {
                    return Some(t);
                }
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return None,
        }
    }
}

/// Reap without blocking; the init's end when it is among them.
fn reap_now(init: Pid) -> Option<Termination> {
    let mut found = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return found,
            Ok(s) if s.pid() == Some(init) => {
                if let Some(t) = Termination::from_wait_status(s) {
                    found = Some(t);
                }
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return found,
        }
    }
}

fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

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

impl Terminal {
    /// The poll loop of step 4; returns the init's end (None when told to
    /// stop or when it could not be seen).
    fn run(mut self, init: Pid) -> Option<Termination> {
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
                let mut master_flags = PollFlags::empty();
                if !backlog {
                    master_flags |= PollFlags::POLLIN;
                }
                if !to_pty.is_empty() {
                    master_flags |= PollFlags::POLLOUT;
                }
                fds.push(PollFd::new(master, master_flags));
                fds.len() - 1
            });
            let client_at = client.as_ref().map(|_| fds.len());
            if let Some(c) = &client {
                let mut f = PollFlags::POLLIN;
                if backlog {
                    f |= PollFlags::POLLOUT;
                }
                fds.push(PollFd::new(c.stream.as_fd(), f));
            }
            let timeout = if status.is_some() {
                PollTimeout::try_from(tty::DRAIN_IDLE.as_millis() as i32)
                    .unwrap_or(PollTimeout::MAX)
            } else {
                PollTimeout::NONE
            };
            let n = match poll(&mut fds, timeout) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(_) => return status,
            };
            if n == 0 && status.is_some() {
                break;
            }
            let ev = |i: usize| {
                fds.get(i)
                    .and_then(|f| f.revents())
                    .unwrap_or(PollFlags::empty())
            };
            let at = |i: Option<usize>| i.map(ev).unwrap_or(PollFlags::empty());
            let (sig, listen, master_ev, client_ev) = (ev(0), ev(1), at(master_at), at(client_at));
            drop(fds);

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
            if !listen.is_empty() {
                while let Ok((stream, _)) = self.listener.accept() {
                    self.serve_request(stream, &mut client, &ring, log_failed);
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
            if !client_ev.is_empty() {
                let mut drop_client = false;
                if let Some(c) = client.as_mut() {
                    if client_ev.contains(PollFlags::POLLOUT) && flush_client(c).is_err() {
                        drop_client = true;
                    }
                    if client_ev
                        .intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                    {
                        match c.stream.read(&mut buf) {
                            Ok(0) => drop_client = true,
                            Ok(n) => {
                                c.input.extend_from_slice(&buf[..n]);
                                loop {
                                    match attach::parse(&mut c.input) {
                                        Ok(Some(attach::Frame::Data(d))) => {
                                            to_pty.extend_from_slice(&d)
                                        }
                                        Ok(Some(attach::Frame::Winsize(r, col))) => {
                                            let _ = tty::set_window_size(master, &winsize(r, col));
                                        }
                                        Ok(None) => break,
                                        Err(_) => {
                                            drop_client = true;
                                            break;
                                        }
                                    }
                                }
                                if master_open {
                                    flush_pty(master, &mut to_pty);
                                }
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(_) => drop_client = true,
                        }
                    }
                }
                if drop_client {
                    client = None;
                }
            }
        }
        status
    }

    /// One new connection on the attach socket.
    fn serve_request(
        &self,
        mut stream: UnixStream,
        client: &mut Option<Client>,
        ring: &Ring,
        log_failed: bool,
    ) {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let mut request = [0u8; 1];
        if stream.read_exact(&mut request).is_err() {
            return;
        }
        match request[0] {
            attach::ATTACH => {
                let mut size = [0u8; 4];
                if stream.read_exact(&mut size).is_err() {
                    return;
                }
                if client.is_some() {
                    let _ = stream.write_all(&[attach::REFUSED]);
                    let _ = stream.write_all(
                        b"another client is attached to this container; only one at a time \
                          (detach it with its detach keys, or wait)",
                    );
                    return;
                }
                if stream.write_all(&[attach::OK]).is_err() {
                    return;
                }
                let (rows, cols) = (
                    u16::from_be_bytes([size[0], size[1]]),
                    u16::from_be_bytes([size[2], size[3]]),
                );
                if rows > 0 || cols > 0 {
                    let _ = tty::set_window_size(self.master.as_fd(), &winsize(rows, cols));
                }
                let _ = stream.set_nonblocking(true);
                *client = Some(Client {
                    stream,
                    backlog: Vec::new(),
                    input: Vec::new(),
                });
            }
            attach::LOGS => {
                if log_failed {
                    let (a, b) = ring.0.as_slices();
                    let _ = stream.write_all(&[attach::RING]);
                    let _ = stream.write_all(a);
                    let _ = stream.write_all(b);
                } else {
                    let _ = stream.write_all(&[attach::FILE_COMPLETE]);
                }
            }
            _ => {}
        }
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

fn flush_pty(master: std::os::fd::BorrowedFd<'_>, pending: &mut Vec<u8>) {
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
