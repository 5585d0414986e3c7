//! The `run` use-case: which of the driver's launch paths a `run` takes —
//! detached under a shim, in the foreground with a terminal ocictl relays,
//! or with runc's own stdio — and the terminal copy of a bundle that `-t`
//! needs when the bundle's config.json has no terminal (the user's bundle
//! is never edited; `state` and `list` still name it).

use crate::bundle::{Bundle, BundleError};
use crate::runtime::{self, ContainerId, RunOpts, Runtime, Termination};
use crate::shim::client::{Claim, MonitorOpts, Monitored};

/// What to run, decided by the command line.
#[derive(Debug)]
pub struct RunRequest {
    /// The runtime's options; `create.bundle` is the user's bundle.
    pub opts: RunOpts,
    /// `-t`: give the process a terminal whatever config.json says.
    pub tty: bool,
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

/// Run `id` as `req` says. `bundle` is the user's bundle, loaded.
pub fn run(
    runtime: &Runtime,
    id: &ContainerId,
    bundle: &Bundle,
    req: RunRequest,
) -> Result<RunOutcome, RunError> {
    let RunRequest {
        mut opts,
        tty,
        mut monitor,
        relay_terminal,
    } = req;
    let user_bundle = opts.create.bundle.clone().unwrap_or_else(|| ".".into());
    // -t on a bundle without a terminal: a copy that has one. The runtime
    // records its path, so a container that outlives this command gets it
    // in its private state directory (removed by `delete`).
    let mut copy = None;
    let mut kept = None;
    if tty && !bundle.wants_terminal() {
        if let Some(m) = monitor.as_mut() {
            m.terminal_copy_of = Some(user_bundle.clone());
        } else if opts.detach || opts.keep {
            // Taken: the runtime refuses the ID in its own words.
            let Some(mut claim) = Claim::new(runtime, id)? else {
                return Ok(RunOutcome::Ended(runtime.run(id, &opts)?));
            };
            match claim.write_terminal_copy(&user_bundle) {
                Ok(path) => opts.create.bundle = Some(path),
                Err(e) => {
                    claim.remove();
                    return Err(e.into());
                }
            }
            kept = Some(claim);
        } else {
            let private = bundle.with_terminal().map_err(RunError::Bundle)?;
            opts.create.bundle = Some(private.path().to_path_buf());
            copy = Some(private);
        }
    }
    if let Some(monitor) = &monitor {
        return Ok(RunOutcome::Monitored(
            runtime.run_monitored(id, &opts, monitor)?,
        ));
    }
    let status = if relay_terminal {
        runtime.run_terminal(id, &opts)
    } else {
        runtime.run(id, &opts)
    };
    // A kept copy is the container's only while the container exists.
    match (kept, status.is_ok()) {
        (Some(claim), true) => claim.keep(),
        (Some(claim), false) => claim.remove(),
        (None, _) => {}
    }
    drop(copy);
    Ok(RunOutcome::Ended(status?))
}
