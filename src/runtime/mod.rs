//! The runtime driver: go-runc's counterpart, for runc, crun and youki.
//! [`Runtime`] holds the global options, builds each operation's argv, starts
//! every runtime process through [`Runtime::launch`] (the one launch path),
//! reaps through [`reap`], and parses what the runtime returns. It never
//! prints and knows no flag of ocictl's; callers render its typed results.

mod argv;
mod bounded_output;
mod checkpoint;
pub mod console;
pub mod criu;
pub mod error;
pub mod events;
mod exec;
mod exec_process;
pub mod flavor;
mod id;
pub mod log;
mod opts;
mod pidfile;
pub mod process;
pub mod reap;
pub mod stats;
mod terminal;
mod top;
pub mod types;
mod update;
mod validate;
pub mod youki;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use argv::{absolute, Args};
pub use checkpoint::{CheckpointAction, CheckpointOpts, CriuOpts, ManageCgroupsMode, RestoreOpts};
pub use console::{Console, ConsoleSocket, NoConsole};
pub use error::{Argv, Error, ErrorKind, Result, Termination};
pub use id::{ContainerId, InvalidId};
pub use opts::{check_preserved_fds, CreateOpts, DeleteOpts, KillOpts, RunOpts};
pub use pidfile::{parse_pid, read_pid_file};
pub use terminal::TerminalOpts;
pub use types::{parse_pids, Container, Status, Version};
pub use validate::{decode_document, Decoded};

pub use events::{Event, EventReader, EventStream, StreamEnd};
pub use exec::{load_process_file, parse_process, read_process_file, ExecOpts, ExecProcess};
pub use flavor::{Feature, Flavor};
pub use stats::{cpu_percent, Stats};
pub use top::{parse_ps_output, TopResults};
pub use update::{parse_resources, ResourceFlags, UpdateOpts};

use crate::signal::Signal;

/// runc's global flags that take a value, for telling them from the
/// subcommand when reading an argv back.
pub(crate) const GLOBAL_FLAGS_WITH_VALUE: &[&str] =
    &["root", "log", "log-format", "criu", "rootless"];

/// The format of the runtime's own log (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LogFormat {
    Text,
    Json,
}

/// A runtime and the global options every invocation gets, in go-runc's
/// order: `--root --debug --log --log-format --systemd-cgroup --rootless=
/// --criu`, then `extra_args`, then the subcommand.
///
/// Serialisable: the shim gets the caller's options this way.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Runtime {
    /// The runtime binary: a name looked up on PATH, or a path.
    pub binary: PathBuf,
    pub root: Option<PathBuf>,
    pub debug: bool,
    pub log: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    pub systemd_cgroup: bool,
    /// `None` lets the runtime decide (runc's "auto").
    pub rootless: Option<bool>,
    pub criu: Option<PathBuf>,
    /// Signal the runtime child gets when ocictl dies (PR_SET_PDEATHSIG).
    #[serde(with = "signal_number")]
    pub pdeath_signal: Option<Signal>,
    /// Start the runtime in its own process group.
    pub setpgid: bool,
    /// Working directory of the runtime process.
    pub cwd: Option<PathBuf>,
    /// Extra global arguments, placed before the subcommand.
    pub extra_args: Vec<OsString>,
    /// Kill a runtime call that owes a prompt answer (state, list, kill…)
    /// after this long.
    pub timeout: Option<Duration>,
}

/// A signal as its number, for [`Runtime`]'s serialised form.
mod signal_number {
    use crate::signal::Signal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(s: &Option<Signal>, ser: S) -> Result<S::Ok, S::Error> {
        s.map(Signal::number).serialize(ser)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Signal>, D::Error> {
        Ok(Option::<i32>::deserialize(d)?.and_then(Signal::from_number))
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            binary: "runc".into(),
            root: None,
            debug: false,
            log: None,
            log_format: None,
            systemd_cgroup: false,
            rootless: None,
            criu: None,
            pdeath_signal: None,
            setpgid: false,
            cwd: None,
            extra_args: Vec::new(),
            timeout: None,
        }
    }
}

impl Runtime {
    /// The full argv for a subcommand: binary, global flags, then `args`.
    pub fn argv(&self, args: Args) -> Argv {
        self.argv_with_log(args, None)
    }

    fn argv_with_log(&self, args: Args, private_log: Option<&Path>) -> Argv {
        let mut argv: Vec<OsString> = vec![self.binary.clone().into_os_string()];
        if let Some(root) = &self.root {
            argv.push("--root".into());
            argv.push(absolute(root));
        }
        if self.debug {
            argv.push("--debug".into());
        }
        let log_format = match (&self.log, private_log) {
            (Some(log), _) => {
                argv.push("--log".into());
                argv.push(absolute(log));
                self.log_format
            }
            (None, Some(private)) => {
                argv.push("--log".into());
                argv.push(private.into());
                Some(LogFormat::Json)
            }
            (None, None) => self.log_format,
        };
        if let Some(format) = log_format {
            argv.push("--log-format".into());
            argv.push(
                match format {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }
                .into(),
            );
        }
        if self.systemd_cgroup {
            argv.push("--systemd-cgroup".into());
        }
        if let Some(rootless) = self.rootless {
            argv.push(format!("--rootless={rootless}").into());
        }
        if let Some(criu) = &self.criu {
            argv.push("--criu".into());
            argv.push(absolute(criu));
        }
        argv.extend(self.extra_args.iter().cloned());
        argv.extend(args.into_vec());
        Argv(argv)
    }

    fn command(&self, argv: &Argv) -> Command {
        tracing::debug!(argv = %argv, "running the runtime");
        let mut cmd = Command::new(&argv.0[0]);
        cmd.args(&argv.0[1..]);
        // A runtime that sees NOTIFY_SOCKET hands the container systemd's
        // notify socket: only right when systemd started ocictl for that.
        // Removed only when set: any change to the environment makes the
        // spawn copy all of it first.
        if std::env::var_os("NOTIFY_SOCKET").is_some() {
            cmd.env_remove("NOTIFY_SOCKET");
        }
        if !self.debug {
            for (k, v) in self.flavor_hint().child_env() {
                cmd.env(k, v);
            }
        }
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        if self.setpgid {
            cmd.process_group(0);
        }
        if let Some(sig) = self.pdeath_signal.map(Signal::number) {
            // SAFETY: prctl is async-signal-safe: fine between fork and exec.
            // (libc's, not nix's: real-time signals have no nix `Signal`.)
            unsafe {
                cmd.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        cmd
    }

    /// The one way a runtime process is started, whatever its stdio
    /// (captured, inherited, a terminal session, the shim): the global flags
    /// are checked against the runtime, the argv built (with `private_log`
    /// as `--log` when given), the environment and process attributes
    /// applied, then `wire` sets stdio and whatever else the caller needs.
    pub(crate) fn launch(
        &self,
        args: Args,
        private_log: Option<&Path>,
        wire: impl FnOnce(&mut Command),
    ) -> Result<process::Launched> {
        self.check_global_flags()?;
        let argv = self.argv_with_log(args, private_log);
        let mut cmd = self.command(&argv);
        wire(&mut cmd);
        let child = process::spawn(cmd, &argv, &self.binary)?;
        Ok(process::Launched { child, argv })
    }

    /// Run a subcommand that owes a prompt answer, capturing its output.
    /// Fails with the runtime's own message when it exits non-zero.
    pub fn capture(&self, args: Args, stdin: Option<&[u8]>) -> Result<process::Captured> {
        let launched = self.launch(args, None, |cmd| process::wire_captured(cmd, stdin))?;
        let argv = launched.argv.clone();
        let echo_stderr = self.debug && self.log.is_none();
        let captured = process::capture(launched, stdin, self.timeout, self.setpgid, echo_stderr)?;
        if !captured.status.success() {
            let stderr = String::from_utf8_lossy(&captured.stderr).into_owned();
            let mut message = self.flavor_hint().error_message(&stderr);
            let kind = self.flavor_hint().classify(&message, &stderr);
            if captured.stderr_cut > 0 {
                message.push_str(&bounded_output::cut_note(captured.stderr_cut));
            }
            return Err(Error::Failed {
                message,
                status: captured.status,
                kind,
                stderr,
                argv,
            });
        }
        Ok(captured)
    }

    /// Run a subcommand with ocictl's own stdio (the container inherits it,
    /// as it would from runc), forwarding signals while it runs. The
    /// runtime's error message is taken from a private log when the user
    /// asked for no log of their own. Returns how the runtime ended: for a
    /// foreground `run` or `exec`, that is the container process's status.
    pub fn run_inherited(&self, args: Args) -> Result<Termination> {
        self.run_stdio(args, false)
    }

    /// [`Runtime::run_inherited`] for a process in the foreground
    /// (`foreground`: no `--detach`). runc then copies the process's stdio
    /// through pipes of its own, so its stderr is ocictl's to pass on: the
    /// error line runc prints there is held back (the error is reported once,
    /// by ocictl, with `--format json` as one JSON object); everything else
    /// is passed on as it comes. A runtime killed by a signal is a runtime
    /// failure (runc reports a killed process as 128+N, never as its own
    /// death), so a signal is never reported as the process's.
    pub(crate) fn run_stdio(&self, args: Args, foreground: bool) -> Result<Termination> {
        let mut private_log = if self.log.is_none() && !self.debug {
            Some(process::PrivateLog::new()?)
        } else {
            None
        };
        let log_path = private_log.as_ref().map(process::PrivateLog::path);
        let filter = match private_log.as_ref() {
            Some(log) if foreground && self.flavor_hint().pipes_foreground_stdio() => {
                Some(log.reader()?)
            }
            _ => None,
        };
        let proxy = process::SignalProxy::install()?;
        let piped = filter.is_some();
        let launched = self.launch(args, log_path.as_deref(), |cmd| {
            if piped {
                cmd.stderr(std::process::Stdio::piped());
            }
        })?;
        let argv = launched.argv.clone();
        let status = proxy.run(launched, self.setpgid, filter)?;
        tracing::debug!(%status, "runtime finished");
        if foreground && matches!(status, Termination::Signaled(_)) {
            let text = private_log
                .as_mut()
                .map(|log| log.contents())
                .unwrap_or_default();
            return Err(self
                .flavor_hint()
                .failure(argv, status, &text, String::new()));
        }
        if let Some(log) = private_log.as_mut() {
            let text = log.contents();
            // A foreground container's own non-zero exit is not a runtime
            // error: runc logs an error record only when it failed itself.
            // Exit 0 is a success whatever it logged (runc logs a cgroup it
            // could not remove afterwards as an error, and still exits 0).
            let runtime_failed = !status.success()
                && text.lines().filter_map(log::parse_log_line).any(|r| {
                    r.level.eq_ignore_ascii_case("error") || r.level.eq_ignore_ascii_case("fatal")
                });
            if runtime_failed {
                return Err(self
                    .flavor_hint()
                    .failure(argv, status, &text, String::new()));
            }
        }
        Ok(status)
    }

    /// Run a subcommand that owes an answer and parse its stdout; an answer
    /// that does not parse is [`Error::BadOutput`], with what was printed.
    fn expect_parsed<T, E: std::fmt::Display>(
        &self,
        args: Args,
        what: &'static str,
        parse: impl FnOnce(&[u8]) -> std::result::Result<T, E>,
    ) -> Result<T> {
        let argv = self.argv(args.clone());
        let out = self.capture(args, None)?.stdout;
        parse(&out).map_err(|e| Error::BadOutput {
            argv,
            what,
            detail: e.to_string(),
            raw: String::from_utf8_lossy(&out).into_owned(),
        })
    }

    fn expect_json<T>(
        &self,
        args: Args,
        what: &'static str,
        parse: impl FnOnce(&[u8]) -> serde_json::Result<T>,
    ) -> Result<T> {
        self.expect_parsed(args, what, parse)
    }

    /// `runc --version`, parsed.
    pub fn version(&self) -> Result<Version> {
        // version_text has checked that it parses.
        Version::parse(&self.version_text()?).map_err(Error::Invalid)
    }

    /// `runc --version`'s text exactly as the runtime printed it (checked
    /// to name a version, as [`Runtime::version`] does).
    pub fn version_text(&self) -> Result<String> {
        let mut args = Args::default();
        args.arg("--version");
        self.expect_parsed(args, "a version", |out| {
            let text = String::from_utf8_lossy(out).into_owned();
            Version::parse(&text).map(|_| text)
        })
    }

    /// `runc state ID`.
    pub fn state(&self, id: &ContainerId) -> Result<Container> {
        let mut args = Args::subcommand("state");
        args.arg(id);
        let flavor = self.flavor_hint();
        self.expect_json(args, "a container state", |out| flavor.parse_state(out))
    }

    /// `runc list --format json` (youki: its table, each entry completed
    /// from its state).
    ///
    /// runc 1.1 reads the root's directory, then each container's state: a
    /// container deleted in between fails the whole listing with "stat
    /// ROOT/ID: no such file or directory". That is a race, not an error:
    /// the listing is taken again (found by tests/e2e/load.rs).
    pub fn list(&self) -> Result<Vec<Container>> {
        const ATTEMPTS: usize = 10;
        let mut attempt = 1;
        loop {
            match self.list_once() {
                Err(e) if attempt < ATTEMPTS && e.kind() == Some(ErrorKind::Vanished) => {
                    tracing::debug!(error = %e, attempt, "a container vanished while listing; again");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn list_once(&self) -> Result<Vec<Container>> {
        let flavor = self.flavor_hint();
        let list = self.expect_parsed(flavor.list_args(), "a container list", |out| {
            flavor.parse_list(out)
        })?;
        if !flavor.list_needs_state() {
            return Ok(list);
        }
        Ok(list
            .into_iter()
            .map(|row| {
                row.id
                    .parse()
                    .ok()
                    .and_then(|id| self.state(&id).ok())
                    .map(|mut full| {
                        full.owner = row.owner.clone();
                        full
                    })
                    .unwrap_or(row)
            })
            .collect())
    }

    /// `runc ps --format json ID`: the container's host pids.
    pub fn ps(&self, id: &ContainerId) -> Result<Vec<i32>> {
        let mut args = Args::subcommand("ps");
        args.value("format", Some("json")).arg(id);
        self.expect_json(args, "a process list", parse_pids)
    }

    /// `runc ps ID [PS-ARGS…]`: the host's `ps` table for the container.
    pub fn ps_table(&self, id: &ContainerId, ps_args: &[String]) -> Result<String> {
        let mut args = Args::subcommand("ps");
        args.arg(id);
        for a in ps_args {
            args.arg(a);
        }
        let out = self.capture(args, None)?.stdout;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// `runc create`: the container's init inherits ocictl's stdio.
    pub fn create(&self, id: &ContainerId, opts: &CreateOpts) -> Result<()> {
        let mut args = Args::subcommand("create");
        opts.push_args(&mut args);
        args.arg(id);
        self.expect_success(args)
    }

    /// `runc run`: in the foreground, returns the container's exit status.
    pub fn run(&self, id: &ContainerId, opts: &RunOpts) -> Result<Termination> {
        let mut args = Args::subcommand("run");
        opts.push_args(&mut args);
        args.arg(id);
        self.run_stdio(args, !opts.detach)
    }

    fn expect_success(&self, args: Args) -> Result<()> {
        let argv = self.argv(args.clone());
        match self.run_inherited(args)? {
            status if status.success() => Ok(()),
            status => Err(self.flavor_hint().failure(argv, status, "", String::new())),
        }
    }

    /// Run a subcommand whose only answer is its exit status.
    fn simple(&self, sub: &str, id: &ContainerId, push: impl FnOnce(&mut Args)) -> Result<()> {
        let mut args = Args::subcommand(sub);
        push(&mut args);
        args.arg(id);
        self.capture(args, None).map(drop)
    }

    pub fn start(&self, id: &ContainerId) -> Result<()> {
        self.simple("start", id, |_| {})
    }

    pub fn delete(&self, id: &ContainerId, opts: &DeleteOpts) -> Result<()> {
        self.simple("delete", id, |a| opts.push_args(a))
    }

    /// `runc kill [--all] ID SIGNAL` (the signal as a number, which every
    /// runtime accepts).
    pub fn kill(&self, id: &ContainerId, opts: &KillOpts) -> Result<()> {
        let mut args = Args::subcommand("kill");
        opts.push_args(&mut args);
        args.arg(id).arg(opts.signal.number().to_string());
        self.capture(args, None).map(drop)
    }

    pub fn pause(&self, id: &ContainerId) -> Result<()> {
        self.simple("pause", id, |_| {})
    }

    pub fn resume(&self, id: &ContainerId) -> Result<()> {
        self.simple("resume", id, |_| {})
    }

    /// `runc features`: what the runtime supports, as it reports it.
    pub fn features(&self) -> Result<serde_json::Value> {
        self.require(Feature::Features)?;
        self.expect_json(Args::subcommand("features"), "a features document", |b| {
            serde_json::from_slice(b)
        })
    }

    /// `runc spec [--bundle DIR] [--rootless]`: write a default config.json.
    pub fn spec(&self, bundle: Option<&Path>, rootless: bool) -> Result<()> {
        let mut args = Args::subcommand("spec");
        args.path("bundle", bundle).flag("rootless", rootless);
        self.capture(args, None).map(drop)
    }
}
