//! The per-container shim (what conmon or containerd-shim is to their
//! clients): the detached process that `create`, `run -d` and `restore -d`
//! leave beside a container, and everything about the state directory it
//! keeps. One concern per file:
//!
//! - [`layout`]: where the state directory is and every name inside it;
//! - [`protocol`]: the job and the report between a caller and its shim;
//! - [`claim`]: taking a container's state directory before anything runs;
//! - [`client`]: the caller's side (start, handshake, abort on Ctrl-C);
//! - [`server`]: the shim process (fd hygiene, running the runtime,
//!   recording the exit);
//! - [`pty`]: a terminal shim's loop and its attach server;
//! - [`capture`]: the loop reading a `--capture` container's stdout/stderr;
//! - [`console_log`]: the capped, rotated log and the monitor's writer;
//! - [`log_record`]: that log's timed records, written and read;
//! - [`state`]: the records as every other command reads them;
//! - [`attach`]: the attach protocol and its client.

pub mod attach;
pub mod capture;
pub mod claim;
pub mod client;
pub mod console_log;
pub mod layout;
pub mod log_record;
pub mod protocol;
pub mod pty;
pub mod server;
pub mod state;
