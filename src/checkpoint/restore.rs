//! The restore use-case: find the image (`--image-root DIR --latest`: the
//! newest complete one, after recovering what a crashed checkpoint left),
//! check it is one, check the terminal, then [`launch`] runc.

use std::path::{Path, PathBuf};

use super::error::{RuntimeFailure, StoreError};
use super::store::{ContainerImages, ImageRoot, Recovery, Skipped};
use crate::runtime::criu;
use crate::runtime::{self, ContainerId, RestoreOpts, Runtime, Termination};

/// What to restore and from where.
#[derive(Debug, Clone, Default)]
pub struct RestoreRequest {
    pub opts: RestoreOpts,
    /// Restore the newest complete image under this root.
    pub image_root: Option<PathBuf>,
    /// Whose images to look at under the root (default: the restored ID).
    pub from: Option<ContainerId>,
    /// Told about each partial image a crashed checkpoint had left, as soon
    /// as it is dealt with.
    pub on_recovery: Option<fn(&Recovery)>,
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
    /// Entries `--latest` passed over because they are not images.
    pub skipped: Vec<Skipped>,
    /// Partial images a crashed checkpoint had left, dealt with first.
    pub recovered: Vec<Recovery>,
    /// A detached restore's monitor, when it was given one.
    pub monitored: Option<crate::shim::client::Monitored>,
}

/// Restore `id`: find the image, check it looks like one, check the
/// terminal, run runc, and explain a failure with CRIU's restore.log.
pub fn restore(
    runc: &Runtime,
    id: &ContainerId,
    req: &RestoreRequest,
) -> Result<Restored, StoreError> {
    super::export_helper_path();
    let mut opts = req.opts.clone();
    let (mut skipped, mut recovered) = (Vec::new(), Vec::new());
    if let Some(root) = &req.image_root {
        let from = req.from.as_ref().unwrap_or(id);
        let images = open_images(root, from.as_str())?;
        // Briefly, to turn a crash's complete partial into an image. A
        // checkpoint holding the lock now is writing a partial that is not
        // an image yet (and will recover any crash's itself): then restore
        // picks among the complete images without waiting.
        match images.lock(from.as_str()) {
            Ok(lock) => recovered = images.recover(&lock)?,
            Err(StoreError::Locked { .. }) => {}
            Err(e) => return Err(e),
        }
        if let Some(tell) = req.on_recovery {
            recovered.iter().for_each(tell);
        }
        let (latest, passed) = images.latest(from.as_str())?;
        skipped = passed;
        opts.criu.image_path = Some(latest);
    }
    let image_path = opts
        .criu
        .image_path
        .clone()
        .unwrap_or_else(|| PathBuf::from("checkpoint"));
    if !image_path.join("inventory.img").is_file() {
        return Err(StoreError::NoImage {
            message: format!(
                "{} is not a checkpoint image ({}): nothing to restore",
                image_path.display(),
                if image_path.is_dir() {
                    "it has no inventory.img"
                } else {
                    "it does not exist"
                }
            ),
            skipped: Vec::new(),
        });
    }
    // Only that CRIU is there: its version was checked when the image was made.
    criu::find(runc.criu.as_deref()).map_err(|e| StoreError::Preflight(Box::new(e)))?;
    if let (true, Some(monitor)) = (opts.detach, &req.monitor) {
        return crate::shim::client::restore_detached(runc, id, &opts, monitor, &image_path)
            .map(|monitored| Restored {
                image_path: std::path::absolute(&image_path).unwrap_or(image_path.clone()),
                status: Termination::Exited(0),
                skipped,
                recovered,
                monitored: Some(monitored),
            })
            .map_err(|e| failure(e, &opts, &image_path));
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
            let copy = b.with_terminal().map_err(|e| StoreError::Io {
                context: "cannot make the terminal copy".into(),
                source: std::io::Error::other(e.to_string()),
            })?;
            opts.bundle = Some(copy.path().to_path_buf());
            _copy = Some(copy);
            terminal = true;
        }
    }
    if terminal && opts.console_socket.is_none() && opts.detach {
        return Err(StoreError::TerminalNeeded { bundle: bundle_dir });
    }
    match launch(runc, id, &opts, terminal) {
        Ok(status) => Ok(Restored {
            image_path: std::path::absolute(&image_path).unwrap_or(image_path),
            status,
            skipped,
            recovered,
            monitored: None,
        }),
        Err(source) => Err(failure(source, &opts, &image_path)),
    }
}

/// The one place a restore starts runc: in the foreground with a terminal
/// ocictl relays itself, else with ocictl's stdio (detached or not).
pub fn launch(
    runc: &Runtime,
    id: &ContainerId,
    opts: &RestoreOpts,
    terminal: bool,
) -> Result<Termination, runtime::Error> {
    if terminal && opts.console_socket.is_none() {
        // In the foreground ocictl is the terminal's receiver itself.
        runc.restore_terminal(id, opts)
    } else {
        runc.restore(id, opts)
    }
}

fn open_images(root: &Path, id: &str) -> Result<ContainerImages, StoreError> {
    let no_image = |message: String| StoreError::NoImage {
        message,
        skipped: Vec::new(),
    };
    let root_dir = ImageRoot::open(root)?.ok_or_else(|| {
        no_image(format!(
            "there is no complete checkpoint of container {id}: the image root {} does not exist",
            root.display()
        ))
    })?;
    root_dir.container(id)?.ok_or_else(|| {
        no_image(format!(
            "there is no complete checkpoint of container {id} under {} (no {})",
            root.display(),
            root_dir.container_path(id).display()
        ))
    })
}

fn failure(source: runtime::Error, opts: &RestoreOpts, image: &Path) -> StoreError {
    let log = opts
        .criu
        .work_path
        .as_deref()
        .unwrap_or(image)
        .join("restore.log");
    let kept = criu::read_log_tail(&log).map(|text| (log, text));
    RuntimeFailure::error(source, kept, Vec::new())
}
