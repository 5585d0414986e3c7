//! The checkpoint use-case: CRIU's preflight, then (with an image root) the
//! lock, recovery of what a crash left, a partial image, runc, and commit
//! or roll back; signals wait for runc and CRIU instead of orphaning them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::error::{RuntimeFailure, StoreError};
use super::partial::KeptLog;
use super::store::{disk_usage, ImageRoot, Recovery};
use crate::runtime::criu::{self, Criu};
use crate::runtime::{self, CheckpointOpts, ContainerId, Runtime, Status};

/// What to checkpoint and where.
#[derive(Debug, Clone, Default)]
pub struct CheckpointRequest {
    /// runc's options; with `image_root`, the image path is chosen here.
    pub opts: CheckpointOpts,
    pub image_root: Option<PathBuf>,
    /// Keep this many complete images (with `image_root`).
    pub keep: Option<usize>,
    /// Told about each SIGINT/SIGTERM/SIGHUP while runc runs (the CLI
    /// prints it): the first is deferred until runc and CRIU finished, the
    /// second aborts ocictl at once, leaving them to finish on their own.
    pub on_signal: Option<fn(&SignalNotice)>,
    /// Told about each partial image a crashed run had left, as soon as it
    /// is dealt with (whatever this run then does).
    pub on_recovery: Option<fn(&Recovery)>,
}

/// A signal that arrived during a checkpoint, and what ocictl does about it.
#[derive(Debug, Clone)]
pub struct SignalNotice {
    pub signal: i32,
    /// The second signal: ocictl dies of it right after this notice.
    pub aborting: bool,
    /// The partial image runc and CRIU are writing, if it exists yet.
    pub partial: Option<PathBuf>,
    /// The lock they hold (with an image root).
    pub lock: Option<PathBuf>,
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
    /// Partial images crashed runs had left, and what became of them.
    pub recovered: Vec<Recovery>,
    /// The signal that arrived while runc ran (its exit is then 128+N).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted_by: Option<String>,
    #[serde(skip)]
    pub interrupted: Option<i32>,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Check what runc cannot say clearly: CRIU is there, new enough, and the
/// kernel has what the options need; every question bounded by `--timeout`.
pub fn preflight(runc: &Runtime, opts: &CheckpointOpts) -> Result<Criu, StoreError> {
    let preflight = |e| StoreError::Preflight(Box::new(e));
    let criu = Criu::locate(runc.criu.as_deref(), runc.timeout).map_err(preflight)?;
    if opts.pre_dump {
        criu.require_memory_tracking(runc.timeout)
            .map_err(preflight)?;
    }
    Ok(criu)
}

/// The signals of one checkpoint run: the first is held until runc is done,
/// the second kills ocictl as if it had no handler.
struct SignalGuard {
    first: Arc<AtomicI32>,
    partial: Arc<Mutex<Option<PathBuf>>>,
    handle: signal_hook::iterator::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SignalGuard {
    fn install(lock: Option<PathBuf>, notify: Option<fn(&SignalNotice)>) -> std::io::Result<Self> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        let first = Arc::new(AtomicI32::new(0));
        let partial = Arc::new(Mutex::new(None::<PathBuf>));
        let (seen, where_) = (first.clone(), partial.clone());
        let thread = std::thread::spawn(move || {
            for sig in signals.forever() {
                let aborting = seen
                    .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err();
                if let Some(notify) = notify {
                    notify(&SignalNotice {
                        signal: sig,
                        aborting,
                        partial: where_.lock().ok().and_then(|p| p.clone()),
                        lock: lock.clone(),
                    });
                }
                if aborting {
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                }
            }
        });
        Ok(SignalGuard {
            first,
            partial,
            handle,
            thread: Some(thread),
        })
    }

    fn received(&self) -> Option<i32> {
        Some(self.first.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    fn writing(&self, partial: &std::path::Path) {
        if let Ok(mut p) = self.partial.lock() {
            *p = Some(partial.to_path_buf());
        }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Checkpoint `id`. With an image root: take the lock (a second run fails
/// at once), recover what crashed runs left, preflight, write a partial
/// image, rename it when runc succeeded or roll it back when not, prune.
pub fn checkpoint(
    runc: &Runtime,
    id: &ContainerId,
    req: &CheckpointRequest,
) -> Result<CheckpointSummary, StoreError> {
    let started = Instant::now();
    super::export_helper_path();
    let mut opts = req.opts.clone();
    let store = match &req.image_root {
        Some(root) => {
            let images = ImageRoot::create_or_verify(root)?.create_container(id.as_str())?;
            let lock = images.lock(id.as_str())?;
            Some((images, lock))
        }
        None => None,
    };
    let guard = SignalGuard::install(store.as_ref().map(|(_, l)| l.path.clone()), req.on_signal)
        .map_err(super::error::io("cannot handle signals"))?;
    let recovered = match &store {
        Some((images, lock)) => images.recover(lock)?,
        None => Vec::new(),
    };
    if let Some(tell) = req.on_recovery {
        recovered.iter().for_each(tell);
    }
    // CRIU's preflight and the container's state (to tell, after a failure,
    // whether it was running) are process starts: run them side by side.
    // The lock is not inherited by either (a hung CRIU killed at the
    // timeout cannot keep it).
    let (criu, before) = std::thread::scope(|scope| {
        let state = scope.spawn(|| runc.state(id).ok().map(|c| c.status));
        let criu = preflight(runc, &req.opts);
        (criu, state.join().ok().flatten())
    });
    let criu = criu?;
    if let Some(signal) = guard.received() {
        return Err(StoreError::Interrupted { signal });
    }
    let partial = match &store {
        Some((images, lock)) => {
            let partial = images.begin(lock)?;
            opts.criu.image_path = Some(partial.path.clone());
            guard.writing(&partial.path);
            lock.inherit(true)?;
            Some(partial)
        }
        None => None,
    };
    let result = runc.checkpoint(id, &opts);
    if let Some((_, lock)) = &store {
        lock.inherit(false)?;
    }
    let interrupted = guard.received();
    // The container is gone: so is what its shim kept (its exit record
    // would otherwise be shown for the restored one).
    if result.is_ok() && !(opts.leave_running || opts.pre_dump) {
        let _ = crate::shim::state::StateDir::of(runc, id).remove(Duration::from_secs(5));
    }
    let (image_path, pruned) = match (result, &store, partial) {
        (Err(source), Some((images, lock)), Some(partial)) => {
            let kept = images.roll_back(partial, lock)?;
            return Err(failure(runc, id, source, kept, before, interrupted));
        }
        (Err(source), _, _) => {
            let log_dir = opts
                .log_dir()
                .map(PathBuf::from)
                .unwrap_or_else(|| "checkpoint".into());
            let log = log_dir.join("dump.log");
            let kept = criu::read_log_tail(&log).map(|text| KeptLog { path: log, text });
            return Err(failure(runc, id, source, kept, before, interrupted));
        }
        (Ok(()), Some((images, lock)), Some(partial)) => {
            let path = images.commit(partial, lock)?;
            let pruned = match req.keep {
                Some(keep) => images.prune(keep, &path, lock)?,
                None => Vec::new(),
            };
            (path, pruned)
        }
        // runc's default image path is ./checkpoint.
        (Ok(()), _, _) => (
            opts.criu
                .image_path
                .clone()
                .unwrap_or_else(|| PathBuf::from("checkpoint")),
            Vec::new(),
        ),
    };
    drop(guard);
    Ok(CheckpointSummary {
        container: id.to_string(),
        bytes: disk_usage(&image_path),
        image_path: std::path::absolute(&image_path).unwrap_or(image_path),
        duration: started.elapsed(),
        left_running: opts.leave_running || opts.pre_dump,
        pre_dump: opts.pre_dump,
        criu_version: criu.version,
        pruned,
        recovered,
        interrupted_by: interrupted.map(signal_name),
        interrupted,
    })
}

pub(crate) fn signal_name(sig: i32) -> String {
    crate::signal::Signal::from_number(sig)
        .map(|s| s.name())
        .unwrap_or_else(|| format!("signal {sig}"))
}

/// A failed `runc checkpoint`, with CRIU's own words (from the log kept
/// aside) and what became of the container.
fn failure(
    runc: &Runtime,
    id: &ContainerId,
    source: runtime::Error,
    kept: Option<KeptLog>,
    before: Option<Status>,
    interrupted: Option<i32>,
) -> StoreError {
    let after = runc.state(id).ok().map(|c| c.status);
    let mut aftermath: Vec<String> = match (before, after) {
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
    }
    .into_iter()
    .collect();
    if let Some(sig) = interrupted {
        aftermath.push(format!(
            "{} arrived during the dump; ocictl waited for runc and CRIU, then removed the partial image",
            signal_name(sig)
        ));
    }
    RuntimeFailure::error(source, kept.map(|k| (k.path, k.text)), aftermath)
}
