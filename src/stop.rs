//! The `stop` use-case: ask containers to stop with a signal, wait up to a
//! grace period, then SIGKILL those still running and wait again (bounded),
//! as `docker stop` does.
//!
//! - Every container is signalled first, then all are waited for under one
//!   deadline, so N containers take one grace period, not N.
//! - Waiting goes through the container's monitor when it has one (the lock
//!   `wait` blocks on, released when the monitor has recorded the init's
//!   end), else by polling the runtime's `state`. Every wait has a deadline.
//! - A paused container is signalled, then resumed so it can act on the
//!   signal (a frozen process cannot). A created container, whose process
//!   never started, has nothing to shut down gracefully: it gets SIGKILL at
//!   once (what `delete --force` would send).
//! - The exit status is reported only when this instance's monitor
//!   recorded it (a record of an earlier container with the same ID is no
//!   information); otherwise it is unknown, never invented.
//!
//! The driver knows nothing of this: it only runs `state`, `kill` and
//! `resume`.

use std::time::{Duration, Instant};

use crate::parallel;
use crate::runtime::{self, Container, ContainerId, ErrorKind, KillOpts, Runtime, Status};
use crate::shim::state::{ExitInfo, StateDir};
use crate::signal::Signal;

/// How often a container without a monitor is asked for its state.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long a container may take to end after SIGKILL before it is
/// reported as not stopped (a process stuck in the kernel, say).
pub const KILL_WAIT: Duration = Duration::from_secs(10);
/// How long to wait for the monitor of a container found stopped to write
/// its exit record.
const RECORD_WAIT: Duration = Duration::from_secs(2);

/// What `stop` was asked.
#[derive(Debug, Clone)]
pub struct StopRequest {
    /// The signal asking the container to stop (TERM by default).
    pub signal: Signal,
    /// How long it may take before SIGKILL.
    pub grace: Duration,
}

/// A container that has stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub id: ContainerId,
    /// It had stopped before `stop` came: nothing was sent.
    pub already_stopped: bool,
    /// The signal sent first (SIGKILL for a created container); `None`
    /// when it had stopped already.
    pub signal: Option<Signal>,
    /// It was still running after the grace period and got SIGKILL.
    pub escalated: bool,
    /// How its init ended: `Known` only from this instance's monitor;
    /// `NoMonitor` or `Unknown(reason)` otherwise.
    pub exit: ExitInfo,
}

/// One container's result (the error boxed: it is large and rare).
pub type StopOutcome = Result<Stopped, Box<StopError>>;

/// Why a container was not stopped.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    #[error("cannot read the state of container {id}")]
    State {
        id: ContainerId,
        #[source]
        source: runtime::Error,
    },
    #[error("cannot send {signal} to container {id}")]
    Signal {
        id: ContainerId,
        signal: Signal,
        #[source]
        source: runtime::Error,
    },
    #[error("container {id} did not stop: it was not seen stopped within {after:?} of SIGKILL")]
    NotStopped {
        id: ContainerId,
        after: Duration,
        /// What went wrong on the way (SIGKILL or the resume failed).
        #[source]
        cause: Option<runtime::Error>,
    },
}

/// A container that was signalled and is being waited for.
#[derive(Debug)]
struct Target {
    id: ContainerId,
    /// Its monitor's state, when this instance has one.
    monitor: Option<StateDir>,
    /// It is paused still (its resume failed): resumed after SIGKILL.
    paused: bool,
    signal: Signal,
    /// The last thing that failed (a resume, SIGKILL), for the report.
    problem: Option<runtime::Error>,
}

/// What the first phase made of one container.
enum Signalled {
    Done(StopOutcome),
    Waiting(Target),
}

/// The longest grace period honoured (a year).
const MAX_GRACE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Stop every container in `ids` as `req` says: one result per ID, in
/// the order given. A failure of one never keeps the others from being
/// stopped.
pub fn stop(runtime: &Runtime, ids: &[ContainerId], req: &StopRequest) -> Vec<StopOutcome> {
    let first = parallel::map(ids, parallel::RUNTIME_CALLS, |id| {
        signal_first(runtime, id, req.signal)
    });
    // A grace of years is as good as forever (and `Instant + Duration`
    // would panic on overflow).
    let grace_end = Instant::now() + req.grace.min(MAX_GRACE);
    let mut results: Vec<Option<StopOutcome>> = Vec::new();
    let mut targets = Vec::new();
    for (i, step) in first.into_iter().enumerate() {
        match step {
            Signalled::Done(result) => results.push(Some(result)),
            Signalled::Waiting(target) => {
                results.push(None);
                targets.push((i, target));
            }
        }
    }

    let ended = parallel::map(&targets, parallel::RUNTIME_CALLS, |(_, t)| {
        wait_stopped(runtime, t, grace_end)
    });
    let mut late = Vec::new();
    for ((i, target), exit) in targets.into_iter().zip(ended) {
        match exit {
            Ok(exit) => results[i] = Some(Ok(stopped(target, false, exit))),
            Err(_) => late.push((i, target)),
        }
    }

    // The grace period is over: SIGKILL (unless that was the signal), and
    // a bounded wait for it to take.
    let killed = parallel::map(&late, parallel::RUNTIME_CALLS, |(_, t)| kill(runtime, t));
    let kill_end = Instant::now() + KILL_WAIT;
    let mut escalated = Vec::new();
    for ((_, target), (sent, problem)) in late.iter_mut().zip(killed) {
        escalated.push(sent);
        if problem.is_some() {
            target.problem = problem;
        }
    }
    let ended = parallel::map(&late, parallel::RUNTIME_CALLS, |(_, t)| {
        wait_stopped(runtime, t, kill_end)
    });
    for (((i, target), exit), escalated) in late.into_iter().zip(ended).zip(escalated) {
        results[i] = Some(match exit {
            Ok(exit) => Ok(stopped(target, escalated, exit)),
            Err(state_error) => Err(Box::new(StopError::NotStopped {
                id: target.id,
                after: KILL_WAIT,
                cause: target.problem.or(state_error),
            })),
        });
    }
    results
        .into_iter()
        .map(|r| r.expect("every container has a result"))
        .collect()
}

fn stopped(target: Target, escalated: bool, exit: ExitInfo) -> Stopped {
    Stopped {
        id: target.id,
        already_stopped: false,
        signal: Some(target.signal),
        escalated,
        exit,
    }
}

/// Read the container's state and send it its first signal.
fn signal_first(runtime: &Runtime, id: &ContainerId, signal: Signal) -> Signalled {
    let container = match runtime.state(id) {
        Ok(c) => c,
        Err(source) => {
            return Signalled::Done(Err(Box::new(StopError::State {
                id: id.clone(),
                source,
            })))
        }
    };
    let monitor = monitor_of(runtime, &container, id);
    let signal = match container.status {
        Status::Stopped => {
            return Signalled::Done(Ok(Stopped {
                id: id.clone(),
                already_stopped: true,
                signal: None,
                escalated: false,
                exit: recorded_exit(monitor.as_ref()),
            }))
        }
        // Its process never started: nothing to shut down gracefully.
        Status::Created => Signal::KILL,
        _ => signal,
    };
    let paused = matches!(container.status, Status::Paused | Status::Pausing);
    match send(runtime, id, signal, paused) {
        // It stopped between the state and the signal.
        Ok(sent) if !sent.delivered => Signalled::Done(Ok(Stopped {
            id: id.clone(),
            already_stopped: true,
            signal: None,
            escalated: false,
            exit: recorded_exit(monitor.as_ref()),
        })),
        Ok(sent) => Signalled::Waiting(Target {
            id: id.clone(),
            monitor,
            paused: sent.resume_failed.is_some(),
            signal,
            problem: sent.resume_failed,
        }),
        Err(source) => Signalled::Done(Err(Box::new(StopError::Signal {
            id: id.clone(),
            signal,
            source,
        }))),
    }
}

/// The container's monitor state, when it is of this instance (a stale
/// one, of an earlier container with the same ID, is removed).
fn monitor_of(runtime: &Runtime, container: &Container, id: &ContainerId) -> Option<StateDir> {
    let dir = StateDir::of(runtime, id);
    if dir.is_stale_for(container) {
        dir.remove_stale();
        return None;
    }
    dir.exists().then_some(dir)
}

/// What the monitor recorded of a container that has stopped (it may be
/// writing it right now).
fn recorded_exit(monitor: Option<&StateDir>) -> ExitInfo {
    let Some(dir) = monitor else {
        return ExitInfo::NoMonitor;
    };
    match dir.exit_info() {
        ExitInfo::Pending => dir.wait_for(RECORD_WAIT).unwrap_or_else(|| {
            ExitInfo::Unknown(format!(
                "its monitor had not recorded it {RECORD_WAIT:?} after the container stopped"
            ))
        }),
        info => info,
    }
}

/// What sending a signal did.
struct Sent {
    /// The runtime signalled it (false: it had ended meanwhile).
    delivered: bool,
    /// It was paused and could not be resumed (so it cannot act yet).
    resume_failed: Option<runtime::Error>,
}

/// Send `signal`; a paused container is resumed after it. A container that
/// ended meanwhile is no failure.
fn send(
    runtime: &Runtime,
    id: &ContainerId,
    signal: Signal,
    paused: bool,
) -> Result<Sent, runtime::Error> {
    let delivered = match runtime.kill(id, &KillOpts { signal, all: false }) {
        Ok(()) => true,
        Err(e)
            if matches!(
                e.kind(),
                Some(ErrorKind::NotRunning | ErrorKind::HasStopped)
            ) =>
        {
            false
        }
        Err(e) => return Err(e),
    };
    let resume_failed = match paused {
        true => runtime
            .resume(id)
            .err()
            .filter(|e| e.kind() != Some(ErrorKind::NotPaused)),
        false => None,
    };
    if let Some(e) = &resume_failed {
        tracing::debug!(%id, error = %e, "resuming after the signal");
    }
    Ok(Sent {
        delivered,
        resume_failed,
    })
}

/// SIGKILL after the grace period (not again when that was the signal, but
/// a resume again if one failed): whether SIGKILL reached it, and what
/// failed, if anything.
fn kill(runtime: &Runtime, target: &Target) -> (bool, Option<runtime::Error>) {
    if target.signal == Signal::KILL && !target.paused {
        return (false, None);
    }
    match send(runtime, &target.id, Signal::KILL, target.paused) {
        Ok(sent) => (
            sent.delivered && target.signal != Signal::KILL,
            sent.resume_failed,
        ),
        Err(e) => (false, Some(e)),
    }
}

/// Wait until the container has stopped or `deadline` passed (it is
/// looked at once even then): how it ended, or — still running, or its
/// state unreadable — the last error reading its state. The runtime has
/// the last word: a monitor that has not let go by the deadline does not
/// make a stopped container a running one.
fn wait_stopped(
    runtime: &Runtime,
    target: &Target,
    deadline: Instant,
) -> Result<ExitInfo, Option<runtime::Error>> {
    let mut lost = None;
    if let Some(dir) = &target.monitor {
        match dir.exit_info() {
            ExitInfo::Known(r) => return Ok(ExitInfo::Known(r)),
            ExitInfo::Pending => {
                let left = deadline.saturating_duration_since(Instant::now());
                match dir.wait_for(left) {
                    Some(ExitInfo::Known(r)) => return Ok(ExitInfo::Known(r)),
                    // The monitor ended without a record: the runtime says.
                    Some(other) => lost = Some(other),
                    // Timed out (or the lock failed): the runtime says.
                    None => {}
                }
            }
            other => lost = Some(other),
        }
    }
    let exit = || {
        lost.clone()
            .unwrap_or_else(|| recorded_exit(target.monitor.as_ref()))
    };
    loop {
        let mut unreadable = None;
        match runtime.state(&target.id) {
            Ok(c) if c.status == Status::Stopped => return Ok(exit()),
            // Deleted by someone else: it has stopped.
            Err(e) if e.kind() == Some(ErrorKind::NotFound) => return Ok(exit()),
            Err(e) => unreadable = Some(e),
            Ok(_) => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(unreadable);
        }
        std::thread::sleep(left.min(POLL_INTERVAL));
    }
}
