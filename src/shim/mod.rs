//! The per-container shim (what conmon or containerd-shim is to their
//! clients): the detached process that `create` and `run -d` leave beside a
//! container, and everything about the state directory it keeps.
//!
//! - [`state`]: the state directory's layout, exit records, the lock readers
//!   wait on;
//! - [`server`]: the shim process itself (start handshake, reaping, the
//!   terminal loop and the attach server);
//! - [`attach`]: the attach protocol and its client.

pub mod attach;
pub mod server;
pub mod state;
