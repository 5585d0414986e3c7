//! What ocictl keeps of a monitored container, beside the runtime's root:
//! the per-container state directory the monitor writes and every other
//! command reads (`wait`, `logs`, `attach`, `state`, `list`, `delete`).
//!
//! Layout, for a runtime root `R` (`--root`, else the runtime's default
//! such as `/run/runc`): `R.ocictl/<id>/` — a sibling of the root, never
//! inside it, so the runtime never sees a file it did not write. The base
//! directory and each container's directory are mode 0700.
//!
//! ```text
//! R.ocictl/<id>/lock         the monitor holds flock(LOCK_EX) on it for its whole
//!                            life: free = no monitor (ended, or killed)
//! R.ocictl/<id>/meta.json    monitor pid, init pid, terminal?, log file
//! R.ocictl/<id>/exit.json    the exit record, written (atomically) once the
//!                            monitor reaped the container's init
//! R.ocictl/<id>/console.log  a terminal container's output (unless --log-output)
//! R.ocictl/<id>/attach.sock  a terminal monitor's socket for `attach`/`logs`
//! ```
//!
//! The lock is how readers learn about the monitor without polling: `wait`
//! blocks in `flock(LOCK_SH)`, which returns when the monitor exits, after it
//! wrote the exit record — or when it was killed, in which case there is no
//! record and the exit status is *unknown* (never invented).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::runtime::{absolute, ContainerId, Runtime, Termination};

/// The directory holding every container's monitor state for `runc`'s root.
pub fn base_dir(runc: &Runtime) -> PathBuf {
    let root = match &runc.root {
        Some(root) => PathBuf::from(absolute(root)),
        None => default_root(&runc.binary),
    };
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "runtime".into());
    root.with_file_name(format!("{name}.ocictl"))
}

/// The runtime's own default root, as runc, crun and youki pick it:
/// `/run/<name>` for root, `$XDG_RUNTIME_DIR/<name>` otherwise.
fn default_root(binary: &Path) -> PathBuf {
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "runc".into());
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(xdg) if !root => Path::new(&xdg).join(name),
        _ => Path::new("/run").join(name),
    }
}

/// How a container's init ended, as the monitor saw it when it reaped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The exit code, when it exited.
    pub code: Option<i32>,
    /// The signal number, when a signal killed it.
    pub signal: Option<i32>,
    /// When it was reaped (RFC 3339).
    pub at: String,
}

impl ExitRecord {
    pub fn new(status: Termination) -> ExitRecord {
        let (code, signal) = match status {
            Termination::Exited(c) => (Some(c), None),
            Termination::Signaled(s) => (None, Some(s)),
        };
        ExitRecord {
            code,
            signal,
            at: crate::runtime::types::rfc3339_nano(&chrono::Utc::now()),
        }
    }

    pub fn termination(&self) -> Termination {
        match (self.code, self.signal) {
            (_, Some(s)) => Termination::Signaled(s),
            (Some(c), None) => Termination::Exited(c),
            (None, None) => Termination::Exited(255),
        }
    }
}

/// What the monitor wrote once the container was up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub monitor_pid: i32,
    pub init_pid: i32,
    /// Whether the monitor holds the container's pty (attach works).
    pub terminal: bool,
    /// Where the container's output goes, when someone keeps it.
    pub log: Option<PathBuf>,
}

/// What is known of a container's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitInfo {
    /// No monitor state: started with `--no-monitor`, by runc itself, or
    /// not at all.
    NoMonitor,
    /// The monitor is alive and the container has not ended (yet).
    Pending,
    /// The monitor recorded it.
    Known(ExitRecord),
    /// The monitor ended without recording it (killed, or its disk was
    /// full): it will never be known.
    Unknown(String),
}

impl ExitInfo {
    /// The optional `"exit"` field of `state`/`list`/`wait` JSON: an
    /// object when known, an object with nulls and an `unknown` reason when
    /// it never will be, nothing otherwise (runc's shape).
    pub fn to_json(&self) -> Option<ExitJson> {
        match self {
            ExitInfo::Known(r) => Some(ExitJson {
                code: r.code,
                signal: r.signal,
                at: Some(r.at.clone()),
                unknown: None,
            }),
            ExitInfo::Unknown(reason) => Some(ExitJson {
                code: None,
                signal: None,
                at: None,
                unknown: Some(reason.clone()),
            }),
            ExitInfo::NoMonitor | ExitInfo::Pending => None,
        }
    }
}

/// The `"exit"` object of `state`, `list` and `wait` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExitJson {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub at: Option<String>,
    /// Why the status will never be known (only then present).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// One container's monitor state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    pub fn of(runc: &Runtime, id: &ContainerId) -> StateDir {
        StateDir {
            path: base_dir(runc).join(id.as_str()),
        }
    }

    /// A state directory at `path` (the monitor's staging directory).
    pub fn at(path: PathBuf) -> StateDir {
        StateDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn lock_path(&self) -> PathBuf {
        self.path.join("lock")
    }
    pub fn meta_path(&self) -> PathBuf {
        self.path.join("meta.json")
    }
    pub fn exit_path(&self) -> PathBuf {
        self.path.join("exit.json")
    }
    pub fn console_log_path(&self) -> PathBuf {
        self.path.join("console.log")
    }
    pub fn attach_path(&self) -> PathBuf {
        self.path.join("attach.sock")
    }
    /// Where `run -t` keeps the terminal copy of a bundle for a container
    /// that outlives the command (beside the state directory: the monitor
    /// creates that one itself).
    pub fn bundle_copy_path(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(".bundle");
        name.into()
    }

    pub fn exists(&self) -> bool {
        self.lock_path().exists()
    }

    pub fn meta(&self) -> Option<Meta> {
        serde_json::from_slice(&std::fs::read(self.meta_path()).ok()?).ok()
    }

    pub fn exit_record(&self) -> Option<ExitRecord> {
        serde_json::from_slice(&std::fs::read(self.exit_path()).ok()?).ok()
    }

    /// Whether a monitor holds the lock right now.
    pub fn monitor_alive(&self) -> bool {
        match File::open(self.lock_path()) {
            Ok(f) => !try_flock(&f, libc::LOCK_SH),
            Err(_) => false,
        }
    }

    /// What is known of the container's end, without waiting.
    pub fn exit_info(&self) -> ExitInfo {
        if !self.exists() {
            return ExitInfo::NoMonitor;
        }
        if let Some(r) = self.exit_record() {
            return ExitInfo::Known(r);
        }
        if self.monitor_alive() {
            return ExitInfo::Pending;
        }
        ExitInfo::Unknown(self.lost_reason())
    }

    fn lost_reason(&self) -> String {
        let who = match self.meta() {
            Some(m) => format!("its monitor (pid {})", m.monitor_pid),
            None => "its monitor".into(),
        };
        format!("{who} ended before the container and recorded no exit status (killed?)")
    }

    /// Block until the monitor has ended (in `flock`, no polling), then say
    /// what it recorded.
    pub fn wait(&self) -> io::Result<ExitInfo> {
        let lock = File::open(self.lock_path())?;
        loop {
            // SAFETY: flock on an fd we own.
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_SH) } == 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(match self.exit_record() {
            Some(r) => ExitInfo::Known(r),
            None if !self.path.exists() => {
                ExitInfo::Unknown("the container was deleted before it was seen to end".into())
            }
            None => ExitInfo::Unknown(self.lost_reason()),
        })
    }

    /// Like [`StateDir::wait`], giving up after `timeout` (a helper thread
    /// blocks in flock; the caller waits on a channel).
    pub fn wait_for(&self, timeout: Duration) -> Option<ExitInfo> {
        let me = self.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(me.wait());
        });
        rx.recv_timeout(timeout).ok().and_then(Result::ok)
    }

    /// Remove the directory once its monitor has ended (waiting at most
    /// `timeout` for that). Used by `delete`.
    pub fn remove(&self, timeout: Duration) -> io::Result<()> {
        match std::fs::remove_dir_all(self.bundle_copy_path()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        if !self.path.exists() {
            return Ok(());
        }
        if self.monitor_alive() {
            let _ = self.wait_for(timeout);
        }
        match std::fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// flock without blocking; true when taken.
pub(crate) fn try_flock(file: &File, how: libc::c_int) -> bool {
    // SAFETY: flock on an fd we own.
    unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_lives_beside_the_root_never_inside() {
        let runc = Runtime {
            root: Some("/run/runc".into()),
            ..Runtime::default()
        };
        assert_eq!(base_dir(&runc), Path::new("/run/runc.ocictl"));
        let runc = Runtime {
            root: Some("/tmp/t/root/".into()),
            ..Runtime::default()
        };
        assert_eq!(base_dir(&runc), Path::new("/tmp/t/root.ocictl"));
    }

    #[test]
    fn records_round_trip() {
        let r = ExitRecord::new(Termination::Signaled(9));
        assert_eq!(r.termination(), Termination::Signaled(9));
        let json = r#"{"code":7,"signal":null,"at":"x"}"#;
        let r: ExitRecord = serde_json::from_str(json).unwrap();
        assert_eq!(r.termination(), Termination::Exited(7));
    }
}
