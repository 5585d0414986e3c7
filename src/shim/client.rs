//! Starting a shim: the caller's side (`create`, `run -d`, `restore -d`).
//!
//! 1. Claim the container's state directory: the base and the directory
//!    are created 0700 or verified, the directory is new (or the stale one
//!    of an ended container is replaced), and the caller takes its lock
//!    before anything else can see it. A pre-created directory of another
//!    user is refused, naming it and its owner, and nothing runs.
//! 2. Write what the runtime needs there (the `-t` bundle copy, 0600).
//! 3. Start `ocictl shim --id ID --root ROOT --fd N` through a double fork
//!    (`setsid`: its own session, so a terminal's signals do not reach it),
//!    send it the [`Job`] with the directory, its base and the lock
//!    attached, and wait for its one [`Report`].
//! 4. SIGINT/SIGTERM/SIGHUP/SIGQUIT meanwhile: ask the shim to abort. It
//!    stops the runtime, deletes what it created, removes the directory and
//!    answers; the caller then fails with 128+N, as bare runc under the same
//!    signal would, and nothing is left behind.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::bundle::BundleCopy;
use crate::runtime::{Args, Argv, ContainerId, CreateOpts, Error, RestoreOpts, Result};
use crate::runtime::{RunOpts, Runtime, Termination};
pub use crate::shim::claim::Claim;
use crate::shim::console_log::DEFAULT_MAX_SIZE;
use crate::shim::layout;
use crate::shim::protocol::{self, Job, Output, Report, ABORT};

/// The subcommand of ocictl's binary that runs a shim.
pub const SHIM_SUBCOMMAND: &str = "shim";

/// What the caller asks of a shim, beside the runtime's own options.
#[derive(Debug, Clone, Default)]
pub struct MonitorOpts {
    /// The container's process has a terminal. Without a `--console-socket`
    /// of the user's, the shim receives and holds it.
    pub terminal: bool,
    /// Non-terminal: the container's stdout and stderr go to this file
    /// (appended). Terminal: the pty's output is logged here instead of
    /// the state directory's `console.log`.
    pub log_output: Option<PathBuf>,
    /// The size at which `console.log` rotates (default 4 MiB).
    pub log_max_size: Option<u64>,
    /// Non-terminal, without `log_output`: the container's stdout and
    /// stderr are pipes the shim reads into `console.log` (timed records)
    /// instead of the caller's stdio.
    pub capture: bool,
    /// The pty's initial size (rows, columns), e.g. the caller's terminal's.
    pub winsize: Option<(u16, u16)>,
    /// Run the runtime on this copy of the user's bundle, kept in the
    /// state directory (`-t` on a bundle without a terminal, overrides).
    pub bundle_copy: Option<BundleCopy>,
    /// The ocictl binary to run as the shim (default: this executable).
    pub program: Option<PathBuf>,
}

/// A container started under a shim.
#[derive(Debug, Clone)]
pub struct Monitored {
    /// `None` when the runtime wrote no pid file and nothing is monitored
    /// (see `warning`).
    pub monitor_pid: Option<i32>,
    pub init_pid: Option<i32>,
    /// Why the container is not monitored after all.
    pub warning: Option<String>,
}

impl Runtime {
    /// `runc create` under a shim. Returns once the container is created,
    /// or with the runtime's own error.
    pub fn create_monitored(
        &self,
        id: &ContainerId,
        opts: &CreateOpts,
        monitor: &MonitorOpts,
    ) -> Result<Monitored> {
        start(self, id, monitor, |claim, terminal| {
            let mut opts = opts.clone();
            fill(
                claim,
                &mut opts.bundle,
                &mut opts.pid_file,
                &mut opts.console_socket,
                terminal,
            );
            let mut args = Args::subcommand("create");
            opts.push_args(&mut args);
            (args, opts.pid_file.unwrap_or_default())
        })
    }

    /// `runc run --detach` under a shim; `--detach` is implied.
    pub fn run_monitored(
        &self,
        id: &ContainerId,
        opts: &RunOpts,
        monitor: &MonitorOpts,
    ) -> Result<Monitored> {
        start(self, id, monitor, |claim, terminal| {
            let mut opts = opts.clone();
            opts.detach = true;
            let c = &mut opts.create;
            fill(
                claim,
                &mut c.bundle,
                &mut c.pid_file,
                &mut c.console_socket,
                terminal,
            );
            let mut args = Args::subcommand("run");
            opts.push_args(&mut args);
            (args, opts.create.pid_file.clone().unwrap_or_default())
        })
    }

    /// `runc restore --detach` under a shim, like `run -d`.
    pub fn restore_monitored(
        &self,
        id: &ContainerId,
        opts: &RestoreOpts,
        monitor: &MonitorOpts,
    ) -> Result<Monitored> {
        self.require(crate::runtime::Feature::Restore)?;
        start(self, id, monitor, |claim, terminal| {
            let mut opts = opts.clone();
            opts.detach = true;
            fill(
                claim,
                &mut opts.bundle,
                &mut opts.pid_file,
                &mut opts.console_socket,
                terminal,
            );
            let mut args = Args::subcommand("restore");
            opts.push_args(&mut args);
            (args, opts.pid_file.unwrap_or_default())
        })
    }
}

/// The placeholder the shim replaces with its own console socket.
const CONSOLE_PLACEHOLDER: &str = "@shim-console-socket";

/// Point the runtime at this directory: the bundle copy (when made),
/// a private pid file (unless the user gave one), the shim's console
/// socket (when it holds the pty).
fn fill(
    this: Option<&Claim>,
    bundle: &mut Option<PathBuf>,
    pid_file: &mut Option<PathBuf>,
    console_socket: &mut Option<PathBuf>,
    terminal: bool,
) {
    let Some(this) = this else {
        return;
    };
    if let Some(copy) = this.copy() {
        *bundle = Some(copy.clone());
    }
    *pid_file = Some(match pid_file.take() {
        Some(p) => PathBuf::from(crate::runtime::absolute(&p)),
        None => this.dir().join(layout::PID_FILE),
    });
    // A terminal without a socket of the user's: the shim holds it.
    if terminal && console_socket.is_none() {
        *console_socket = Some(PathBuf::from(CONSOLE_PLACEHOLDER));
    }
}

/// Claim, build the job, start the shim, and wait for its report.
fn start(
    runtime: &Runtime,
    id: &ContainerId,
    monitor: &MonitorOpts,
    build: impl FnOnce(Option<&Claim>, bool) -> (Args, PathBuf),
) -> Result<Monitored> {
    let Some(mut claim) = Claim::new(runtime, id)? else {
        return unclaimed(runtime, id, build);
    };
    let result = (|| {
        if let Some(copy) = &monitor.bundle_copy {
            claim.write_copy(copy)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        claim.remove();
        return Err(e);
    }
    let (mut args, pid_file) = build(Some(&claim), monitor.terminal);
    args.arg(id);
    let args = args.into_vec();
    // (Made absolute on the way into the args.)
    let console_socket_at = args
        .iter()
        .position(|a| Path::new(a).file_name() == Some(CONSOLE_PLACEHOLDER.as_ref()));
    let preserve_fds = preserve_fds_of(&args);
    // Checked again here: the shim's own fds must never reach the container.
    if let Err(e) = crate::runtime::check_preserved_fds(Some(preserve_fds)) {
        claim.remove();
        return Err(e);
    }
    let console = console_socket_at.is_some();
    let max_size = monitor.log_max_size.unwrap_or(DEFAULT_MAX_SIZE);
    let output = match (&monitor.log_output, console) {
        (Some(file), true) => Output::PtyToFile(PathBuf::from(crate::runtime::absolute(file))),
        (None, true) => Output::Pty { max_size },
        (Some(file), false) => Output::File(PathBuf::from(crate::runtime::absolute(file))),
        (None, false) if monitor.capture => Output::Capture { max_size },
        (None, false) => Output::Inherit,
    };
    let job = Job {
        runtime: runtime.clone(),
        id: id.to_string(),
        args,
        console_socket_at,
        pid_file,
        output,
        winsize: monitor.winsize,
        preserve_fds,
        debug_log: runtime.debug,
    };
    let program = match &monitor.program {
        Some(p) => p.clone(),
        None => match std::env::current_exe() {
            Ok(p) => p,
            Err(e) => {
                claim.remove();
                return Err(Error::io("cannot find ocictl's own executable", e));
            }
        },
    };
    let report = spawn_and_wait(&program, runtime, &job, &claim);
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            // No report: the shim died (or never started). The directory
            // is still ours while we hold its lock.
            if claim.still_ours() {
                claim.remove();
            }
            return Err(e);
        }
    };
    if matches!(report, Report::Up { .. }) {
        // The shim holds the lock now (the same open file): closing ours
        // leaves it held.
        drop(claim);
    } else if claim.still_ours() {
        // The shim removes the directory when it fails; one that failed
        // before it could (a bad job) leaves it to us. `still_ours`: never
        // a directory someone claimed again meanwhile.
        claim.remove();
    } else {
        // The base goes with its last container.
        let base = claim.base().path().to_path_buf();
        drop(claim);
        let _ = std::fs::remove_dir(&base);
    }
    match report {
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
        Report::Failed(e) => Err(e.into_error()),
        Report::Aborted => Err(interrupted(runtime, &job)),
    }
}

/// The ID is taken: run the runtime as the user asked, without a shim, so
/// it refuses in its own words (or, should it succeed, the container runs
/// unmonitored, with a warning).
fn unclaimed(
    runtime: &Runtime,
    id: &ContainerId,
    build: impl FnOnce(Option<&Claim>, bool) -> (Args, PathBuf),
) -> Result<Monitored> {
    let (mut args, _) = build(None, false);
    args.arg(id);
    let argv = runtime.argv(args.clone());
    match runtime.run_inherited(args)? {
        status if status.success() => Ok(Monitored {
            monitor_pid: None,
            init_pid: None,
            warning: Some(format!(
                "ocictl's state for ID {id} is in use (another shim holds it): the container \
                 is not monitored (no exit status, attach or logs)"
            )),
        }),
        status => Err(runtime
            .flavor_hint()
            .failure(argv, status, "", String::new())),
    }
}

/// The `--preserve-fds` value in a subcommand's args.
fn preserve_fds_of(args: &[std::ffi::OsString]) -> u32 {
    args.windows(2)
        .find(|w| w[0] == "--preserve-fds")
        .and_then(|w| w[1].to_str()?.parse().ok())
        .unwrap_or(0)
}

/// The caller was interrupted before the container was up.
fn interrupted(runtime: &Runtime, job: &Job) -> Error {
    let sig = LAST_SIGNAL.load(std::sync::atomic::Ordering::SeqCst);
    let mut args = Args::default();
    for a in &job.args {
        args.arg(a);
    }
    Error::Failed {
        argv: runtime.argv(args),
        status: Termination::Signaled(if sig > 0 { sig } else { libc::SIGINT }),
        kind: crate::runtime::ErrorKind::Other,
        message: "interrupted before the container was up: the runtime was stopped and \
                  nothing was created"
            .into(),
        stderr: String::new(),
    }
}

static LAST_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Start the shim (double fork, own session), hand it the job and the
/// directory's fds, and read its report, asking it to abort on a signal.
fn spawn_and_wait(program: &Path, runtime: &Runtime, job: &Job, claim: &Claim) -> Result<Report> {
    let signals =
        crate::tty::signals().map_err(|e| Error::io("installing the signal handlers", e))?;
    let (ours, theirs) =
        UnixStream::pair().map_err(|e| Error::io("cannot create the shim's socket", e))?;
    // The shim's socket goes just above the preserved fds, so it is never
    // one of them.
    let target = 3 + job.preserve_fds as RawFd;
    let source = theirs.as_raw_fd();
    let mut cmd = Command::new(program);
    cmd.arg(SHIM_SUBCOMMAND)
        .arg("--id")
        .arg(&job.id)
        .arg("--root")
        .arg(layout::root_path(runtime))
        .arg("--fd")
        .arg(target.to_string());
    // SAFETY: only async-signal-safe calls (dup2, fcntl, setsid, fork,
    // _exit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if source == target {
                let flags = libc::fcntl(target, libc::F_GETFD);
                if flags < 0 || libc::fcntl(target, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(source, target) < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            match libc::fork() {
                -1 => Err(io::Error::last_os_error()),
                0 => Ok(()),
                _ => libc::_exit(0),
            }
        });
    }
    let argv = Argv(vec![program.as_os_str().to_owned(), SHIM_SUBCOMMAND.into()]);
    let mut middle = cmd.spawn().map_err(|source| Error::Spawn {
        argv: argv.clone(),
        source,
    })?;
    let _ = middle.wait();
    drop(theirs);
    let fds = [
        claim.dir().as_fd().as_raw_fd(),
        claim.base().as_fd().as_raw_fd(),
        claim.lock().as_raw_fd(),
    ];
    protocol::send(&ours, job, &fds)
        .map_err(|e| Error::io("cannot hand the job to the shim", e))?;
    let mut ours = ours;
    let mut aborted = false;
    loop {
        let mut fds = [
            PollFd::new(ours.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::io("waiting for the shim", e.into())),
        }
        let report_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let signalled = fds[1].revents().is_some_and(|r| !r.is_empty());
        if signalled {
            signals.drain();
            if let Some(sig) = signals.take_any(crate::tty::STOP_SIGNALS.iter().copied()) {
                LAST_SIGNAL.store(sig, std::sync::atomic::Ordering::SeqCst);
                if !aborted {
                    aborted = true;
                    let _ = io::Write::write_all(&mut ours, &[ABORT]);
                }
            }
        }
        if report_ready {
            return match protocol::receive::<Report>(&mut ours, 0) {
                Ok((report, _)) => {
                    if !matches!(report, Report::Up { .. }) {
                        await_exit(&ours);
                    }
                    Ok(report)
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Error::Invalid(
                    "the shim exited without reporting whether the container started \
                     (`ocictl state ID` tells; --no-monitor runs the runtime directly)"
                        .into(),
                )),
                Err(e) => Err(Error::io("cannot read the shim's report", e)),
            };
        }
    }
}

/// A shim that reported a failure exits at once: wait (at most 2 s) for
/// its end of the socket to close, so the command returns with nothing of
/// the failed container left behind, its shim included.
fn await_exit(stream: &UnixStream) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut buf = [0u8; 64];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        if ms == 0 {
            return;
        }
        let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => return,
            Ok(_) => match nix::sys::socket::recv(
                stream.as_raw_fd(),
                &mut buf,
                nix::sys::socket::MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(0) => return,
                Ok(_) | Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return,
            },
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// Whether the container in a checkpoint image had a terminal: CRIU
/// writes `tty-info.img` only when the dumped processes held a terminal
/// (runc's `descriptors.json` says `/dev/null` for a console's stdio, so
/// it cannot tell). Restoring such an image needs a terminal again,
/// whatever the bundle's config says. (A container that opened ptys of
/// its own, an sshd, looks the same; its restore gets a terminal it does
/// not use.)
pub fn checkpoint_had_terminal(image: &Path) -> bool {
    std::fs::symlink_metadata(image.join("tty-info.img")).is_ok_and(|m| m.is_file() && m.len() > 0)
}

/// `restore --detach` under a shim (`restore -d` gets one like `run -d`).
/// A checkpoint of a terminal container is restored with the shim holding
/// its pty (unless a `--console-socket` was given); when the user's bundle
/// has no terminal (it ran with `-t`), the shim gets a terminal copy of it
/// in the container's state directory, as `run -d -t` did.
pub fn restore_detached(
    runtime: &Runtime,
    id: &ContainerId,
    opts: &RestoreOpts,
    monitor: &MonitorOpts,
    image: &Path,
) -> Result<Monitored> {
    let bundle = opts.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
    let bundle_terminal = crate::bundle::Bundle::load(&bundle)
        .map(|b| b.wants_terminal())
        .unwrap_or(false);
    let image_terminal = checkpoint_had_terminal(image);
    let mut monitor = monitor.clone();
    monitor.terminal = bundle_terminal || image_terminal;
    if image_terminal && !bundle_terminal {
        let edits = crate::bundle::ConfigEdits {
            terminal: true,
            ..Default::default()
        };
        let copy = crate::bundle::Bundle::load(&bundle)
            .and_then(|b| b.copy_with(&edits))
            .map_err(|e| Error::Invalid(e.to_string()))?;
        monitor.bundle_copy = Some(copy);
    }
    runtime.restore_monitored(id, opts, &monitor)
}
