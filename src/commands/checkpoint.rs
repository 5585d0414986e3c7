//! `ocictl checkpoint`: runc's checkpoint, plus image roots, a lock and
//! pruning so it can run from cron. Arguments → [`CheckpointRequest`] →
//! `ocictl::checkpoint` → summary → text or JSON; the exit code of each
//! [`StoreError`] is decided here.

use std::path::PathBuf;

use clap::Args;
use ocictl::checkpoint::{self, CheckpointRequest, Recovery, SignalNotice, StoreError};
use ocictl::runtime::{CheckpointOpts, ContainerId, CriuOpts, ManageCgroupsMode};

use crate::exit_code;

use super::{Context, Outcome};
use crate::output::{self, Format};
use crate::report::{CodedError, UsageError};

/// Checkpoint a running container with CRIU.
///
/// runc's flags work as in runc. For cron, use --image-root DIR instead of
/// --image-path: each run writes DIR/ID/<UTC time>/ (a 0700 directory),
/// visible only once CRIU succeeded; --keep N keeps the newest N; a second
/// run while one is going exits at once with code 75 (silently with
/// --quiet-if-locked). SIGINT, SIGTERM or SIGHUP wait for runc and CRIU to
/// finish, then commit or roll back (a second one stops ocictl at once).
/// Silent on success unless -v or --format json.
#[derive(Debug, Args)]
pub struct Checkpoint {
    /// Where CRIU writes the image (runc's default: ./checkpoint).
    #[arg(long, value_name = "DIR", conflicts_with = "image_root")]
    pub image_path: Option<PathBuf>,

    /// Write each checkpoint to DIR/ID/<UTC timestamp>/ (for cron); see --keep.
    #[arg(long, value_name = "DIR")]
    pub image_root: Option<PathBuf>,

    /// With --image-root: after a success, keep only the newest N complete images.
    #[arg(long, value_name = "N", requires = "image_root", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: Option<u32>,

    /// With --image-root: when another checkpoint of this container holds
    /// the lock, exit 75 without a word (so cron sends no mail for a skipped run).
    #[arg(long, requires = "image_root")]
    pub quiet_if_locked: bool,

    /// A previous pre-dump's image, relative to the image path (e.g. ../pre).
    #[arg(long, value_name = "DIR")]
    pub parent_path: Option<PathBuf>,

    /// Leave the container running after the checkpoint.
    #[arg(long)]
    pub leave_running: bool,

    /// Skip TCP connections still being established (runc 1.2+).
    #[arg(long)]
    pub tcp_skip_in_flight: bool,

    /// Allow checkpointing of open files that were unlinked (runc 1.2+).
    #[arg(long)]
    pub link_remap: bool,

    /// CRIU writes \0 to this fd once lazy pages are ready.
    #[arg(long, value_name = "FD", allow_negative_numbers = true)]
    pub status_fd: Option<i32>,

    /// ADDRESS:PORT of a CRIU page server to send memory to.
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub page_server: Option<String>,

    /// Dump memory only, leaving the container running (needs a kernel with
    /// memory dirty-page tracking).
    #[arg(long, conflicts_with = "image_root")]
    pub pre_dump: bool,

    #[command(flatten)]
    pub criu: CriuArgs,

    /// Say what was written (silent by default, for cron).
    #[arg(short, long)]
    pub verbose: bool,

    /// The running container's ID.
    #[arg(add = crate::completion::containers_in(crate::completion::RUNNING))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

/// The CRIU flags checkpoint and restore share, with the same meaning
/// (the driver's one `CriuOpts`).
#[derive(Debug, Args)]
pub struct CriuArgs {
    /// Where CRIU writes its work files and its log (default: the image path).
    #[arg(long, value_name = "DIR")]
    pub work_path: Option<PathBuf>,

    /// Allow open TCP connections.
    #[arg(long)]
    pub tcp_established: bool,

    /// Allow external unix sockets.
    #[arg(long)]
    pub ext_unix_sk: bool,

    /// Allow shell jobs (a process attached to a terminal).
    #[arg(long)]
    pub shell_job: bool,

    /// Use userfaultfd to restore memory pages lazily.
    #[arg(long)]
    pub lazy_pages: bool,

    /// Handle file locks.
    #[arg(long)]
    pub file_locks: bool,

    /// How CRIU treats cgroups: soft (runc's default), full, strict, or
    /// ignore (runc 1.2+).
    #[arg(long, value_enum, value_name = "MODE")]
    pub manage_cgroups_mode: Option<CgroupsMode>,

    /// Create this namespace empty instead of restoring it (repeatable), e.g. network.
    #[arg(long, value_name = "NS")]
    pub empty_ns: Vec<String>,

    /// Deduplicate memory images automatically.
    #[arg(long)]
    pub auto_dedup: bool,
}

/// `--manage-cgroups-mode`'s values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CgroupsMode {
    Soft,
    Full,
    Strict,
    Ignore,
}

impl From<CgroupsMode> for ManageCgroupsMode {
    fn from(mode: CgroupsMode) -> Self {
        match mode {
            CgroupsMode::Soft => ManageCgroupsMode::Soft,
            CgroupsMode::Full => ManageCgroupsMode::Full,
            CgroupsMode::Strict => ManageCgroupsMode::Strict,
            CgroupsMode::Ignore => ManageCgroupsMode::Ignore,
        }
    }
}

impl CriuArgs {
    /// The driver's options, with the command's own `--image-path`.
    pub fn opts(&self, image_path: Option<PathBuf>) -> CriuOpts {
        CriuOpts {
            image_path,
            work_path: self.work_path.clone(),
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            lazy_pages: self.lazy_pages,
            file_locks: self.file_locks,
            manage_cgroups_mode: self.manage_cgroups_mode.map(Into::into),
            empty_ns: self.empty_ns.clone(),
            auto_dedup: self.auto_dedup,
        }
    }
}

impl Checkpoint {
    fn opts(&self) -> CheckpointOpts {
        CheckpointOpts {
            criu: self.criu.opts(self.image_path.clone()),
            parent_path: self.parent_path.clone(),
            leave_running: self.leave_running,
            tcp_skip_in_flight: self.tcp_skip_in_flight,
            link_remap: self.link_remap,
            status_fd: self.status_fd,
            page_server: self.page_server.clone(),
            pre_dump: self.pre_dump,
        }
    }

    pub fn run(self, ctx: &Context) -> Outcome {
        ctx.runc
            .require(ocictl::runtime::Feature::Checkpoint)
            .map_err(|e| {
                anyhow::Error::new(e).context(format!("cannot checkpoint container {}", self.id))
            })?;
        if self.criu.work_path.is_some() && self.image_root.is_some() {
            // Every run needs its own work dir; a shared one would mix logs.
            return Err(UsageError(
                "--work-path cannot be combined with --image-root: each image keeps its own dump.log"
                    .into(),
            )
            .into());
        }
        let req = CheckpointRequest {
            opts: self.opts(),
            image_root: self.image_root.clone(),
            keep: self.keep.map(|n| n as usize),
            on_signal: Some(print_signal_notice),
            on_recovery: Some(print_recovery),
        };
        let summary = match checkpoint::checkpoint(&ctx.runc, &self.id, &req) {
            Ok(summary) => summary,
            Err(StoreError::Locked { .. }) if self.quiet_if_locked => return Ok(exit_code::LOCKED),
            Err(e) => {
                return Err(store_error(
                    e,
                    format!("cannot checkpoint container {}", self.id),
                ))
            }
        };
        if ctx.format == Format::Json {
            output::print_json(&crate::contract::Checkpointed {
                id: summary.container.clone(),
                action: "checkpoint".into(),
                image_path: summary.image_path.clone(),
                bytes: summary.bytes,
                duration: (summary.duration.as_secs_f64() * 1000.0).round() / 1000.0,
                left_running: summary.left_running,
                pre_dump: summary.pre_dump,
                criu_version: summary.criu_version.clone(),
                pruned: summary.pruned.clone(),
                recovered: summary.recovered.clone(),
                interrupted_by: summary.interrupted_by.clone(),
            })?;
        } else if self.verbose {
            output::print_text(&format!(
                "checkpointed {} to {} ({}, {:.2}s, CRIU {}){}\n",
                summary.container,
                summary.image_path.display(),
                crate::output::human_bytes(summary.bytes),
                summary.duration.as_secs_f64(),
                summary.criu_version,
                if summary.left_running {
                    "; it is still running"
                } else {
                    "; it is stopped"
                },
            ))?;
            for old in &summary.pruned {
                output::print_text(&format!("removed {}\n", old.display()))?;
            }
        }
        if let (Some(sig), Some(name)) = (summary.interrupted, &summary.interrupted_by) {
            eprintln!(
                "ocictl: {name} arrived during the checkpoint: runc and CRIU finished it, and the image is committed at {}",
                summary.image_path.display()
            );
            return Ok(128 + sig);
        }
        Ok(0)
    }
}

/// What a signal during a checkpoint does, said when it arrives.
fn print_signal_notice(n: &SignalNotice) {
    let name = ocictl::signal::Signal::from_number(n.signal)
        .map(|s| s.name())
        .unwrap_or_else(|| format!("signal {}", n.signal));
    if !n.aborting {
        eprintln!(
            "ocictl: {name}: waiting for runc and CRIU to finish the checkpoint, then committing or rolling it back (a second signal stops ocictl at once)"
        );
        return;
    }
    let mut text =
        format!("ocictl: second {name}: stopping now; runc and CRIU finish on their own");
    if let Some(lock) = &n.lock {
        text.push_str(&format!(" and hold {} until they exit", lock.display()));
    }
    if let Some(partial) = &n.partial {
        text.push_str(&format!(
            "; the next `ocictl checkpoint` or `ocictl restore --latest` commits {} if CRIU completed it, else keeps its dump.log under .failed/ beside it",
            partial.display()
        ));
    }
    eprintln!("{text}");
}

/// A partial image a crashed run had left: never dealt with silently.
pub fn print_recovery(r: &Recovery) {
    match r {
        Recovery::Committed { partial, image } => eprintln!(
            "ocictl: warning: a checkpoint interrupted earlier had completed: {} is now {}",
            partial.display(),
            image.display()
        ),
        Recovery::Incomplete { partial, log } => eprintln!(
            "ocictl: warning: a checkpoint interrupted earlier had not completed: removed {}{}",
            partial.display(),
            log.as_ref()
                .map(|l| format!(", its CRIU log is kept at {}", l.display()))
                .unwrap_or_default()
        ),
    }
}

/// The exit code the README documents for a store error.
fn exit_code_of(err: &StoreError) -> i32 {
    match err {
        StoreError::Locked { .. } => exit_code::LOCKED,
        StoreError::Interrupted { signal } => 128 + signal,
        other => other
            .runtime_error()
            .map_or(exit_code::FAILURE, exit_code::of_runtime_error),
    }
}

/// A store error as the operator sees it, with its documented exit code.
/// The lock's message stands alone (one line, for cron mail); others get
/// `context` naming the container, and keep the driver's error in their
/// chain so the CLI's hints see it.
pub fn store_error(err: StoreError, context: String) -> anyhow::Error {
    let code = exit_code_of(&err);
    if matches!(err, StoreError::Locked { .. }) {
        return anyhow::Error::new(CodedError {
            code,
            message: err.to_string(),
        });
    }
    anyhow::Error::new(err).context(CodedError {
        code,
        message: context,
    })
}
