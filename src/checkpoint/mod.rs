//! Checkpoints that cron can trust, in three parts kept apart:
//!
//! - [`store`]: the image store: an image root of timestamped images per
//!   container, its lock, partial images and their recovery after a crash,
//!   failed dumps' logs, `--keep` and `--latest`; all by directory fd in
//!   directories ocictl created or verified.
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
pub mod restore;
pub mod store;

pub use dump::{checkpoint, CheckpointRequest, CheckpointSummary, SignalNotice};
pub use error::{RuntimeFailure, StoreError};
pub use restore::{restore, RestoreRequest, Restored};
pub use store::{ContainerImages, ImageRoot, Recovery, Skipped};
