//! `ocictl run`: create and start a container; in the foreground, wait for
//! it and exit with its status.

use anyhow::Context as _;
use clap::Args;
use ocictl::run::RunOutcome;
use ocictl::runtime::{ContainerId, RunOpts};

use super::create::{BundleArgs, MonitorArgs};
use super::overrides::OverrideArgs;
use super::{report_action, Context, Outcome};
use crate::contract::{Ended, Ran};

/// Create and start a container.
///
/// In the foreground ocictl waits, passes on the signals it gets (INT, TERM,
/// HUP, QUIT, USR1, USR2, WINCH, TSTP), deletes the container when it exits
/// (unless --keep), and exits with its status: its exit code, or 128+N when
/// signal N killed it.
///
/// With a terminal (-t, or "terminal": true in config.json) and no
/// --console-socket, ocictl is the terminal's receiver: your terminal goes
/// raw and is wired to the container's pty (window size included), and is
/// put back exactly as it was when the container exits. Piped input works
/// too: its end reaches the container as the terminal's EOF (^D).
///
/// Detached (-d), a small monitor process stays with the container unless
/// --pid-file is given (see the global --monitor, and --no-monitor): `ocictl
/// wait` and `state` learn its exit status, and for a terminal container it
/// holds the pty: `ocictl attach ID`, `ocictl logs ID`. A caller that passes
/// --pid-file (containerd's shim, conmon) reaps the container itself, so
/// ocictl then leaves the process tree, argv and stdio exactly runc's.
///
/// The overrides (-e, --env-file, -v, --tmpfs, -w, -u, --hostname, --memory,
/// --cpus, --pids-limit, --read-only, --cap-add, --cap-drop, --net, and CMD
/// after the ID) change this run only, as docker's flags do: the runtime
/// gets a private copy of config.json with them applied, and the file
/// itself is never edited. --print-config shows that copy.
#[derive(Debug, Args)]
pub struct Run {
    #[command(flatten)]
    pub bundle: BundleArgs,

    #[command(flatten)]
    pub monitor: MonitorArgs,

    /// Return once the container runs, instead of waiting for it.
    #[arg(short, long)]
    pub detach: bool,

    /// Give the process a terminal for this run, whatever config.json says
    /// (the file is not edited: the runtime gets a private copy).
    #[arg(short, long)]
    pub tty: bool,

    /// Keep the container's state after it exits (delete it yourself).
    #[arg(long)]
    pub keep: bool,

    /// Do not make the runtime a subreaper for the container's processes.
    #[arg(long)]
    pub no_subreaper: bool,

    /// The new container's ID (letters, digits, `_ + - .`).
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,

    #[command(flatten)]
    pub overrides: OverrideArgs,
}

impl Run {
    pub fn run(self, ctx: &Context) -> Outcome {
        let fail = || format!("cannot run container {}", self.id);
        let bundle = self.bundle.load().with_context(fail)?;
        let terminal = self.tty || bundle.wants_terminal();
        let copy = self.overrides.copy(&bundle, self.tty).with_context(fail)?;
        let monitor = if self.detach {
            self.monitor
                .opts(ctx, &self.bundle, terminal)
                .with_context(fail)?
        } else if let Some(flag) = self.monitor.detached_only_flag() {
            return Err(crate::report::UsageError(format!(
                "{flag} is for detached containers (-d)"
            ))
            .into());
        } else {
            None
        };
        if self.overrides.print_config {
            return OverrideArgs::print_config(&bundle, copy.as_ref());
        }
        let applied = copy
            .as_ref()
            .map(|c| c.overrides.clone())
            .unwrap_or_default();
        let foreground_tty = terminal && !self.detach && self.bundle.console_socket.is_none();
        if foreground_tty {
            // From here on SIGINT/SIGTERM are caught and passed on to the
            // container, so the private files below are always removed.
            ocictl::tty::signals().context("cannot install the signal handlers")?;
        }
        let opts = RunOpts {
            create: self.bundle.create_opts(),
            detach: self.detach,
            keep: self.keep,
            no_subreaper: self.no_subreaper,
        };
        let req = ocictl::run::RunRequest {
            opts,
            copy,
            monitor,
            relay_terminal: foreground_tty,
        };
        let outcome = ocictl::run::run(&ctx.runc, &self.id, req).with_context(fail)?;
        let status = match outcome {
            RunOutcome::Monitored(started) => {
                let monitor_pid = super::create::monitor_pid(&self.id, started);
                return report_action(ctx, &self.ran(applied, monitor_pid, Ended::default()));
            }
            RunOutcome::Ended(status) => status,
        };
        if self.detach {
            if !status.success() {
                anyhow::bail!(
                    "cannot run container {}: the runtime ended with {status}",
                    self.id
                );
            }
            return report_action(ctx, &self.ran(applied, None, Ended::default()));
        }
        tracing::debug!(%status, "container finished");
        super::report_finished(ctx, &self.ran(applied, None, Ended::of(status)), status)
    }
}

impl Run {
    /// The JSON result: detached, or how the process ended.
    fn ran(&self, overrides: Vec<String>, monitor_pid: Option<i32>, ended: Ended) -> Ran {
        Ran {
            id: self.id.to_string(),
            action: "run".into(),
            detached: self.detach,
            monitor_pid,
            overrides,
            ended,
        }
    }
}
