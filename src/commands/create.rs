//! `ocictl create`: create a container from a bundle, ready for `start`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ocictl::bundle::Bundle;
use ocictl::runtime::{ContainerId, CreateOpts};
use ocictl::shim::client::{MonitorOpts, Monitored};

use super::overrides::OverrideArgs;
use super::{report_action, Context, Outcome};
use crate::cli::MonitorMode;
use crate::contract::Created;

/// Create a container from a bundle; `ocictl start` runs its process.
///
/// The container's stdio is ocictl's own, as with runc. Unless --pid-file is
/// given (see the global --monitor), a small monitor process stays with the
/// container: it records its exit status (`ocictl wait`, `state`), and for a
/// terminal container (no --console-socket) it holds the pty for `ocictl
/// attach` and `ocictl logs`. With --pid-file the caller is taken to be a
/// supervisor that reaps the container itself (containerd's shim, conmon):
/// ocictl then runs the runtime exactly as runc is run and leaves nothing
/// between the caller and the container.
///
/// The overrides (-e, -v, --memory, … and CMD after the ID, as for `run`)
/// apply to a private copy of config.json kept with the container; the
/// file itself is never edited. --print-config shows that copy.
#[derive(Debug, Args)]
pub struct Create {
    #[command(flatten)]
    pub bundle: BundleArgs,

    #[command(flatten)]
    pub monitor: MonitorArgs,

    /// Give the process a terminal, whatever config.json says (the file is
    /// not edited: the runtime gets a copy that lives as long as the
    /// container). ocictl's monitor holds it for `ocictl attach`, as with
    /// `run -d -t`.
    #[arg(short, long)]
    pub tty: bool,

    /// The new container's ID (letters, digits, `_ + - .`).
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,

    #[command(flatten)]
    pub overrides: OverrideArgs,
}

/// The options `create` and `run` share.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The bundle directory (holds config.json and the rootfs).
    #[arg(short, long, default_value = ".", value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub bundle: PathBuf,

    /// A unix socket that receives the pty master of a terminal container
    /// (listen on it with `ocictl console` or runc's recvtty). Without it,
    /// ocictl's monitor holds a detached container's terminal.
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub console_socket: Option<PathBuf>,

    /// Write the container process's pid to this file.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub pid_file: Option<PathBuf>,

    /// Do not use pivot_root to jail the process inside its rootfs.
    #[arg(long)]
    pub no_pivot: bool,

    /// Do not create a new session keyring for the container.
    #[arg(long)]
    pub no_new_keyring: bool,

    /// Pass N extra file descriptors (3 … 3+N-1) on to the container.
    #[arg(long, value_name = "N")]
    pub preserve_fds: Option<u32>,
}

impl BundleArgs {
    /// Check the bundle (and the fds to preserve) before the runtime sees
    /// them, for a clearer error.
    pub fn load(&self) -> anyhow::Result<Bundle> {
        ocictl::runtime::check_preserved_fds(self.preserve_fds)?;
        Ok(Bundle::load(&self.bundle)?)
    }

    pub fn create_opts(&self) -> CreateOpts {
        CreateOpts {
            bundle: Some(self.bundle.clone()),
            console_socket: self.console_socket.clone(),
            pid_file: self.pid_file.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
        }
    }

    /// A detached terminal container without a monitor needs someone to
    /// receive its pty master: `terminal` says whether this container's
    /// process has one.
    fn check_terminal(&self, terminal: bool, why: Unmonitored) -> anyhow::Result<()> {
        if terminal && self.console_socket.is_none() {
            return Err(crate::report::UsageError(format!(
                "the container's process wants a terminal (process.terminal in {}/config.json, \
                 or -t), and a detached container without ocictl's monitor needs someone to \
                 hold it: start `ocictl console SOCKET` (or runc's recvtty) and pass \
                 --console-socket SOCKET, or run it in the foreground with `ocictl run -t` \
                 ({})",
                self.bundle.display(),
                why.remedy()
            ))
            .into());
        }
        Ok(())
    }
}

/// The monitor's options, shared by `create` and `run`.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Start no monitor (the same as the global `--monitor never`): run the
    /// runtime exactly as runc would be run (the same argv), and keep no
    /// exit status, terminal or output. A detached terminal container then
    /// needs --console-socket.
    #[arg(long)]
    pub no_monitor: bool,

    /// Append the container's stdout and stderr to FILE (for `ocictl logs`)
    /// instead of giving it ocictl's own stdio; for a terminal container,
    /// log the pty's output there instead of in ocictl's state directory.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub log_output: Option<PathBuf>,

    /// Keep a non-terminal container's stdout and stderr in ocictl's own
    /// rotated log, each line with the time it was read (for `ocictl logs`,
    /// -t, --since), instead of passing ocictl's stdio through to it as
    /// runc does; its stdin is /dev/null. A terminal's output is always
    /// logged so.
    #[arg(long, conflicts_with = "log_output")]
    pub capture: bool,

    /// ocictl's own log of a container (a terminal's, or --capture's
    /// console.log in its state directory) is rotated at this size, keeping
    /// one previous file: at most twice this is kept, the lines' times
    /// included (e.g. 4M, 16M; at least 4K).
    #[arg(long, value_name = "SIZE", default_value = "4M", value_parser = parse_log_size)]
    pub log_max_size: u64,
}

fn parse_log_size(s: &str) -> Result<u64, String> {
    let n = ocictl::size::parse_size(s).map_err(|e| e.to_string())?;
    let min = ocictl::shim::console_log::MIN_MAX_SIZE;
    match u64::try_from(n) {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!(
            "{s:?} is too small for a log: give at least {}K",
            min >> 10
        )),
    }
}

/// Why a detached container gets no monitor, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmonitored {
    /// `--no-monitor` or `--monitor never`.
    Refused,
    /// `--pid-file` under `--monitor auto`: a supervisor reaps it.
    Supervised,
}

impl Unmonitored {
    /// What to change to get the monitor after all.
    fn remedy(self) -> &'static str {
        match self {
            Unmonitored::Refused => "drop --no-monitor / --monitor never",
            Unmonitored::Supervised => {
                "a caller that passes --pid-file reaps the container itself and gets no \
                 monitor; add --monitor always to have one anyway"
            }
        }
    }
}

impl MonitorArgs {
    /// The first flag given that only a detached container's monitor serves.
    pub fn detached_only_flag(&self) -> Option<&'static str> {
        [
            (self.log_output.is_some(), "--log-output"),
            (self.capture, "--capture"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }

    /// The rule (see the global `--monitor`): whether a detached container
    /// gets a monitor, or why not.
    pub fn decide(&self, mode: MonitorMode, pid_file: bool) -> Result<(), Unmonitored> {
        match mode {
            _ if self.no_monitor => Err(Unmonitored::Refused),
            MonitorMode::Never => Err(Unmonitored::Refused),
            MonitorMode::Always => Ok(()),
            MonitorMode::Auto if pid_file => Err(Unmonitored::Supervised),
            MonitorMode::Auto => Ok(()),
        }
    }

    /// The monitor's options for a detached container whose process has a
    /// terminal or not, `None` when it gets no monitor; a usage error for
    /// --log-output without one.
    pub fn opts(
        &self,
        ctx: &Context,
        bundle: &BundleArgs,
        terminal: bool,
    ) -> anyhow::Result<Option<MonitorOpts>> {
        if let Err(why) = self.decide(ctx.monitor, bundle.pid_file.is_some()) {
            if let Some(flag) = self.detached_only_flag() {
                return Err(crate::report::UsageError(format!(
                    "{flag} needs ocictl's monitor: {}",
                    why.remedy()
                ))
                .into());
            }
            bundle.check_terminal(terminal, why)?;
            return Ok(None);
        }
        let winsize = ocictl::tty::controlling_stdio()
            .and_then(ocictl::tty::window_size)
            .map(|w| (w.ws_row, w.ws_col));
        Ok(Some(MonitorOpts {
            terminal,
            log_output: self.log_output.clone(),
            capture: self.capture && !terminal,
            log_max_size: Some(self.log_max_size),
            winsize: winsize.filter(|_| terminal),
            ..MonitorOpts::default()
        }))
    }
}

/// A container started under a monitor: a warning on stderr if it is not
/// monitored after all; the monitor's pid, for the JSON result.
pub fn monitor_pid(id: &ContainerId, started: Monitored) -> Option<i32> {
    if let Some(warning) = &started.warning {
        eprintln!("ocictl: warning: container {id}: {warning}");
    }
    started.monitor_pid
}

fn created(id: &ContainerId, monitor_pid: Option<i32>, overrides: Vec<String>) -> Created {
    Created {
        id: id.to_string(),
        action: "create".into(),
        monitor_pid,
        overrides,
    }
}

impl Create {
    pub fn run(self, ctx: &Context) -> Outcome {
        let fail = || format!("cannot create container {}", self.id);
        let bundle = self.bundle.load().with_context(fail)?;
        // `-t` on a bundle without a terminal, or overrides: the runtime
        // gets a private copy, kept in the container's state directory.
        let copy = self.overrides.copy(&bundle, self.tty).with_context(fail)?;
        let terminal = self.tty || bundle.wants_terminal();
        let monitor = self
            .monitor
            .opts(ctx, &self.bundle, terminal)
            .with_context(fail)?;
        if monitor.is_none() && copy.as_ref().is_some_and(|c| c.terminal) {
            return Err(crate::report::UsageError(
                "create -t needs ocictl's monitor, which holds the terminal and its copy of \
                 the bundle: use `--monitor always` (or set process.terminal in config.json \
                 and pass --console-socket)"
                    .into(),
            )
            .into());
        }
        if self.overrides.print_config {
            return OverrideArgs::print_config(&bundle, copy.as_ref());
        }
        let applied = copy
            .as_ref()
            .map(|c| c.overrides.clone())
            .unwrap_or_default();
        let Some(mut monitor) = monitor else {
            let opts = self.bundle.create_opts();
            match &copy {
                None => ctx.runc.create(&self.id, &opts),
                Some(copy) => ocictl::run::with_kept_copy(&ctx.runc, &self.id, copy, |path| {
                    let mut opts = opts.clone();
                    if let Some(path) = path {
                        opts.bundle = Some(path);
                    }
                    ctx.runc.create(&self.id, &opts)
                }),
            }
            .with_context(fail)?;
            return report_action(ctx, &created(&self.id, None, applied));
        };
        monitor.bundle_copy = copy;
        let started = ctx
            .runc
            .create_monitored(&self.id, &self.bundle.create_opts(), &monitor)
            .with_context(fail)?;
        let monitor_pid = monitor_pid(&self.id, started);
        report_action(ctx, &created(&self.id, monitor_pid, applied))
    }
}
