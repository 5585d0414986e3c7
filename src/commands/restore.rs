//! `ocictl restore`: runc's restore, plus `--image-root DIR --latest` to
//! restore the newest complete image a cron checkpoint wrote.

use std::path::PathBuf;

use clap::Args;
use ocictl::checkpoint::{self, RestoreRequest};
use ocictl::runtime::{ContainerId, RestoreOpts};

use super::checkpoint::{print_recovery, store_error, CriuArgs};
use super::{report_action, Context, Outcome};
use crate::contract::{Ended, Restored};
use crate::output::{self, Format};

/// Restore a container from a checkpoint.
///
/// In the foreground ocictl waits, passes signals on, and exits with the
/// restored process's status (128+N when signal N killed it); with -d it
/// returns once the container runs. The restored process inherits ocictl's
/// stdio, as with runc. A detached restore gets ocictl's monitor (wait,
/// logs, attach) as `run -d` does, by the same rule (see the global
/// --monitor): a supervisor that passes --pid-file (containerd's shim)
/// gets runc's process tree and reaps the restored container itself. After
/// a reboot, restore what cron saved with
/// `ocictl restore --image-root DIR --latest -d -b BUNDLE ID`.
#[derive(Debug, Args)]
pub struct Restore {
    /// A unix socket that receives the pty master of a terminal container.
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,

    /// The image to restore (runc's default: ./checkpoint).
    #[arg(long, value_name = "DIR", conflicts_with = "image_root")]
    pub image_path: Option<PathBuf>,

    /// With --latest: restore the newest complete image under DIR/ID/ (as
    /// written by `checkpoint --image-root DIR`).
    #[arg(long, value_name = "DIR", requires = "latest")]
    pub image_root: Option<PathBuf>,

    /// Restore the newest complete image under --image-root.
    #[arg(long, requires = "image_root")]
    pub latest: bool,

    /// With --image-root: restore the images of container FROM (default: the
    /// ID being restored), e.g. to restore under a new ID.
    #[arg(long, value_name = "FROM", requires = "image_root")]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub from: Option<ContainerId>,

    /// The bundle directory (holds config.json and the rootfs).
    #[arg(short, long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub bundle: Option<PathBuf>,

    /// Return once the container runs, instead of waiting for it.
    #[arg(short, long)]
    pub detach: bool,

    /// Write the restored process's pid to this file.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,

    /// Do not make the runtime a subreaper for the container's processes.
    #[arg(long)]
    pub no_subreaper: bool,

    /// Do not use pivot_root to jail the process inside its rootfs.
    #[arg(long)]
    pub no_pivot: bool,

    /// LSM profile for the restored process, as TYPE:NAME.
    #[arg(long, value_name = "TYPE:NAME")]
    pub lsm_profile: Option<String>,

    /// LSM mount context for the restored container.
    #[arg(long, value_name = "CONTEXT")]
    pub lsm_mount_context: Option<String>,

    #[command(flatten)]
    pub criu: CriuArgs,

    /// Say which image was restored.
    #[arg(short, long)]
    pub verbose: bool,

    /// The ID the restored container gets.
    #[arg(add = crate::completion::restorable())]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

impl Restore {
    fn opts(&self) -> RestoreOpts {
        RestoreOpts {
            criu: self.criu.opts(self.image_path.clone()),
            console_socket: self.console_socket.clone(),
            bundle: self.bundle.clone(),
            detach: self.detach,
            pid_file: self.pid_file.clone(),
            no_subreaper: self.no_subreaper,
            no_pivot: self.no_pivot,
            lsm_profile: self.lsm_profile.clone(),
            lsm_mount_context: self.lsm_mount_context.clone(),
        }
    }

    pub fn run(self, ctx: &Context) -> Outcome {
        ctx.runc
            .require(ocictl::runtime::Feature::Restore)
            .map_err(|e| {
                anyhow::Error::new(e).context(format!("cannot restore container {}", self.id))
            })?;
        let req = RestoreRequest {
            opts: self.opts(),
            image_root: self.image_root.clone(),
            from: self.from.clone(),
            on_recovery: Some(print_recovery),
            // A detached restore gets a shim like `run -d`, by the same rule.
            monitor: (self.detach
                && match ctx.monitor {
                    crate::cli::MonitorMode::Never => false,
                    crate::cli::MonitorMode::Always => true,
                    crate::cli::MonitorMode::Auto => self.pid_file.is_none(),
                })
            .then(ocictl::shim::client::MonitorOpts::default),
        };
        let restored = checkpoint::restore(&ctx.runc, &self.id, &req)
            .map_err(|e| store_error(e, format!("cannot restore container {}", self.id)))?;
        if ctx.format != Format::Json {
            for s in &restored.skipped {
                eprintln!(
                    "ocictl: --latest skipped {} ({})",
                    s.path.display(),
                    s.reason
                );
            }
        }
        if self.verbose && ctx.format != Format::Json {
            output::print_text(&format!(
                "restored {} from {}\n",
                self.id,
                restored.image_path.display()
            ))?;
        }
        let monitor_pid = restored
            .monitored
            .clone()
            .and_then(|started| super::create::monitor_pid(&self.id, started));
        let result = |ended| Restored {
            id: self.id.to_string(),
            action: "restore".into(),
            image_path: restored.image_path.clone(),
            detached: self.detach,
            monitor_pid,
            skipped: restored.skipped.clone(),
            ended,
        };
        if self.detach {
            report_action(ctx, &result(Ended::default()))?;
            return Ok(0);
        }
        tracing::debug!(status = %restored.status, "restored container finished");
        super::report_finished(ctx, &result(Ended::of(restored.status)), restored.status)
    }
}
