//! Foreground processes with a terminal: `run -t`, `exec -t`, foreground
//! `restore` of a terminal checkpoint. One entry point,
//! [`Runtime::run_with_terminal`], serves them all.
//!
//! runc hands a pty master only to a console socket, and only when it
//! detaches (in the foreground it relays its own pty and ignores the
//! socket). So ocictl does what containerd's shim does: it becomes a child
//! subreaper, runs the subcommand with `--detach --console-socket S
//! --pid-file P`, receives the master, and when runc has exited the
//! container's process is re-parented to ocictl, which relays the terminal,
//! forwards signals to that process, and reaps it for its exit status.

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal as NixSignal};

use nix::unistd::Pid;

use super::argv::{absolute, Args};
use super::console::{ConsoleSocket, NoConsole};
use super::error::{Error, Result, Termination};
use super::{process, reap, ContainerId, DeleteOpts, RunOpts, Runtime};
use crate::tty::{self, Control, RawMode, Relay, SignalPipe, Sink};

/// Options of [`Runtime::run_with_terminal`].
#[derive(Debug, Clone, Default)]
pub struct TerminalOpts {
    /// The user's `--pid-file`: handed to the runtime (and read back)
    /// instead of a private one.
    pub pid_file: Option<PathBuf>,
}

impl Runtime {
    /// `runc run` in the foreground with a terminal, as runc itself does
    /// it: the container's exit status, and the container deleted
    /// afterwards unless `opts.keep`. `opts.detach` and
    /// `opts.create.console_socket` must be unset (use [`Runtime::run`]).
    pub fn run_terminal(&self, id: &ContainerId, opts: &RunOpts) -> Result<Termination> {
        if opts.detach || opts.create.console_socket.is_some() {
            return Err(Error::Invalid(
                "a foreground terminal run takes no --detach or --console-socket".into(),
            ));
        }
        let mut args = Args::subcommand("run");
        let mut create = opts.create.clone();
        let pid_file = create.pid_file.take();
        // ocictl deletes the container itself (runc's --keep is for the
        // foreground only).
        RunOpts {
            create,
            keep: false,
            ..opts.clone()
        }
        .push_args(&mut args);
        args.arg(id);
        let result = self.run_with_terminal(args, &TerminalOpts { pid_file });
        if !opts.keep {
            // As `runc run` does; nothing to delete when it failed to start.
            if let Err(e) = self.delete(id, &DeleteOpts { force: true }) {
                tracing::debug!(error = %e, "deleting after the run");
            }
        }
        result
    }

    /// Run a runtime subcommand that starts a process with a terminal —
    /// `run`, `exec` (with `--tty`) or `restore` — in the foreground:
    /// receive its pty master, relay ocictl's stdin/stdout to it (raw mode
    /// when stdin is a terminal, window size now and on SIGWINCH), pass on
    /// INT, TERM, HUP, QUIT, USR1 and USR2 to the process, and return the
    /// process's own termination once it exited and its output was passed on.
    ///
    /// `args` is the subcommand as for any other call (e.g.
    /// `Args::subcommand("exec")` + `--tty` + options + ID + command) but
    /// WITHOUT `--detach`, `--console-socket` or `--pid-file`: this adds
    /// `--console-socket <private socket> --detach --pid-file <file>` right
    /// after the subcommand's name. The user's pid file goes in `opts`.
    ///
    /// The terminal is restored on every path (a panic included) before
    /// this returns. It does not delete the container afterwards: `run`
    /// does that itself unless `--keep`. Errors: the runtime's own
    /// ([`Error::Failed`], with its message) when it fails or exits without
    /// handing over a terminal; I/O errors of the relay, after which the
    /// process is killed (SIGKILL), since no one could reach it any more.
    pub fn run_with_terminal(&self, args: Args, opts: &TerminalOpts) -> Result<Termination> {
        let signals = tty::signals().map_err(|e| Error::io("installing the signal handlers", e))?;
        let socket = ConsoleSocket::temp()?;
        let pid_file = match &opts.pid_file {
            Some(p) => PathBuf::from(absolute(p)),
            None => socket.dir().unwrap_or(std::path::Path::new("")).join("pid"),
        };
        let mut words = args.into_vec().into_iter();
        let mut full = Args::default();
        if let Some(sub) = words.next() {
            full.arg(sub);
        }
        full.path("console-socket", Some(socket.path()))
            .flag("detach", true)
            .path("pid-file", Some(&pid_file));
        for w in words {
            full.arg(w);
        }

        // `--debug` with no log of the user's: runc's own log lines go to
        // stderr as runc prints them (its default), not to a private log.
        let debug_to_stderr = self.debug && self.log.is_none();
        let mut private_log = match self.log {
            None if !debug_to_stderr => Some(process::PrivateLog::new()?),
            _ => None,
        };
        let log_path = private_log.as_ref().map(process::PrivateLog::path);
        let _subreaper = Subreaper::enable()?;
        signals.clear(&[libc::SIGCHLD]);
        // runc's stderr is ocictl's, as in a foreground `runc run -t`: its
        // own error line ("runc run failed: …", which scripts match) and,
        // with --debug, its debug lines reach the caller as runc prints
        // them. Its own process group keeps a Ctrl-C typed during start-up
        // from killing it behind ocictl's back (ocictl passes signals on
        // itself).
        let process::Launched { mut child, argv } =
            self.launch(full, log_path.as_deref(), |cmd| {
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .process_group(0);
            })?;
        let stderr_pass = child
            .stderr
            .take()
            .map(|pipe| process::StderrPass::start(pipe, None));
        let mut session = Session {
            runc: Pid::from_raw(child.id() as i32),
            runc_status: None,
            pid_file,
            process: None,
            status: None,
            held: Vec::new(),
            held_since: None,
        };
        // Reaped by `session`, with waitpid.
        drop(child);

        let outcome = self.attach(&socket, signals, &mut session);
        if outcome.is_err() {
            session.abandon(signals);
        }
        drop(socket);
        if let Some(passed) = stderr_pass {
            passed.finish();
        }
        let runtime_failed = session.runc_status.filter(|s| !s.success());
        if let Some(status) = runtime_failed {
            return Err(process::detached_failure(
                self.flavor_hint(),
                argv,
                status,
                private_log.as_mut(),
                None,
            ));
        }
        outcome
    }

    /// Receive the console, relay it and wait for the process.
    fn attach(
        &self,
        socket: &ConsoleSocket,
        signals: &SignalPipe,
        session: &mut Session,
    ) -> Result<Termination> {
        let mut poll_error = None;
        let accepted = socket.accept(signals, None, || match session.update(signals) {
            Ok(()) => session.runc_status.is_some(),
            Err(e) => {
                poll_error = Some(e);
                true
            }
        })?;
        if let Some(e) = poll_error {
            return Err(e);
        }
        let console = match accepted {
            Ok(console) => console,
            Err(NoConsole::GaveUp | NoConsole::TimedOut) => {
                return Err(Error::Invalid(
                    "the runtime exited without handing over a terminal: the process does not \
                     ask for one (process.terminal, or --tty for exec)"
                        .into(),
                ))
            }
        };
        tracing::debug!(pty = %console.name, "received the pty master");
        tty::clear_onlcr(console.master.as_fd())
            .map_err(|e| Error::io("cannot clear ONLCR on the pty", e))?;

        // SAFETY: the standard fds stay open for the life of the process.
        let stdin = unsafe { BorrowedFd::borrow_raw(0) };
        let stdout = unsafe { BorrowedFd::borrow_raw(1) };
        let relay = Relay {
            input: Some(stdin),
            output: Sink::Fd(stdout),
            size_from: tty::controlling_stdio(),
            eof_to_pty: true,
        };
        let relayed = {
            let _raw = RawMode::enter(stdin)
                .map_err(|e| Error::io("cannot put the terminal (stdin) in raw mode", e))?;
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut started = false;
                relay.run(console.master.as_fd(), signals, || {
                    session.update(signals).map_err(std::io::Error::other)?;
                    if !started && session.runc_status.is_some_and(Termination::success) {
                        // A restore is complete only now: CRIU set the
                        // checkpointed pty's size after the master came.
                        started = true;
                        if let Some(ws) = relay.size_from.and_then(tty::window_size) {
                            let _ = tty::set_window_size(console.master.as_fd(), &ws);
                        }
                    }
                    Ok(session.control())
                })
            }))
            // `_raw` restores the terminal here, on every path.
        };
        match relayed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::io("relaying the terminal", e)),
            Err(panic) => {
                session.abandon(signals);
                std::panic::resume_unwind(panic);
            }
        }
        drop(console);
        // The pty may close before the exit is reaped (or the process may
        // close its terminal and keep running): wait for the end.
        while session.control() == Control::Continue {
            let mut fds = [nix::poll::PollFd::new(
                signals.fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u8));
            signals.drain();
            session.update(signals)?;
        }
        match (session.runc_status, session.status) {
            (Some(s), _) if !s.success() => Err(Error::Invalid(format!("runtime ended with {s}"))),
            (_, Some(status)) => Ok(status),
            _ => Err(Error::Invalid("the process's end was not seen".into())),
        }
    }
}

/// Makes ocictl a child subreaper while a terminal session runs, so the
/// container's process becomes its child when the detached runtime exits.
struct Subreaper {
    previous: bool,
}

impl Subreaper {
    fn enable() -> Result<Subreaper> {
        use nix::sys::prctl;
        let previous = prctl::get_child_subreaper().unwrap_or(false);
        prctl::set_child_subreaper(true)
            .map_err(|e| Error::io("cannot become a child subreaper", e.into()))?;
        Ok(Subreaper { previous })
    }
}

impl Drop for Subreaper {
    fn drop(&mut self) {
        let _ = nix::sys::prctl::set_child_subreaper(self.previous);
    }
}

/// The runtime child, then the container's process once runc has exited.
struct Session {
    runc: Pid,
    runc_status: Option<Termination>,
    pid_file: PathBuf,
    process: Option<Pid>,
    status: Option<Termination>,
    /// Signals that came before the process's pid was known, for it.
    held: Vec<NixSignal>,
    held_since: Option<std::time::Instant>,
}

/// How long a runtime that is still starting gets to exit on its own when
/// ocictl gives up on its terminal (see [`Session::abandon`]).
const RUNTIME_EXIT_GRACE: Duration = Duration::from_secs(5);

/// How long signals wait for the process's pid before the runtime (which
/// may be stuck starting it) gets them instead.
const HOLD_FOR_PROCESS: Duration = Duration::from_secs(1);

impl Session {
    /// Reap what ended, learn the process's pid once runc has written it,
    /// and pass on the signals ocictl received.
    fn update(&mut self, signals: &SignalPipe) -> Result<()> {
        if self.process.is_none() {
            // runc writes the pid file once the process runs, a moment
            // before it exits itself: learn the pid as soon as it is there,
            // so a signal in between reaches the process, not runc.
            if let Ok(pid) = super::read_pid_file(&self.pid_file) {
                self.process = Some(Pid::from_raw(pid));
            }
        }
        if self.runc_status.is_none() {
            match reap::try_wait(self.runc) {
                Ok(Some(t)) => {
                    self.runc_status = Some(t);
                    if t.success() && self.process.is_none() {
                        self.process = Some(Pid::from_raw(super::read_pid_file(&self.pid_file)?));
                    }
                }
                Ok(None) => {}
                Err(e) => return Err(Error::io("waiting for the runtime", e.into())),
            }
        }
        // The process is ocictl's child (subreaper) once runc has exited;
        // before that, waitpid(-1) could take runc's own status.
        if let (Some(pid), None, Some(_)) = (self.process, self.status, self.runc_status) {
            // Reap it, and any orphan of the runtime that ended up here too.
            match reap::reap_ready(pid) {
                Ok(found) => self.status = found,
                Err(Errno::ECHILD) => {
                    return Err(Error::Invalid(format!(
                        "cannot wait for the container's process {pid}: it is not a child \
                         of ocictl (is ocictl in a pid namespace of its own?)"
                    )))
                }
                Err(e) => return Err(Error::io("waiting for the process", e.into())),
            }
        }
        while let Some(sig) = signals.take_any(tty::forwarded_signals()) {
            let Ok(sig) = NixSignal::try_from(sig) else {
                continue;
            };
            match (self.process, self.status, self.runc_status) {
                (Some(pid), None, _) => {
                    tracing::debug!(signal = %sig, %pid, "passing on a signal");
                    let _ = kill(pid, sig);
                }
                (None, _, None) => {
                    // Not started yet: the signal is for the process.
                    self.held.push(sig);
                    self.held_since.get_or_insert_with(std::time::Instant::now);
                }
                _ => {}
            }
        }
        if !self.held.is_empty() {
            let target = match (self.process, self.status, self.runc_status) {
                (Some(pid), None, _) => Some(pid),
                (None, _, None)
                    if self
                        .held_since
                        .is_some_and(|t| t.elapsed() >= HOLD_FOR_PROCESS) =>
                {
                    Some(self.runc)
                }
                (None, _, None) => None,
                // Nothing is left to signal.
                _ => {
                    self.held.clear();
                    None
                }
            };
            if let Some(pid) = target {
                for sig in self.held.drain(..) {
                    tracing::debug!(signal = %sig, %pid, "passing on a held signal");
                    let _ = kill(pid, sig);
                }
                self.held_since = None;
            }
        }
        Ok(())
    }

    fn control(&self) -> Control {
        match (self.runc_status, self.status) {
            (Some(s), _) if !s.success() => Control::Stop,
            (_, Some(_)) => Control::Drain,
            _ => Control::Continue,
        }
    }

    /// After a failure of ocictl's own: nobody could reach the process any
    /// more, so kill it (and a runtime still starting) and reap them.
    fn abandon(&mut self, signals: &SignalPipe) {
        // A runtime still starting may be failing (it connects to the
        // console socket before the container's init runs, and closes the
        // connection when init fails): let it exit and log its own error
        // rather than kill it mid-sentence.
        let deadline = std::time::Instant::now() + RUNTIME_EXIT_GRACE;
        while self.process.is_none()
            && self.runc_status.is_none()
            && std::time::Instant::now() < deadline
        {
            if self.update(signals).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for _ in 0..50 {
            let _ = self.update(signals);
            let target = match (self.process, self.status, self.runc_status) {
                (Some(pid), None, _) => Some(pid),
                (None, _, None) => Some(self.runc),
                _ => None,
            };
            match target {
                Some(pid) => {
                    let _ = kill(pid, NixSignal::SIGKILL);
                }
                None => return,
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
