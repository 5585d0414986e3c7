//! Checkpoints that cron can trust: an image root holding timestamped
//! images per container, a lock per container, and the checkpoint and
//! restore runs built on them (preflight, diagnosis of failures).
//!
//! Layout of an image root `DIR`:
//!
//! ```text
//! DIR/<id>/.lock                        flock(2): one checkpoint of <id> at a time
//! DIR/<id>/.partial-20260101T120000.123Z  a run in progress (or one that died)
//! DIR/<id>/20260101T114500.042Z/        complete images, named by UTC time
//! ```
//!
//! CRIU writes into the hidden partial directory, which is renamed to its
//! final name only after runc reported success: a crash, a kill or a CRIU
//! failure never leaves anything that looks like a good image. Names sort
//! in time order, so the newest complete image is the greatest name.
//!
//! The lock's file descriptor is inherited by runc and, through it, by
//! CRIU: if ocictl is killed mid-checkpoint, the lock stays held until the
//! orphaned runc and CRIU have finished writing, so the next run neither
//! starts a second dump nor deletes the partial directory under them.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::runtime::criu::{self, Criu};
use crate::runtime::{
    self, CheckpointOpts, ContainerId, RestoreOpts, Runtime, Status, Termination,
};

const PARTIAL_PREFIX: &str = ".partial-";
const LOCK_FILE: &str = ".lock";
/// How many of CRIU's log lines a failure report shows.
const EXCERPT_LINES: usize = 6;

/// Failures of the image store and of the checkpoint/restore runs on it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another run holds this container's checkpoint lock.
    #[error("another checkpoint of container {id} is still running{} (lock {}); this run did nothing", holder.map(|p| format!(" (pid {p})")).unwrap_or_default(), lock.display())]
    Locked {
        id: String,
        lock: PathBuf,
        holder: Option<u32>,
    },

    /// CRIU is missing, too old, or the kernel lacks what an option needs.
    #[error("{0}")]
    Preflight(Box<runtime::Error>),

    /// No image to restore.
    #[error("{0}")]
    NoImage(String),

    /// The bundle wants a terminal and nothing will receive its pty.
    #[error("the checkpoint is of a terminal container ({bundle}/config.json sets process.terminal): restoring it detached needs --console-socket PATH to hand the pty to (start a receiver with `ocictl console PATH`), or restore it in the foreground")]
    TerminalNeeded { bundle: PathBuf },

    /// runc (or CRIU under it) failed.
    #[error("{0}")]
    Runtime(Box<RuntimeFailure>),

    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

/// A failed runc checkpoint/restore, with CRIU's own words.
#[derive(Debug, thiserror::Error)]
#[error("{source}{}", criu_report(.log, .excerpt, .aftermath))]
pub struct RuntimeFailure {
    pub source: runtime::Error,
    /// CRIU's dump.log or restore.log.
    pub log: Option<PathBuf>,
    /// Its last error lines (the harmless RLIMIT_NOFILE one skipped).
    pub excerpt: Vec<String>,
    /// What became of the container (checkpoint only).
    pub aftermath: Option<String>,
}

impl RuntimeFailure {
    /// The failure of `source`, quoting CRIU's `log` when it exists.
    fn error(source: runtime::Error, log: PathBuf, aftermath: Option<String>) -> StoreError {
        let log = log
            .exists()
            .then(|| std::path::absolute(&log).unwrap_or(log));
        let excerpt = log
            .as_deref()
            .map(|l| criu::log_excerpt(l, EXCERPT_LINES))
            .unwrap_or_default();
        StoreError::Runtime(Box::new(RuntimeFailure {
            source: without_log_hint(source),
            log,
            excerpt,
            aftermath,
        }))
    }
}

/// runc's message ends with "log file: dump.log", relative to a directory
/// it does not name: the report gives the log's full path instead.
fn without_log_hint(err: runtime::Error) -> runtime::Error {
    match err {
        runtime::Error::Failed {
            argv,
            status,
            message,
            stderr,
        } => runtime::Error::Failed {
            argv,
            status,
            message: message
                .lines()
                .filter(|l| !l.trim_start().starts_with("log file:"))
                .collect::<Vec<_>>()
                .join("\n"),
            stderr,
        },
        other => other,
    }
}

fn criu_report(log: &Option<PathBuf>, excerpt: &[String], aftermath: &Option<String>) -> String {
    let mut text = String::new();
    if let Some(log) = log {
        if excerpt.is_empty() {
            text.push_str(&format!("\n  CRIU's log: {}", log.display()));
        } else {
            text.push_str(&format!("\n  CRIU's log {} ends with:", log.display()));
            for line in excerpt {
                text.push_str(&format!("\n    {line}"));
            }
        }
    }
    if let Some(after) = aftermath {
        text.push_str(&format!("\n  {after}"));
    }
    text
}

fn io_of<E: std::fmt::Display>(context: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Io {
        context: context.into(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

impl StoreError {
    /// The exit code the README documents for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            StoreError::Locked { .. } => runtime::exit_code::LOCKED,
            StoreError::Preflight(e) => e.exit_code(),
            StoreError::Runtime(f) => f.source.exit_code(),
            _ => runtime::exit_code::FAILURE,
        }
    }
}

/// A directory of timestamped checkpoint images, one subdirectory per container.
#[derive(Debug, Clone)]
pub struct ImageRoot {
    pub dir: PathBuf,
}

/// Holding this is holding a container's checkpoint lock.
#[derive(Debug)]
pub struct CheckpointLock {
    _file: File,
    pub path: PathBuf,
}

/// A checkpoint being written: CRIU's image path until [`Partial::commit`].
#[derive(Debug)]
pub struct Partial {
    pub path: PathBuf,
    name: String,
    dir: PathBuf,
}

impl Partial {
    /// Give the image its final, visible name; returns that path.
    pub fn commit(self) -> Result<PathBuf, StoreError> {
        let mut target = self.dir.join(&self.name);
        let mut n = 1;
        // Two runs in the same millisecond cannot happen under the lock, but
        // a clock set back can reuse a name: never overwrite an image.
        while target.exists() {
            target = self.dir.join(format!("{}-{n}", self.name));
            n += 1;
        }
        std::fs::rename(&self.path, &target).map_err(io(format!(
            "cannot rename {} to {}",
            self.path.display(),
            target.display()
        )))?;
        Ok(target)
    }
}

impl ImageRoot {
    pub fn new(dir: impl Into<PathBuf>) -> ImageRoot {
        ImageRoot { dir: dir.into() }
    }

    /// Where a container's images live.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// The file whose flock(2) is the container's checkpoint lock.
    pub fn lock_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(LOCK_FILE)
    }

    /// Take the container's checkpoint lock without waiting: fails at once
    /// with [`StoreError::Locked`] when another run holds it.
    pub fn lock(&self, id: &str) -> Result<CheckpointLock, StoreError> {
        let dir = self.container_dir(id);
        std::fs::create_dir_all(&dir).map_err(io(format!("cannot create {}", dir.display())))?;
        let path = self.lock_path(id);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(format!("cannot open the lock {}", path.display())))?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(StoreError::Locked {
                    id: id.to_string(),
                    lock: path,
                    holder: text.trim().parse().ok(),
                });
            }
            return Err(io(format!("cannot lock {}", path.display()))(err));
        }
        // Who holds it, for the next run's message.
        // One fixed-width write in place (no truncate), so a reader never
        // sees it empty.
        let _ = file.write_all_at(format!("{:<11}\n", std::process::id()).as_bytes(), 0);
        // Let runc and CRIU inherit the lock (see the module docs).
        // SAFETY: fcntl on an fd we own.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFD, 0) };
        Ok(CheckpointLock { _file: file, path })
    }

    /// Start a new image for `id` (needs the lock): an empty hidden
    /// directory named for the current UTC time.
    pub fn begin(&self, id: &str, _lock: &CheckpointLock) -> Result<Partial, StoreError> {
        let name = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let dir = self.container_dir(id);
        let path = dir.join(format!("{PARTIAL_PREFIX}{name}"));
        if path.exists() {
            // Left by a run that died in this very millisecond: stale.
            let _ = std::fs::remove_dir_all(&path);
        }
        std::fs::create_dir(&path).map_err(io(format!("cannot create {}", path.display())))?;
        Ok(Partial { path, name, dir })
    }

    /// The complete images of `id`, oldest first.
    pub fn images(&self, id: &str) -> Result<Vec<PathBuf>, StoreError> {
        Ok(self.entries(id)?.0)
    }

    /// (complete images oldest first, partial directories).
    fn entries(&self, id: &str) -> Result<(Vec<PathBuf>, Vec<PathBuf>), StoreError> {
        let dir = self.container_dir(id);
        let read = match std::fs::read_dir(&dir) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Vec::new(), Vec::new()))
            }
            Err(e) => return Err(io(format!("cannot read {}", dir.display()))(e)),
        };
        let mut complete = Vec::new();
        let mut partial = Vec::new();
        for entry in read.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if name.starts_with(PARTIAL_PREFIX) {
                partial.push(entry.path());
            } else if !name.starts_with('.') {
                complete.push(entry.path());
            }
        }
        complete.sort();
        partial.sort();
        Ok((complete, partial))
    }

    /// The newest complete image of `id`.
    pub fn latest(&self, id: &str) -> Result<PathBuf, StoreError> {
        self.images(id)?.pop().ok_or_else(|| {
            StoreError::NoImage(format!(
                "there is no complete checkpoint of container {id} under {} (looked in {})",
                self.dir.display(),
                self.container_dir(id).display()
            ))
        })
    }

    /// After a successful run (under the lock): remove the oldest complete
    /// images beyond `keep` (never `just_written`) and every partial
    /// directory — none can belong to a run still going, since that run
    /// would hold the lock. Returns what was removed.
    pub fn prune(
        &self,
        id: &str,
        keep: Option<usize>,
        just_written: &Path,
        _lock: &CheckpointLock,
    ) -> Result<Vec<PathBuf>, StoreError> {
        let (complete, partial) = self.entries(id)?;
        let mut doomed = partial;
        if let Some(keep) = keep {
            let excess = complete.len().saturating_sub(keep.max(1));
            doomed.extend(
                complete
                    .into_iter()
                    .filter(|p| p != just_written)
                    .take(excess),
            );
        }
        for path in &doomed {
            std::fs::remove_dir_all(path).map_err(io(format!(
                "cannot remove the old image {}",
                path.display()
            )))?;
        }
        Ok(doomed)
    }
}

/// Bytes a directory tree takes on disk (allocated blocks).
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = meta.blocks() * 512;
    if meta.is_dir() {
        if let Ok(read) = std::fs::read_dir(path) {
            for entry in read.flatten() {
                total += disk_usage(&entry.path());
            }
        }
    }
    total
}

/// What to checkpoint and where.
#[derive(Debug, Clone, Default)]
pub struct CheckpointRequest {
    /// runc's options; with `image_root`, the image path is chosen here.
    pub opts: CheckpointOpts,
    pub image_root: Option<PathBuf>,
    /// Keep this many complete images (with `image_root`).
    pub keep: Option<usize>,
}

/// What a successful checkpoint produced (the `--format json` summary).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckpointSummary {
    pub container: String,
    pub image_path: PathBuf,
    pub bytes: u64,
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    pub left_running: bool,
    pub pre_dump: bool,
    pub criu_version: String,
    /// Old images removed by `--keep`.
    pub pruned: Vec<PathBuf>,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Check what runc cannot say clearly: CRIU is there, new enough, and the
/// kernel has what the options need.
pub fn preflight(runc: &Runtime, opts: &CheckpointOpts) -> Result<Criu, StoreError> {
    let criu =
        Criu::locate(runc.criu.as_deref()).map_err(|e| StoreError::Preflight(Box::new(e)))?;
    if opts.pre_dump {
        criu.require_memory_tracking()
            .map_err(|e| StoreError::Preflight(Box::new(e)))?;
    }
    Ok(criu)
}

/// Checkpoint `id`: preflight, then (with an image root) lock, write a
/// partial image, rename it when runc succeeded, and prune.
pub fn checkpoint(
    runc: &Runtime,
    id: &ContainerId,
    req: &CheckpointRequest,
) -> Result<CheckpointSummary, StoreError> {
    let started = Instant::now();
    let mut opts = req.opts.clone();
    let store = req.image_root.as_ref().map(ImageRoot::new);
    // The lock first: a second cron run must exit at once.
    let lock = match &store {
        Some(store) => Some(store.lock(id.as_str())?),
        None => None,
    };
    // CRIU's preflight and the container's state (to tell, after a failure,
    // whether it was running) are two process starts: run them side by
    // side, so image management costs next to nothing (see BENCHMARKS.md).
    let (criu, before) = std::thread::scope(|scope| {
        let state = scope.spawn(|| runc.state(id).ok().map(|c| c.status));
        let criu = preflight(runc, &req.opts);
        (criu, state.join().ok().flatten())
    });
    let criu = criu?;
    let partial = match (&store, &lock) {
        (Some(store), Some(lock)) => {
            let partial = store.begin(id.as_str(), lock)?;
            opts.image_path = Some(partial.path.clone());
            Some(partial)
        }
        _ => None,
    };
    if let Err(source) = runc.checkpoint(id, &opts) {
        return Err(runtime_failure(runc, id, source, &opts, before));
    }
    // The container is gone: so is what its shim kept (its exit record
    // would otherwise be shown for the restored one).
    if !(opts.leave_running || opts.pre_dump) {
        let _ = crate::shim::state::StateDir::of(runc, id).remove(Duration::from_secs(5));
    }
    let (image_path, pruned) = match (store, lock, partial) {
        (Some(store), Some(lock), Some(partial)) => {
            let path = partial.commit()?;
            let pruned = store.prune(id.as_str(), req.keep, &path, &lock)?;
            (path, pruned)
        }
        // runc's default image path is ./checkpoint.
        _ => (
            opts.image_path
                .clone()
                .unwrap_or_else(|| PathBuf::from("checkpoint")),
            Vec::new(),
        ),
    };
    Ok(CheckpointSummary {
        container: id.to_string(),
        bytes: disk_usage(&image_path),
        image_path: std::path::absolute(&image_path).unwrap_or(image_path),
        duration: started.elapsed(),
        left_running: opts.leave_running || opts.pre_dump,
        pre_dump: opts.pre_dump,
        criu_version: criu.version,
        pruned,
    })
}

/// A failed `runc checkpoint`, with CRIU's own words and what became of
/// the container.
fn runtime_failure(
    runc: &Runtime,
    id: &ContainerId,
    source: runtime::Error,
    opts: &CheckpointOpts,
    before: Option<Status>,
) -> StoreError {
    let log = opts
        .log_dir()
        .map(|d| d.join("dump.log"))
        .unwrap_or_else(|| PathBuf::from("checkpoint/dump.log"));
    let after = runc.state(id).ok().map(|c| c.status);
    let aftermath = match (before, after) {
        (Some(Status::Running), Some(Status::Running)) => {
            Some("the container is still running, as it was before".to_string())
        }
        (Some(Status::Running), Some(now)) => Some(format!(
            "the container was running and is now {now}: CRIU stopped it during the failed dump"
        )),
        (Some(Status::Running), None) => Some(
            "the container was running and no longer exists: CRIU killed it during the failed dump"
                .to_string(),
        ),
        (Some(was), Some(now)) if was == now => Some(format!("the container is {now}, as before")),
        _ => None,
    };
    RuntimeFailure::error(source, log, aftermath)
}

/// What to restore and from where.
#[derive(Debug, Clone, Default)]
pub struct RestoreRequest {
    pub opts: RestoreOpts,
    /// Restore the newest complete image under this root.
    pub image_root: Option<PathBuf>,
    /// Whose images to look at under the root (default: the restored ID).
    pub from: Option<ContainerId>,
    /// A detached restore gets a shim like `run -d` (None: runc alone).
    pub monitor: Option<crate::shim::client::MonitorOpts>,
}

/// How a restore went.
#[derive(Debug, Clone)]
pub struct Restored {
    pub image_path: PathBuf,
    /// The runtime's status: with `detach`, runc's; in the foreground, the
    /// restored process's.
    pub status: Termination,
}

/// Restore `id`: find the image, check it looks like one, check the
/// terminal, run runc, and explain a failure with CRIU's restore.log.
pub fn restore(
    runc: &Runtime,
    id: &ContainerId,
    req: &RestoreRequest,
) -> Result<Restored, StoreError> {
    let mut opts = req.opts.clone();
    if let Some(root) = &req.image_root {
        let from = req.from.as_ref().unwrap_or(id);
        opts.image_path = Some(ImageRoot::new(root).latest(from.as_str())?);
    }
    let image_path = opts
        .image_path
        .clone()
        .unwrap_or_else(|| PathBuf::from("checkpoint"));
    if !image_path.join("inventory.img").is_file() {
        return Err(StoreError::NoImage(format!(
            "{} is not a checkpoint image ({}): nothing to restore",
            image_path.display(),
            if image_path.is_dir() {
                "it has no inventory.img"
            } else {
                "it does not exist"
            }
        )));
    }
    // Only that CRIU is there: its version was checked when the image was made.
    criu::find(runc.criu.as_deref()).map_err(|e| StoreError::Preflight(Box::new(e)))?;
    if let (true, Some(monitor)) = (opts.detach, &req.monitor) {
        return crate::shim::client::restore_detached(runc, id, &opts, monitor, &image_path)
            .map(|_| Restored {
                image_path: std::path::absolute(&image_path).unwrap_or(image_path.clone()),
                status: Termination::Exited(0),
            })
            .map_err(|e| restore_failure(e, &opts, &image_path));
    }
    let bundle_dir = opts.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
    let bundle = crate::bundle::Bundle::load(&bundle_dir);
    let mut terminal = bundle.as_ref().map(|b| b.wants_terminal()).unwrap_or(false);
    // A checkpoint of a `run -t` container restores with the user's
    // bundle: it gets the terminal copy again (private, removed after).
    let mut _copy = None;
    if let (false, Ok(b)) = (terminal, &bundle) {
        if opts.console_socket.is_none()
            && crate::shim::client::checkpoint_had_terminal(&image_path)
        {
            let copy = b
                .with_terminal()
                .map_err(io_of("cannot make the terminal copy"))?;
            opts.bundle = Some(copy.path().to_path_buf());
            _copy = Some(copy);
            terminal = true;
        }
    }
    if terminal && opts.console_socket.is_none() && opts.detach {
        return Err(StoreError::TerminalNeeded { bundle: bundle_dir });
    }
    let restored = if terminal && opts.console_socket.is_none() {
        // In the foreground ocictl is the terminal's receiver itself.
        runc.restore_terminal(id, &opts)
    } else {
        runc.restore(id, &opts)
    };
    match restored {
        Ok(status) if opts.detach && !status.success() => Err(restore_failure(
            runtime::Error::Failed {
                argv: {
                    let mut args = runtime::Args::subcommand("restore");
                    opts.push_args(&mut args);
                    args.arg(id);
                    runc.argv(args)
                },
                status,
                message: String::new(),
                stderr: String::new(),
            },
            &opts,
            &image_path,
        )),
        Ok(status) => Ok(Restored {
            image_path: std::path::absolute(&image_path).unwrap_or(image_path),
            status,
        }),
        Err(source) => Err(restore_failure(source, &opts, &image_path)),
    }
}

fn restore_failure(source: runtime::Error, opts: &RestoreOpts, image: &Path) -> StoreError {
    let log = opts
        .work_path
        .as_deref()
        .unwrap_or(image)
        .join("restore.log");
    RuntimeFailure::error(source, log, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest_and_the_one_just_written() {
        let dir = tempfile::tempdir().unwrap();
        let root = ImageRoot::new(dir.path());
        let lock = root.lock("c").unwrap();
        for name in [
            "20260101T000001.000Z",
            "20260101T000002.000Z",
            "20260101T000003.000Z",
        ] {
            std::fs::create_dir_all(root.container_dir("c").join(name)).unwrap();
        }
        std::fs::create_dir_all(root.container_dir("c").join(".partial-x")).unwrap();
        let p = root.begin("c", &lock).unwrap();
        let written = p.commit().unwrap();
        let removed = root.prune("c", Some(2), &written, &lock).unwrap();
        assert_eq!(removed.len(), 3, "{removed:?}");
        let left = root.images("c").unwrap();
        assert_eq!(left.len(), 2);
        assert!(left.contains(&written));
        assert_eq!(root.latest("c").unwrap(), written);
    }

    #[test]
    fn a_second_lock_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = ImageRoot::new(dir.path());
        let _held = root.lock("c").unwrap();
        match root.lock("c") {
            Err(e @ StoreError::Locked { .. }) => {
                assert_eq!(e.exit_code(), runtime::exit_code::LOCKED);
                assert!(e
                    .to_string()
                    .contains(&format!("pid {}", std::process::id())));
            }
            other => panic!("{other:?}"),
        }
    }
}
