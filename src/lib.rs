//! ocictl's library, usable and testable without the command line:
//!
//! - [`runtime`]: the driver, go-runc's counterpart for runc, crun and youki.
//!   It never prints: it builds argv, runs the runtime through one launch
//!   path, and returns typed values or a [`runtime::Error`] that keeps what
//!   ran, what the runtime said and what it means ([`runtime::ErrorKind`]);
//! - [`shim`]: the per-container process `create`/`run -d` leave behind, and
//!   its state directory;
//! - [`run`]: the run use-case (which launch path, the terminal copy);
//!   [`stop`]: the stop use-case (signal, grace period, SIGKILL; [`parallel`]
//!   bounds the runtime calls of such many-container commands);
//!   [`checkpoint`]: the image store for cron and the checkpoint and
//!   restore use-cases; [`image`]: OCI images unpacked into bundles; [`bundle`];
//!   [`inspect`]: the one document about a container; [`systemd_unit`]: a
//!   unit that starts one at boot;
//! - [`secure_dir`], [`staged_dir`], [`input_file`]: how ocictl touches the
//!   file system as root in shared places (by fd, created or verified,
//!   bounded);
//! - [`tty`], and the parsers for the loose values operators type
//!   ([`signal`], [`duration`], [`size`]).

pub mod bundle;
pub mod checkpoint;
pub mod duration;
pub mod image;
pub mod input_file;
pub mod inspect;
pub mod overrides;
pub mod parallel;
pub mod run;
pub mod runtime;
pub mod secure_dir;
pub mod shim;
pub mod signal;
pub mod size;
pub mod staged_dir;
pub mod stop;
pub mod systemd_unit;
pub mod tty;
