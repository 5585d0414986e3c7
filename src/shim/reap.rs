//! Reaping, for a shim that is a child subreaper: the container's init
//! and every orphan re-parented to it end up here.

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::runtime::Termination;

/// Reap every child that has ended, without blocking; the end of `pid`
/// when it is among them.
pub fn reap_now(pid: Pid) -> Option<Termination> {
    let mut found = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return found,
            Ok(s) if s.pid() == Some(pid) => {
                if let Some(t) = Termination::from_wait_status(s) {
                    found = Some(t);
                }
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return found,
        }
    }
}

/// The end of `pid` if it has ended (reaping every other ended child
/// too); `Err` when it is not our child at all (so no end will come).
pub fn check(pid: Pid) -> Result<Option<Termination>, Errno> {
    if let Some(t) = reap_now(pid) {
        return Ok(Some(t));
    }
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(s) => {
                if let Some(t) = Termination::from_wait_status(s) {
                    return Ok(Some(t));
                }
                return Ok(None);
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// The end of `pid` alone, without blocking (other ended children are
/// left for later: while the runtime runs, the container's init may end
/// too, and its status must not be reaped away here).
pub fn check_one(pid: Pid) -> Result<Option<Termination>, Errno> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(s) => return Ok(Termination::from_wait_status(s)),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}
