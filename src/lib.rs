//! ocictl's library: the runc driver (the Rust counterpart of go-runc) and the
//! parsers for the loose values operators type (signals, durations, sizes).
//!
//! The driver never prints: it builds argv, runs the runtime, and returns typed
//! values or a [`runc::Error`] that keeps what ran and what the runtime said.

pub mod bundle;
pub mod checkpoint;
pub mod duration;
pub mod image;
pub mod input_file;
pub mod runtime;
pub mod secure_dir;
pub mod shim;
pub mod signal;
pub mod size;
pub mod staged_dir;
pub mod tty;
