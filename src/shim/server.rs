//! The shim process, `ocictl shim --id ID --root ROOT --fd N`: go-runc's
//! ProcessMonitor as a detached process of its own (what conmon is to
//! podman). It runs the runtime itself, so the container's init is
//! re-parented to it when the runtime exits; it reaps that init and
//! records how it ended (see [`crate::shim::layout`] for what it keeps).
//!
//! 1. fd hygiene: it takes the job and the state directory's fds from its
//!    socket (see [`crate::shim::client`]), becomes a child subreaper, and
//!    closes everything it inherited beyond stdio and the preserved fds.
//! 2. It runs the runtime with the job's argv (its own console socket
//!    filled in when it is to hold the pty). The runtime gets the caller's
//!    stdio, so a non-terminal container's stdio is exactly what runc would
//!    give it — or the `--log-output` file, or with `--capture` pipes the
//!    shim reads (see [`crate::shim::capture`]). A byte (or EOF) from the caller
//!    meanwhile means abort: the runtime is killed, what it created is
//!    deleted, the directory removed.
//! 3. When the runtime fails, the shim reports its error (kind, exit code,
//!    the runtime's message) and exits; when it succeeds, it writes its
//!    meta record, reports the init's pid, lets go of the caller's stdio
//!    and preserved fds, and `chdir`s to `/`.
//! 4. It waits for the init's end (the terminal loop of [`crate::shim::pty`]
//!    when it holds a pty, the capture loop when it reads pipes), writes `exit.json` atomically and exits, which
//!    releases the lock readers wait on. SIGTERM makes it leave without a
//!    record (the exit status is then unknown, never invented); the
//!    container keeps running.
//!
//! With `--debug`, its tracing goes to `shim.log` in its state directory.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use chrono::Utc;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, Flock, FlockArg};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal as NixSignal};
use nix::unistd::Pid;

use crate::runtime::reap;
use crate::runtime::{process, Args, ConsoleSocket, ContainerId, DeleteOpts, Error, Termination};
use crate::secure_dir::SecureDir;
use crate::shim::capture::{Capture, CapturePipes};
use crate::shim::console_log::{ConsoleLog, LogSink, Logger};
use crate::shim::layout;
use crate::shim::protocol::{self, Job, Output, Report, WireError};
use crate::shim::pty::Terminal;
use crate::shim::state::{ExitRecord, Meta};
use crate::tty::{self, SignalPipe};

/// The shim process. Returns its exit code.
pub fn serve(fd: RawFd, id: &ContainerId) -> i32 {
    // SAFETY: the caller put this socket at fd N for us alone; nothing else
    // in this fresh process owns it.
    let mut socket = unsafe { UnixStream::from_raw_fd(fd) };
    let _ = fcntl(&socket, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    let (job, fds) = match protocol::receive::<Job>(&mut socket, 3) {
        Ok(got) => got,
        Err(e) => {
            let _ = protocol::write(
                &mut socket,
                &Report::Failed(WireError::of(&Error::io("the shim got no readable job", e))),
            );
            return 1;
        }
    };
    let Ok([dir, base, lock]) = <[OwnedFd; 3]>::try_from(fds) else {
        let e = Error::Invalid("the shim got its job without its state directory".into());
        let _ = protocol::write(&mut socket, &Report::Failed(WireError::of(&e)));
        return 1;
    };
    let shim = match Shim::new(job, id, dir, base, lock, &socket) {
        Ok(s) => s,
        Err(e) => {
            let _ = protocol::write(&mut socket, &Report::Failed(WireError::of(&e)));
            return 1;
        }
    };
    shim.run(socket)
}

/// A shim with its job and its directory.
struct Shim {
    job: Job,
    id: ContainerId,
    dir: SecureDir,
    base: SecureDir,
    /// Held (flock) until the process exits.
    _lock: Flock<File>,
    signals: &'static SignalPipe,
}

/// How the start ended when the container is not up.
enum NotUp {
    Failed(Error),
    Aborted,
    Unmonitored(String),
}

/// The runtime just started, and what explains its failure.
struct Launch {
    child: std::process::Child,
    argv: crate::runtime::Argv,
    private_log: Option<process::PrivateLog>,
    stderr_file: Option<File>,
    /// `--capture`: the read ends of the container's stdout and stderr.
    capture: Option<CapturePipes>,
}

/// The container up, and what watching it needs.
struct Up {
    init: Pid,
    console: Option<OwnedFd>,
    capture: Option<CapturePipes>,
    log: Option<LogSink>,
    /// Just before the runtime started and just after it returned.
    created: (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
}

impl Shim {
    fn new(
        job: Job,
        id: &ContainerId,
        dir: OwnedFd,
        base: OwnedFd,
        lock: OwnedFd,
        socket: &UnixStream,
    ) -> Result<Shim, Error> {
        if job.id != id.as_str() {
            return Err(Error::Invalid(format!(
                "the shim for {id} got the job of container {}",
                job.id
            )));
        }
        let base_path = layout::base_path(&job.runtime);
        let verify = |fd, path: PathBuf| {
            SecureDir::from_fd(fd, path).map_err(|e| {
                Error::io(
                    "the shim's state directory",
                    std::io::Error::other(e.to_string()),
                )
            })
        };
        let dir = verify(dir, base_path.join(id.as_str()))?;
        let base = verify(base, base_path)?;
        let lock = Flock::lock(File::from(lock), FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| Error::io("the shim's lock is not its caller's", e.into()))?;
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| Error::io("the shim cannot become a child subreaper", e.into()))?;
        let keep = [
            socket.as_raw_fd(),
            dir.as_fd().as_raw_fd(),
            base.as_fd().as_raw_fd(),
            lock.as_raw_fd(),
        ];
        close_inherited_fds(job.preserve_fds, &keep);
        let signals =
            tty::signals().map_err(|e| Error::io("installing the shim's signal handlers", e))?;
        if job.debug_log {
            start_debug_log(&dir);
        }
        Ok(Shim {
            job,
            id: id.clone(),
            dir,
            base,
            _lock: lock,
            signals,
        })
    }

    fn run(self, mut socket: UnixStream) -> i32 {
        tracing::debug!(id = %self.id, args = ?self.job.args, "the shim starts the runtime");
        match self.start(&socket) {
            Ok(up) => {
                let report = self.report_up(&up);
                match report {
                    Ok((meta, listener)) => {
                        let _ = protocol::write(
                            &mut socket,
                            &Report::Up {
                                monitor_pid: meta.monitor_pid,
                                init_pid: meta.init_pid,
                            },
                        );
                        drop(socket);
                        let_go_of_stdio(self.job.preserve_fds);
                        self.watch(up, listener)
                    }
                    Err(e) => {
                        let _ = kill(up.init, NixSignal::SIGKILL);
                        self.remove_dir();
                        let _ = protocol::write(&mut socket, &Report::Failed(WireError::of(&e)));
                        1
                    }
                }
            }
            Err(not_up) => {
                self.remove_dir();
                let report = match not_up {
                    NotUp::Failed(e) => Report::Failed(WireError::of(&e)),
                    NotUp::Aborted => Report::Aborted,
                    NotUp::Unmonitored(warning) => Report::Unmonitored { warning },
                };
                tracing::debug!(?report, "the container is not up");
                let _ = protocol::write(&mut socket, &report);
                i32::from(!matches!(report, Report::Unmonitored { .. }))
            }
        }
    }

    fn remove_dir(&self) {
        let _ = self.base.remove_tree(self.id.as_str());
    }

    /// Step 2: run the runtime until it returns (or the caller aborts).
    fn start(&self, caller: &UnixStream) -> Result<Up, NotUp> {
        let job = &self.job;
        let failed = NotUp::Failed;
        let mut log = self.open_log().map_err(failed)?;
        let mut args = job.args.clone();
        let socket = match job.console_socket_at {
            Some(at) if at < args.len() => {
                let socket = ConsoleSocket::bind(&layout::fd_path(&self.dir, layout::CONSOLE_SOCK))
                    .map_err(failed)?;
                args[at] = layout::fd_path_for_child(&self.dir, layout::CONSOLE_SOCK).into();
                Some(socket)
            }
            _ => None,
        };
        let runtime = &job.runtime;
        self.signals.clear(&[libc::SIGCHLD]);
        let created_after = Utc::now();
        let Launch {
            child,
            argv,
            mut private_log,
            mut stderr_file,
            capture,
        } = self
            .launch(args, socket.is_some(), log.as_ref())
            .map_err(failed)?;
        let pid = Pid::from_raw(child.id() as i32);
        drop(child);
        let mut status = None;
        let mut console = None;
        let mut aborted = false;
        if let Some(socket) = &socket {
            let accepted = socket.accept(self.signals, None, || {
                if status.is_none() {
                    status = reap::try_wait(pid).ok().flatten();
                }
                aborted = aborted || caller_aborted(caller);
                status.is_some() || aborted
            });
            match accepted {
                Ok(Ok(c)) => console = Some(c.master),
                Ok(Err(_)) => {}
                Err(e) => tracing::debug!(error = %e, "receiving the console"),
            }
        }
        drop(socket);
        let status = match status {
            Some(s) if !aborted => s,
            _ if aborted => return Err(self.abort(pid, None)),
            _ => match self.wait_runtime(pid, caller) {
                Ok(s) => s,
                Err(status) => return Err(self.abort(pid, status)),
            },
        };
        let created_before = Utc::now();
        if !status.success() {
            // With --capture the runtime's stderr is the pipe.
            if let Some(pipes) = &capture {
                stderr_file = pipes.stderr_so_far();
            }
            return Err(failed(process::detached_failure(
                runtime.flavor_hint(),
                argv,
                status,
                private_log.as_mut(),
                stderr_file.as_mut(),
            )));
        }
        let init = match crate::runtime::read_pid_file(&job.pid_file) {
            Ok(pid) => Pid::from_raw(pid),
            Err(e) => {
                return Err(NotUp::Unmonitored(format!(
                    "the runtime succeeded but its pid file is unusable ({e}): the container \
                     is not monitored (no exit status, attach or logs)"
                )))
            }
        };
        if job.output.pty() && console.is_none() {
            let _ = kill(init, NixSignal::SIGKILL);
            return Err(failed(Error::Invalid(
                "the runtime started the container without handing over its terminal".into(),
            )));
        }
        if matches!(job.output, Output::File(_)) {
            // The runtime writes the file itself.
            log = None;
        }
        Ok(Up {
            init,
            console,
            capture,
            log,
            created: (created_after, created_before),
        })
    }

    /// Where the container's output is logged, opened before anything runs.
    fn open_log(&self) -> Result<Option<LogSink>, Error> {
        Ok(match &self.job.output {
            Output::Pty { max_size } | Output::Capture { max_size } => Some(LogSink::Rotating(
                ConsoleLog::open(&self.dir, *max_size)
                    .map_err(|e| Error::io("cannot open the console log", e))?,
            )),
            Output::PtyToFile(path) | Output::File(path) => {
                Some(LogSink::File(open_user_log(path)?))
            }
            Output::Inherit => None,
        })
    }

    /// The runtime's command: its argv with a private log (unless the user
    /// keeps one), and its stdio: none but a private stderr file when the
    /// shim holds the pty, the log file for `--log-output`, else the
    /// caller's. In a process group of its own, so an abort ends the
    /// runtime and all it started (hooks included).
    fn launch(
        &self,
        args: Vec<std::ffi::OsString>,
        pty: bool,
        log: Option<&LogSink>,
    ) -> Result<Launch, Error> {
        use std::os::unix::process::CommandExt;
        let runtime = &self.job.runtime;
        let private_log = if runtime.log.is_none() && !runtime.debug {
            Some(process::PrivateLog::new()?)
        } else {
            None
        };
        let mut built = Args::default();
        for a in &args {
            built.arg(a);
        }
        let log_path = private_log.as_ref().map(process::PrivateLog::path);
        let mut stderr_file = None;
        let file_err = |e| Error::io("a private stderr file", e);
        let mut stdio: Option<(Stdio, Stdio, Stdio)> = None;
        let mut capture = None;
        if pty {
            let f = tempfile::tempfile().map_err(file_err)?;
            let child_end = f.try_clone().map_err(file_err)?;
            stdio = Some((Stdio::null(), Stdio::null(), child_end.into()));
            stderr_file = Some(f);
        } else if let Some(LogSink::File(f)) = log {
            let log_err = |e| Error::io("the log file", e);
            let out = f.try_clone().map_err(log_err)?;
            let err = f.try_clone().map_err(log_err)?;
            stdio = Some((Stdio::null(), out.into(), err.into()));
        } else if matches!(self.job.output, Output::Capture { .. }) {
            let (pipes, out, err) =
                CapturePipes::new().map_err(|e| Error::io("the container's output pipes", e))?;
            stdio = Some((Stdio::null(), out.into(), err.into()));
            capture = Some(pipes);
        }
        // The one launch path of the driver (global flags checked, the
        // environment and process attributes applied), in a process group
        // of its own so an abort ends its hooks too.
        let launched = runtime.launch(built, log_path.as_deref(), |cmd| {
            if let Some((stdin, stdout, stderr)) = stdio {
                cmd.stdin(stdin).stdout(stdout).stderr(stderr);
            }
            cmd.process_group(0);
        })?;
        Ok(Launch {
            child: launched.child,
            argv: launched.argv,
            private_log,
            stderr_file,
            capture,
        })
    }

    /// Wait for the runtime to return, watching the caller for an abort.
    /// `Err` on an abort (with the runtime's status if it had returned).
    fn wait_runtime(
        &self,
        pid: Pid,
        caller: &UnixStream,
    ) -> Result<Termination, Option<Termination>> {
        loop {
            match reap::try_wait(pid) {
                Ok(Some(status)) => return Ok(status),
                Ok(None) => {}
                Err(_) => return Err(None),
            }
            let mut fds = [
                PollFd::new(self.signals.fd(), PollFlags::POLLIN),
                PollFd::new(caller.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return Err(None),
            }
            if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                self.signals.drain();
            }
            if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                return Err(reap::try_wait(pid).ok().flatten());
            }
        }
    }

    /// The caller gave up before the container was up: stop the runtime,
    /// delete whatever it created, as if it had never run.
    fn abort(&self, pid: Pid, status: Option<Termination>) -> NotUp {
        tracing::debug!("the caller aborted the start");
        // The whole group: the runtime, its hooks, a half-made init.
        let _ = nix::sys::signal::killpg(pid, NixSignal::SIGKILL);
        if status.is_none() {
            // SIGKILL is prompt; a runtime stuck in the kernel gets 5 s.
            for _ in 0..500 {
                if reap::try_wait(pid).ok() != Some(None) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        let mut runtime = self.job.runtime.clone();
        runtime.timeout = runtime.timeout.or(Some(std::time::Duration::from_secs(60)));
        if let Err(e) = runtime.delete(&self.id, &DeleteOpts { force: true }) {
            tracing::debug!(error = %e, "deleting after the abort (nothing was created?)");
        }
        NotUp::Aborted
    }

    /// Step 3: the meta record and (for a pty or captured output) the
    /// attach socket.
    fn report_up(&self, up: &Up) -> Result<(Meta, Option<UnixListener>), Error> {
        let listener = if up.console.is_some() || up.capture.is_some() {
            let path = layout::fd_path(&self.dir, layout::ATTACH_SOCK);
            let _ = self.dir.remove_file(layout::ATTACH_SOCK);
            Some(UnixListener::bind(&path).map_err(|e| {
                Error::io(
                    format!(
                        "cannot listen on {}",
                        self.dir.join(layout::ATTACH_SOCK).display()
                    ),
                    e,
                )
            })?)
        } else {
            None
        };
        let meta = Meta {
            monitor_pid: std::process::id() as i32,
            init_pid: up.init.as_raw(),
            created_after: Some(up.created.0),
            created_before: Some(up.created.1),
            terminal: up.console.is_some(),
            log: match &self.job.output {
                Output::Pty { .. } | Output::Capture { .. } => {
                    Some(self.dir.join(layout::CONSOLE_LOG))
                }
                Output::PtyToFile(p) | Output::File(p) => Some(p.clone()),
                Output::Inherit => None,
            },
            log_in_state_dir: matches!(
                self.job.output,
                Output::Pty { .. } | Output::Capture { .. }
            ),
            log_records: matches!(self.job.output, Output::Pty { .. } | Output::Capture { .. }),
        };
        let json = serde_json::to_vec(&meta).map_err(|e| Error::Invalid(e.to_string()))?;
        self.dir
            .write_atomic(layout::META, &json, layout::FILE_MODE)
            .map_err(|e| Error::io("cannot write the shim's meta record", e))?;
        Ok((meta, listener))
    }

    /// Step 4: wait for the end, record it, exit.
    fn watch(self, up: Up, listener: Option<UnixListener>) -> i32 {
        let status = match (up.console, listener, up.capture) {
            (_, listener, Some(pipes)) => {
                let status = Capture {
                    pipes,
                    listener,
                    signals: self.signals,
                    log: Logger::new(up.log),
                }
                .run(up.init);
                let _ = self.dir.remove_file(layout::ATTACH_SOCK);
                status
            }
            (Some(master), Some(listener), None) => {
                let status = Terminal {
                    master,
                    listener,
                    signals: self.signals,
                    log: Logger::new(up.log),
                    winsize: self.job.winsize,
                }
                .run(up.init);
                let _ = self.dir.remove_file(layout::ATTACH_SOCK);
                status
            }
            _ => self.wait_init(up.init),
        };
        let Some(status) = status else {
            tracing::debug!("leaving without an exit record");
            return 1;
        };
        tracing::debug!(%status, "the container's init ended");
        let json = serde_json::to_vec(&ExitRecord::new(status)).unwrap_or_default();
        if let Err(e) = self
            .dir
            .write_atomic(layout::EXIT, &json, layout::FILE_MODE)
        {
            tracing::debug!(error = %e, "writing the exit record");
            return 1;
        }
        0
    }

    /// A non-terminal container: sleep in poll until SIGCHLD brings the
    /// init's end (None on SIGTERM/SIGINT/SIGQUIT, or if it is not ours).
    fn wait_init(&self, init: Pid) -> Option<Termination> {
        loop {
            match reap::ended(init) {
                Ok(Some(t)) => return Some(t),
                Ok(None) => {}
                Err(_) => return None,
            }
            let mut fds = [PollFd::new(self.signals.fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return None,
            }
            self.signals.drain();
            if self
                .signals
                .take_any([libc::SIGTERM, libc::SIGINT, libc::SIGQUIT])
                .is_some()
            {
                return None;
            }
            self.signals
                .clear(&[libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH]);
        }
    }
}

/// Whether the caller asked to abort (a byte, or its end closed).
fn caller_aborted(caller: &UnixStream) -> bool {
    let mut fds = [PollFd::new(caller.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

/// The user's `--log-output` file, appended to (created 0600).
fn open_user_log(path: &Path) -> Result<File, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(layout::FILE_MODE)
        .open(path)
        .map_err(|e| Error::io(format!("cannot open the log {}", path.display()), e))
}

/// `--debug`: the shim's tracing goes to `shim.log` in its directory.
fn start_debug_log(dir: &SecureDir) {
    let Ok(file) = dir.open_append(layout::DEBUG_LOG, layout::FILE_MODE) else {
        return;
    };
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .with_target(false),
        )
        .with(
            tracing_subscriber::filter::Targets::new().with_target("ocictl", tracing::Level::DEBUG),
        )
        .try_init();
}

/// Close what the shim inherited beyond stdio, the preserved fds and its
/// own: a long-lived process must not hold a caller's pipe (a test
/// harness's, a build's jobserver) open. The container gets only stdio
/// and the preserved fds from runc anyway.
fn close_inherited_fds(preserve: u32, keep: &[RawFd]) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd >= 3 + preserve as RawFd && !keep.contains(&fd) {
            // SAFETY: closing an fd nothing in this process uses (the
            // directory listing above is closed already; EBADF is harmless).
            unsafe { libc::close(fd) };
        }
    }
}

/// Close the shim's copies of the caller's stdio and preserved fds (the
/// container has its own), and leave the caller's directory.
fn let_go_of_stdio(preserve: u32) {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    for fd in 3..3 + preserve as RawFd {
        // SAFETY: these were the caller's preserved fds, unused here.
        unsafe { libc::close(fd) };
    }
    let _ = std::env::set_current_dir("/");
}
