//! `runc checkpoint` and `runc restore`: their typed options, go-runc's
//! checkpoint actions, and the two driver calls.
//!
//! Restore's options are a type of their own with only the flags runc's
//! `restore` accepts: go-runc reuses its checkpoint options there and sends
//! `--parent-path` and `--page-server`, which runc rejects ("flag provided but
//! not defined"). `RestoreOpts` has no such fields, so it cannot. What the
//! two share is one type, [`CriuOpts`], held by both.

use std::path::PathBuf;

use super::argv::Args;
use super::error::{Result, Termination};
use super::id::ContainerId;
use super::Runtime;

/// How CRIU handles the container's cgroups (`--manage-cgroups-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManageCgroupsMode {
    /// Restore cgroup properties only for cgroups CRIU creates (runc's default).
    Soft,
    /// Restore every cgroup property.
    Full,
    /// Restore cgroup properties, failing when one differs.
    Strict,
    /// Leave cgroups alone (runc 1.2+; runc 1.1 rejects it).
    Ignore,
}

impl ManageCgroupsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ManageCgroupsMode::Soft => "soft",
            ManageCgroupsMode::Full => "full",
            ManageCgroupsMode::Strict => "strict",
            ManageCgroupsMode::Ignore => "ignore",
        }
    }
}

/// The CRIU options checkpoint and restore share, with the same meaning
/// and the same flag in both (one type, so the two cannot drift apart).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CriuOpts {
    /// The image: where CRIU writes it, or reads it back (runc's default:
    /// `./checkpoint`).
    pub image_path: Option<PathBuf>,
    /// Where CRIU writes its work files and its log (default: the image path).
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub lazy_pages: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<ManageCgroupsMode>,
    /// Namespaces (e.g. `network`) created empty instead of restored.
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
}

impl CriuOpts {
    /// Where CRIU writes its log: the work path, else the image path.
    pub fn log_dir(&self) -> Option<&std::path::Path> {
        self.work_path.as_deref().or(self.image_path.as_deref())
    }
}

/// `runc checkpoint`'s options, one field per flag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckpointOpts {
    pub criu: CriuOpts,
    /// A previous pre-dump's image, relative to the image path or absolute.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    /// runc 1.2+.
    pub tcp_skip_in_flight: bool,
    /// runc 1.2+.
    pub link_remap: bool,
    /// CRIU writes `\0` to this fd once lazy pages are ready.
    pub status_fd: Option<i32>,
    /// `ADDRESS:PORT` of a CRIU page server.
    pub page_server: Option<String>,
    pub pre_dump: bool,
}

/// go-runc's checkpoint actions: small changes applied to the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointAction {
    /// Keep the container running after the checkpoint.
    LeaveRunning,
    /// Dump memory only, as the parent of a later checkpoint; the container
    /// keeps running.
    PreDump,
}

impl CheckpointOpts {
    /// Apply go-runc-style actions (`LeaveRunning`, `PreDump`).
    pub fn with_actions(mut self, actions: &[CheckpointAction]) -> Self {
        for action in actions {
            match action {
                CheckpointAction::LeaveRunning => self.leave_running = true,
                CheckpointAction::PreDump => self.pre_dump = true,
            }
        }
        self
    }

    /// Where CRIU writes `dump.log`: the work path, else the image path.
    pub fn log_dir(&self) -> Option<&std::path::Path> {
        self.criu.log_dir()
    }

    /// The flags in runc's own order (its `--help`).
    pub(crate) fn push_args(&self, args: &mut Args) {
        let c = &self.criu;
        args.path("image-path", c.image_path.as_deref())
            .path("work-path", c.work_path.as_deref())
            // Not absolutized: runc resolves a relative parent path against
            // the image path, as CRIU expects (`../pre-dump`).
            .value("parent-path", self.parent_path.as_deref())
            .flag("leave-running", self.leave_running)
            .flag("tcp-established", c.tcp_established)
            .flag("tcp-skip-in-flight", self.tcp_skip_in_flight)
            .flag("link-remap", self.link_remap)
            .flag("ext-unix-sk", c.ext_unix_sk)
            .flag("shell-job", c.shell_job)
            .flag("lazy-pages", c.lazy_pages)
            .value("status-fd", self.status_fd.map(|fd| fd.to_string()))
            .value("page-server", self.page_server.as_deref())
            .flag("file-locks", c.file_locks)
            .flag("pre-dump", self.pre_dump)
            .value(
                "manage-cgroups-mode",
                c.manage_cgroups_mode.map(ManageCgroupsMode::as_str),
            )
            .values("empty-ns", &c.empty_ns)
            .flag("auto-dedup", c.auto_dedup);
    }
}

/// `runc restore`'s options: only flags runc's restore accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreOpts {
    pub criu: CriuOpts,
    pub console_socket: Option<PathBuf>,
    pub bundle: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub no_subreaper: bool,
    pub no_pivot: bool,
    /// `TYPE:NAME`, e.g. `apparmor:my-profile`.
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
}

impl RestoreOpts {
    /// Where CRIU writes `restore.log`: the work path, else the image path.
    pub fn log_dir(&self) -> Option<&std::path::Path> {
        self.criu.log_dir()
    }

    /// The flags in runc's own order (its `--help`).
    pub(crate) fn push_args(&self, args: &mut Args) {
        let c = &self.criu;
        args.path("console-socket", self.console_socket.as_deref())
            .path("image-path", c.image_path.as_deref())
            .path("work-path", c.work_path.as_deref())
            .flag("tcp-established", c.tcp_established)
            .flag("ext-unix-sk", c.ext_unix_sk)
            .flag("shell-job", c.shell_job)
            .flag("file-locks", c.file_locks)
            .value(
                "manage-cgroups-mode",
                c.manage_cgroups_mode.map(ManageCgroupsMode::as_str),
            )
            .path("bundle", self.bundle.as_deref())
            .flag("detach", self.detach)
            .path("pid-file", self.pid_file.as_deref())
            .flag("no-subreaper", self.no_subreaper)
            .flag("no-pivot", self.no_pivot)
            .values("empty-ns", &c.empty_ns)
            .flag("auto-dedup", c.auto_dedup)
            .flag("lazy-pages", c.lazy_pages)
            .value("lsm-profile", self.lsm_profile.as_deref())
            .value("lsm-mount-context", self.lsm_mount_context.as_deref());
    }
}

impl Runtime {
    /// `runc checkpoint [OPTS] ID`. Fails with runc's own message (CRIU's
    /// details are in `dump.log` under [`CheckpointOpts::log_dir`]).
    pub fn checkpoint(&self, id: &ContainerId, opts: &CheckpointOpts) -> Result<()> {
        self.require(super::Feature::Checkpoint)?;
        let mut args = Args::subcommand("checkpoint");
        opts.push_args(&mut args);
        args.arg(id);
        // A dump takes as long as the memory it writes, and killing runc or
        // CRIU halfway only leaves a broken image (and, without
        // --leave-running, a frozen or lost container): so no --timeout, no
        // parent-death signal, and a process group of its own, so a Ctrl-C
        // on the terminal reaches only ocictl, which decides what to do.
        let whole = Runtime {
            timeout: None,
            pdeath_signal: None,
            setpgid: true,
            ..self.clone()
        };
        whole.capture(args, None).map(drop)
    }

    /// `runc restore [OPTS] ID`. The restored container inherits ocictl's
    /// stdio, as with runc. In the foreground this waits and returns the
    /// restored process's status; with `detach` it returns once it runs,
    /// and a non-zero exit is an [`Error::Failed`](super::Error::Failed)
    /// carrying the argv that ran.
    pub fn restore(&self, id: &ContainerId, opts: &RestoreOpts) -> Result<Termination> {
        self.require(super::Feature::Restore)?;
        let mut args = Args::subcommand("restore");
        opts.push_args(&mut args);
        args.arg(id);
        let argv = self.argv(args.clone());
        let status = self.run_stdio(args, !opts.detach)?;
        if opts.detach && !status.success() {
            return Err(self.flavor_hint().failure(argv, status, "", String::new()));
        }
        Ok(status)
    }

    /// Foreground restore of a terminal checkpoint: ocictl receives the
    /// restored pty and relays it (see [`Runtime::run_with_terminal`]), then
    /// deletes the container once its process exited, as `runc restore`
    /// does in the foreground.
    pub fn restore_terminal(&self, id: &ContainerId, opts: &RestoreOpts) -> Result<Termination> {
        self.require(super::Feature::Restore)?;
        let mut opts = opts.clone();
        let pid_file = opts.pid_file.take();
        opts.detach = false;
        opts.console_socket = None;
        let mut args = Args::subcommand("restore");
        opts.push_args(&mut args);
        args.arg(id);
        let result = self.run_with_terminal(args, &super::TerminalOpts { pid_file });
        if let Err(e) = self.delete(id, &super::DeleteOpts { force: true }) {
            tracing::debug!(error = %e, "deleting after the restore");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(args: Args) -> Vec<String> {
        args.into_vec()
            .into_iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn actions_set_their_flags() {
        let opts = CheckpointOpts::default()
            .with_actions(&[CheckpointAction::LeaveRunning, CheckpointAction::PreDump]);
        assert!(opts.leave_running && opts.pre_dump);
    }

    #[test]
    fn restore_never_sends_checkpoint_only_flags() {
        let opts = RestoreOpts {
            criu: CriuOpts {
                image_path: Some("/i".into()),
                empty_ns: vec!["network".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let mut args = Args::subcommand("restore");
        opts.push_args(&mut args);
        let w = words(args);
        assert_eq!(
            w,
            ["restore", "--image-path", "/i", "--empty-ns", "network"]
        );
    }
}
