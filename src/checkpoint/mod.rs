//! Checkpoints that cron can trust, in three parts kept apart:
//!
//! - [`store`]: the image store: an image root of timestamped images per
//!   container, its lock, what counts as an image, `--keep` and `--latest`;
//!   all by directory fd in directories ocictl created or verified; and
//!   [`partial`]: partial images, their commit, roll back (failed dumps'
//!   logs) and recovery after a crash.
//! - [`dump`]: the checkpoint use-case (CRIU preflight, lock, runc, commit
//!   or roll back, signals).
//! - [`restore`]: the restore use-case (which image, checks, the one launch).
//!
//! The use-cases sit between the commands (arguments → request, result →
//! renderer) and the driver (`crate::runtime`, which builds every argv,
//! restore's included). [`StoreError`] is typed so the CLI picks its exit
//! code and hint by variant, and keeps the driver's error as its source.

pub mod dump;
mod error;
pub mod partial;
pub mod restore;
pub mod store;

pub use dump::{checkpoint, CheckpointRequest, CheckpointSummary, SignalNotice};
pub use error::{RuntimeFailure, StoreError};
pub use restore::{restore, RestoreRequest, Restored};
pub use store::{ContainerImages, ImageRoot, Recovery, Skipped};

/// Give runc and CRIU (and ocictl's own lookups) a PATH with the sbin
/// directories cron's lacks: CRIU is in /usr/local/sbin or /usr/sbin, and
/// runs `iptables-restore` from /usr/sbin. Both use-cases call this first,
/// before they start any thread (changing the environment is only safe
/// while no other thread reads it).
fn export_helper_path() {
    let path = crate::runtime::criu::helper_path(std::env::var_os("PATH").as_deref());
    std::env::set_var("PATH", path);
}
