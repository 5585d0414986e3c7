//! The `run` use-case: which of the driver's launch paths a `run` takes —
//! detached under a shim, in the foreground with a terminal ocictl relays,
//! or with runc's own stdio — and where the private copy of the bundle
//! lives when the run edits it (`-t` on a bundle without a terminal, the
//! override flags): in the container's state directory when the container
//! outlives the command, in a private temporary directory otherwise. The
//! user's bundle is never edited; `state` and `list` still name it.

use std::path::PathBuf;

use crate::bundle::{BundleCopy, BundleError};
use crate::runtime::{self, ContainerId, RunOpts, Runtime, Termination};
use crate::shim::client::{Claim, MonitorOpts, Monitored};

/// What to run, decided by the command line.
#[derive(Debug)]
pub struct RunRequest {
    /// The runtime's options; `create.bundle` is the user's bundle.
    pub opts: RunOpts,
    /// The edited copy of the bundle to run instead, if any.
    pub copy: Option<BundleCopy>,
    /// A detached run's shim, when it gets one.
    pub monitor: Option<MonitorOpts>,
    /// In the foreground with a terminal and no console socket: ocictl
    /// receives the pty and relays it.
    pub relay_terminal: bool,
}

/// How a run went.
#[derive(Debug)]
pub enum RunOutcome {
    /// Detached under a shim.
    Monitored(Monitored),
    /// Detached without a shim (runc's process tree), or in the foreground:
    /// how the runtime (the process, in the foreground) ended.
    Ended(Termination),
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Runtime(#[source] runtime::Error),
    #[error("{0}")]
    Bundle(#[source] BundleError),
}

impl From<runtime::Error> for RunError {
    fn from(e: runtime::Error) -> Self {
        RunError::Runtime(e)
    }
}

/// Run `id` as `req` says.
pub fn run(runtime: &Runtime, id: &ContainerId, req: RunRequest) -> Result<RunOutcome, RunError> {
    let RunRequest {
        mut opts,
        copy,
        mut monitor,
        relay_terminal,
    } = req;
    let mut private = None;
    if let Some(copy) = copy {
        if let Some(m) = monitor.as_mut() {
            // The shim writes it into the state directory it claims.
            m.bundle_copy = Some(copy);
        } else if opts.detach || opts.keep {
            return Ok(RunOutcome::Ended(with_kept_copy(
                runtime,
                id,
                &copy,
                |path| {
                    if let Some(path) = path {
                        opts.create.bundle = Some(path);
                    }
                    launch(runtime, id, &opts, relay_terminal)
                },
            )?));
        } else {
            let dir = copy.write_private().map_err(RunError::Bundle)?;
            opts.create.bundle = Some(dir.path().to_path_buf());
            private = Some(dir);
        }
    }
    if let Some(monitor) = &monitor {
        return Ok(RunOutcome::Monitored(
            runtime.run_monitored(id, &opts, monitor)?,
        ));
    }
    let status = launch(runtime, id, &opts, relay_terminal);
    drop(private);
    Ok(RunOutcome::Ended(status?))
}

fn launch(
    runtime: &Runtime,
    id: &ContainerId,
    opts: &RunOpts,
    relay_terminal: bool,
) -> runtime::Result<Termination> {
    if relay_terminal {
        runtime.run_terminal(id, opts)
    } else {
        runtime.run(id, opts)
    }
}

/// Launch a container that outlives the command without a shim (`run -d`
/// or `run --keep` without a monitor, `create` under a supervisor) on
/// `copy`, kept in the container's claimed state directory (removed by
/// `delete`): `launch` gets the copy's path. When the ID is taken,
/// `launch` gets `None` and runs the user's bundle, and the runtime
/// refuses the ID in its own words. The copy is removed again when the launch fails.
pub fn with_kept_copy<T>(
    runtime: &Runtime,
    id: &ContainerId,
    copy: &BundleCopy,
    launch: impl FnOnce(Option<PathBuf>) -> runtime::Result<T>,
) -> runtime::Result<T> {
    let Some(mut claim) = Claim::new(runtime, id)? else {
        return launch(None);
    };
    let path = match claim.write_copy(copy) {
        Ok(path) => path,
        Err(e) => {
            claim.remove();
            return Err(e);
        }
    };
    let result = launch(Some(path));
    // A kept copy is the container's only while the container exists.
    match result.is_ok() {
        true => claim.keep(),
        false => claim.remove(),
    }
    result
}
