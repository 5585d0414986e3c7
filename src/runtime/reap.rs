//! Reaping: every `waitpid` of the crate goes through here, so the rules
//! live in one place — EINTR is retried, a stop or continue is not an end,
//! and a child subreaper collects every orphan that lands on it while it
//! waits for the one process it cares about (go-runc's `ProcessMonitor`
//! has the same job).

use nix::errno::Errno;
use std::process::Child;

use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::error::Termination;

/// How `pid` ended, if it has (without blocking); `Ok(None)` while it runs.
pub fn try_wait(pid: Pid) -> nix::Result<Option<Termination>> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(s) => return Ok(Termination::from_wait_status(s)),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Block until `pid` has ended.
pub fn wait(pid: Pid) -> nix::Result<Termination> {
    loop {
        match waitpid(pid, None) {
            Ok(s) => {
                if let Some(t) = Termination::from_wait_status(s) {
                    return Ok(t);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reap every child that has ended (the orphans a subreaper inherits
/// included), without blocking; how `pid` ended when it was among them.
/// `ECHILD` (no children at all) is an error only while `pid` is unseen.
pub fn reap_ready(pid: Pid) -> nix::Result<Option<Termination>> {
    let mut found = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(found),
            Ok(s) if s.pid() == Some(pid) => {
                if let Some(t) = Termination::from_wait_status(s) {
                    found = Some(t);
                }
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) if found.is_some() => return Ok(found),
            Err(e) => return Err(e),
        }
    }
}

/// [`reap_ready`] without its error: what ended, `pid` among it or not (a
/// subreaper with nothing left to reap has seen all it will see).
pub fn reap_now(pid: Pid) -> Option<Termination> {
    reap_ready(pid).ok().flatten()
}

/// The end of `pid` if it has ended, reaping every other ended child too;
/// `Err` when it is not our child at all (so no end will come).
pub fn ended(pid: Pid) -> nix::Result<Option<Termination>> {
    match reap_now(pid) {
        Some(t) => Ok(Some(t)),
        None => try_wait(pid),
    }
}

/// Block, reaping every orphan that lands here meanwhile, until `pid` has
/// ended.
pub fn reap_until(pid: Pid) -> nix::Result<Termination> {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(s) if s.pid() == Some(pid) => {
                if let Some(t) = Termination::from_wait_status(s) {
                    return Ok(t);
                }
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Block until `child` has exited, call `exited` while it is still a zombie
/// (its pid cannot have been reused yet: a signal sent before this is safe),
/// then reap it.
pub fn wait_then_reap(mut child: Child, exited: impl FnOnce()) -> std::io::Result<Termination> {
    let pid = Pid::from_raw(child.id() as i32);
    loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    exited();
    Ok(Termination::from_status(child.wait()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::zombie_processes)] // reaped by pid, through this module
    fn statuses_of_real_children() {
        let child = std::process::Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        let pid = Pid::from_raw(child.id() as i32);
        assert_eq!(wait(pid).unwrap(), Termination::Exited(7));

        let child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = Pid::from_raw(child.id() as i32);
        assert_eq!(try_wait(pid).unwrap(), None);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        assert_eq!(wait(pid).unwrap(), Termination::Signaled(9));
        assert_eq!(try_wait(pid), Err(Errno::ECHILD));
    }
}
