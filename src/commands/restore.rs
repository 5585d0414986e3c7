//! `ocictl restore`: runc's restore, plus `--image-root DIR --latest` to
//! restore the newest complete image a cron checkpoint wrote.

use std::path::PathBuf;

use clap::Args;
use ocictl::checkpoint_store::{self, RestoreRequest};
use ocictl::runtime::{ContainerId, RestoreOpts};
use serde_json::json;

use super::checkpoint::{store_error, CriuArgs};
use super::{report_action, termination_json, Context, Outcome};
use crate::output::{self, Format};

/// Restore a container from a checkpoint.
///
/// In the foreground ocictl waits, passes signals on, and exits with the
/// restored process's status (128+N when signal N killed it); with -d it
/// returns once the container runs. The restored process inherits ocictl's
/// stdio, as with runc, and restore never starts ocictl's monitor (whatever
/// --monitor says): the process tree is runc's, so a supervisor that passes
/// --pid-file (containerd's shim) reaps the restored container. After a reboot, restore what cron saved with
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
    pub id: ContainerId,
}

impl Restore {
    fn opts(&self) -> RestoreOpts {
        let c = &self.criu;
        RestoreOpts {
            console_socket: self.console_socket.clone(),
            image_path: self.image_path.clone(),
            work_path: c.work_path.clone(),
            tcp_established: c.tcp_established,
            ext_unix_sk: c.ext_unix_sk,
            shell_job: c.shell_job,
            file_locks: c.file_locks,
            manage_cgroups_mode: c.manage_cgroups_mode.map(Into::into),
            bundle: self.bundle.clone(),
            detach: self.detach,
            pid_file: self.pid_file.clone(),
            no_subreaper: self.no_subreaper,
            no_pivot: self.no_pivot,
            empty_ns: c.empty_ns.clone(),
            auto_dedup: c.auto_dedup,
            lazy_pages: c.lazy_pages,
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
        };
        let restored = checkpoint_store::restore(&ctx.runc, &self.id, &req)
            .map_err(|e| store_error(e, format!("cannot restore container {}", self.id)))?;
        if self.verbose && ctx.format != Format::Json {
            output::print_text(&format!(
                "restored {} from {}\n",
                self.id,
                restored.image_path.display()
            ))?;
        }
        let mut extra = json!({ "image_path": restored.image_path });
        if self.detach {
            extra["detached"] = json!(true);
            report_action(ctx, "restore", &self.id, extra)?;
            return Ok(0);
        }
        tracing::debug!(status = %restored.status, "restored container finished");
        if ctx.format == Format::Json {
            if let (Some(map), serde_json::Value::Object(t)) =
                (extra.as_object_mut(), termination_json(restored.status))
            {
                map.extend(t);
            }
            report_action(ctx, "restore", &self.id, extra)?;
        }
        Ok(restored.status.shell_code())
    }
}
