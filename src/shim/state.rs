//! What ocictl keeps of a container beside the runtime's root, as every
//! command other than the shim reads it (`wait`, `logs`, `attach`,
//! `state`, `list`, `delete`): the records and the lock of
//! [`crate::shim::layout`], always through verified directory fds.
//!
//! The lock is how readers learn about the shim without polling: `wait`
//! blocks in `flock(LOCK_SH)`, which returns when the shim exits, after it
//! wrote the exit record — or when it was killed, in which case there is no
//! record and the exit status is *unknown* (never invented).
//!
//! A record belongs to one container *instance*: the shim notes the init's
//! pid and the moments just before and after the runtime created it, and
//! runc's `created` timestamp must fall between them. A new container with
//! the same ID (created by bare runc after a checkpoint, say) never shows
//! another's exit; the stale directory is removed by the next ocictl that
//! sees it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::runtime::{Container, ContainerId, Runtime, Termination};
use crate::secure_dir::{DirError, SecureDir};
use crate::shim::layout;

/// The largest record ocictl reads back (they are a few hundred bytes).
const RECORD_CAP: u64 = 64 * 1024;

/// How a container's init ended, as the shim saw it when it reaped it.
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
            at: crate::runtime::types::rfc3339_nano(&Utc::now()),
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

/// What the shim wrote once the container was up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub monitor_pid: i32,
    pub init_pid: i32,
    /// Just before the runtime was started, and just after it returned:
    /// the runtime's `created` timestamp for this instance is in between.
    #[serde(default)]
    pub created_after: Option<DateTime<Utc>>,
    #[serde(default)]
    pub created_before: Option<DateTime<Utc>>,
    /// Whether the shim holds the container's pty (attach works).
    pub terminal: bool,
    /// Where the container's output goes, when someone keeps it.
    pub log: Option<PathBuf>,
    /// The log is the state directory's own `console.log` (rotated).
    #[serde(default)]
    pub log_in_state_dir: bool,
    /// That log holds timed records (see [`crate::shim::log_record`]);
    /// false in a record written before they existed (raw bytes).
    #[serde(default)]
    pub log_records: bool,
}

impl Meta {
    /// Whether this record is of `container`'s instance.
    pub fn belongs_to(&self, container: &Container) -> bool {
        if container.pid > 0 && self.init_pid > 0 && container.pid != self.init_pid {
            return false;
        }
        match (self.created_after, self.created_before) {
            (Some(after), Some(before)) => {
                after <= container.created && container.created <= before
            }
            _ => true,
        }
    }
}

/// Which bundle the user gave when the runtime runs ocictl's copy of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The user's bundle directory (absolute).
    pub bundle: PathBuf,
    /// The copy sets `process.terminal: true`.
    pub terminal: bool,
    /// The run-time overrides the copy applies, in their canonical argv
    /// form (`["--env", "A=1", "--memory", "64M", "--", "sh"]`): `inspect`
    /// shows them, `generate systemd` replays them.
    #[serde(default)]
    pub overrides: Vec<String>,
}

/// What is known of a container's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitInfo {
    /// No shim state: started with `--no-monitor`, by runc itself, or
    /// not at all.
    NoMonitor,
    /// The shim is alive and the container has not ended (yet).
    Pending,
    /// The shim recorded it.
    Known(ExitRecord),
    /// The shim ended without recording it (killed, or its disk was
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

/// One container's state directory, opened (and verified) once.
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
    id: ContainerId,
    opened: Arc<Opened>,
}

#[derive(Debug)]
enum Opened {
    /// Base and container directory, both verified.
    Dir { base: SecureDir, dir: SecureDir },
    /// There is none (or no base).
    Missing,
    /// One of them fails verification: ocictl reads nothing from it.
    Untrusted(DirError),
}

impl StateDir {
    pub fn of(runtime: &Runtime, id: &ContainerId) -> StateDir {
        let path = layout::base_path(runtime).join(id.as_str());
        let opened = match layout::open_base(runtime) {
            Ok(None) => Opened::Missing,
            Ok(Some(base)) => match base.open_dir(id.as_str()) {
                Ok(Some(dir)) => Opened::Dir { base, dir },
                Ok(None) => Opened::Missing,
                Err(e) => Opened::Untrusted(e),
            },
            Err(e) => Opened::Untrusted(e),
        };
        StateDir {
            path,
            id: id.clone(),
            opened: Arc::new(opened),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The verified directory, when there is one.
    pub fn dir(&self) -> Option<&SecureDir> {
        match &*self.opened {
            Opened::Dir { dir, .. } => Some(dir),
            _ => None,
        }
    }

    /// Why ocictl will not read this directory (another user owns it, or
    /// it is a link), when that is so.
    pub fn untrusted(&self) -> Option<&DirError> {
        match &*self.opened {
            Opened::Untrusted(e) => Some(e),
            _ => None,
        }
    }

    /// Whether a shim was started here (it may be starting still).
    pub fn exists(&self) -> bool {
        self.dir()
            .is_some_and(|d| matches!(d.kind_of(layout::LOCK), Ok(Some(_))))
    }

    fn record<T: serde::de::DeserializeOwned>(&self, name: &str) -> Option<T> {
        let raw = self.dir()?.read_bounded(name, RECORD_CAP).ok()?;
        serde_json::from_slice(&raw).ok()
    }

    pub fn meta(&self) -> Option<Meta> {
        self.record(layout::META)
    }

    pub fn exit_record(&self) -> Option<ExitRecord> {
        self.record(layout::EXIT)
    }

    pub fn origin(&self) -> Option<Origin> {
        self.record(layout::ORIGIN)
    }

    /// The path the runtime was given for ocictl's bundle copy.
    pub fn bundle_copy_path(&self) -> PathBuf {
        self.path.join(layout::BUNDLE)
    }

    /// The bundle to show for `container`: the user's, when the runtime
    /// runs ocictl's copy of it (`-t`); `None` to keep the runtime's.
    pub fn user_bundle(&self, container: &Container) -> Option<PathBuf> {
        if Path::new(&container.bundle) != self.bundle_copy_path() {
            return None;
        }
        self.origin().map(|o| o.bundle)
    }

    /// Where to connect for `attach` and `logs` (through the dir's fd, so
    /// valid only while this `StateDir` lives).
    pub fn attach_path(&self) -> Option<PathBuf> {
        let dir = self.dir()?;
        matches!(dir.kind_of(layout::ATTACH_SOCK), Ok(Some(_)))
            .then(|| layout::fd_path(dir, layout::ATTACH_SOCK))
    }

    /// Whom the attach client must find on the socket: the shim of the
    /// meta record, behind a socket file of ocictl's uid.
    pub fn attach_peer(&self) -> Option<crate::shim::attach::Peer> {
        let pid = self.meta()?.monitor_pid;
        let socket_owner = self.dir()?.owner_of(layout::ATTACH_SOCK).ok()??;
        Some(crate::shim::attach::Peer { pid, socket_owner })
    }

    /// Everything the state directory's console log kept (both files of
    /// the rotation, oldest first, each file's bytes apart).
    pub fn console_log(&self) -> io::Result<[Vec<u8>; 2]> {
        let dir = self
            .dir()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        crate::shim::console_log::read_all(dir)
    }

    fn open_lock(&self) -> io::Result<File> {
        self.dir()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?
            .open_read(layout::LOCK)
    }

    /// Whether a shim (or a caller starting one) holds the lock right now.
    pub fn monitor_alive(&self) -> bool {
        match self.open_lock() {
            Ok(f) => Flock::lock(f, FlockArg::LockSharedNonblock).is_err(),
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

    /// [`StateDir::exit_info`] for the instance `container` describes: a
    /// record of an earlier container with the same ID is no information
    /// about this one (and is removed once its shim is gone).
    pub fn exit_info_for(&self, container: &Container) -> ExitInfo {
        if self.is_stale_for(container) {
            self.remove_stale();
            return ExitInfo::NoMonitor;
        }
        self.exit_info()
    }

    /// Whether this directory records another instance than `container`.
    pub fn is_stale_for(&self, container: &Container) -> bool {
        self.meta().is_some_and(|m| !m.belongs_to(container))
    }

    /// Remove a stale directory whose shim has ended.
    pub fn remove_stale(&self) {
        if !self.monitor_alive() {
            if let Opened::Dir { base, .. } = &*self.opened {
                let _ = base.remove_tree(self.id.as_str());
            }
        }
    }

    fn lost_reason(&self) -> String {
        let who = match self.meta() {
            Some(m) => format!("its monitor (pid {})", m.monitor_pid),
            None => "its monitor".into(),
        };
        format!("{who} ended before the container and recorded no exit status (killed?)")
    }

    /// Block until the shim has ended (in `flock`, no polling), then say
    /// what it recorded.
    pub fn wait(&self) -> io::Result<ExitInfo> {
        let mut lock = self.open_lock()?;
        loop {
            match Flock::lock(lock, FlockArg::LockShared) {
                Ok(held) => {
                    drop(held);
                    break;
                }
                Err((f, nix::errno::Errno::EINTR)) => lock = f,
                Err((_, e)) => return Err(e.into()),
            }
        }
        let dir = self
            .dir()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        Ok(match self.exit_record() {
            Some(r) => ExitInfo::Known(r),
            // Removed while we waited: `delete` (or a checkpoint) took it.
            None if dir.kind_of(layout::LOCK).ok().flatten().is_none() => {
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

    /// Remove the directory once its shim has ended (waiting at most
    /// `timeout` for that). Used by `delete` and by a checkpoint that
    /// stopped the container.
    pub fn remove(&self, timeout: Duration) -> io::Result<()> {
        let Opened::Dir { base, .. } = &*self.opened else {
            return Ok(());
        };
        if self.monitor_alive() {
            let _ = self.wait_for(timeout);
        }
        base.remove_tree(self.id.as_str())?;
        // The base goes with its last container (fails when not empty).
        let _ = std::fs::remove_dir(base.path());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let r = ExitRecord::new(Termination::Signaled(9));
        assert_eq!(r.termination(), Termination::Signaled(9));
        let json = r#"{"code":7,"signal":null,"at":"x"}"#;
        let r: ExitRecord = serde_json::from_str(json).unwrap();
        assert_eq!(r.termination(), Termination::Exited(7));
    }

    fn container(pid: i32, created: &str) -> Container {
        Container {
            oci_version: String::new(),
            id: "c".into(),
            pid,
            status: crate::runtime::Status::Running,
            bundle: String::new(),
            rootfs: String::new(),
            created: created.parse().unwrap(),
            annotations: Default::default(),
            owner: String::new(),
        }
    }

    #[test]
    fn a_record_belongs_to_one_instance() {
        let meta = Meta {
            monitor_pid: 10,
            init_pid: 20,
            created_after: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            created_before: Some("2026-01-01T00:00:01Z".parse().unwrap()),
            terminal: false,
            log: None,
            log_in_state_dir: false,
            log_records: false,
        };
        assert!(meta.belongs_to(&container(20, "2026-01-01T00:00:00.5Z")));
        // Stopped (runc shows pid 0): the creation time still tells.
        assert!(meta.belongs_to(&container(0, "2026-01-01T00:00:00.5Z")));
        assert!(!meta.belongs_to(&container(0, "2026-01-01T00:00:02Z")));
        assert!(!meta.belongs_to(&container(21, "2026-01-01T00:00:00.5Z")));
    }
}
