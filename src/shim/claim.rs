//! Claiming a container's state directory before anything runs: the base
//! and the directory are created 0700 or verified, the directory is new
//! (or the stale one of an ended container is replaced), and the claimer
//! takes its lock before anything else can see it. A pre-created directory
//! of another user is refused, naming it and its owner.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::runtime::{ContainerId, Error, Result, Runtime};
use crate::secure_dir::{DirError, SecureDir};
use crate::shim::layout;
use crate::shim::state::Origin;

/// A state directory the caller holds (its lock taken).
pub struct Claim {
    base: SecureDir,
    dir: SecureDir,
    /// Locked (flock, exclusive). Not a `Flock` guard: the shim gets the
    /// same open file, and a guard's unlock on drop would release the
    /// shim's lock too; closing our fd leaves it held by the shim's.
    lock: File,
    id: ContainerId,
    /// The bundle copy to run, when one was made.
    copy: Option<PathBuf>,
}

impl Claim {
    /// Claim `id`'s state directory under `runtime`'s base. `Ok(None)`
    /// when the ID is taken (a live shim holds the directory, or the
    /// runtime has a container of that ID): the runtime, run without a
    /// shim, then says so in its own words.
    pub fn new(runtime: &Runtime, id: &ContainerId) -> Result<Option<Claim>> {
        let base = layout::create_base(runtime).map_err(unsafe_dir)?;
        for _ in 0..3 {
            match base.create_dir(id.as_str(), layout::DIR_MODE) {
                Ok(dir) => {
                    let lock = dir
                        .open_lock(layout::LOCK)
                        .map_err(|e| Error::io("cannot create the shim's lock", e))?;
                    lock_exclusive(&lock)
                        .map_err(|e| Error::io("cannot take the shim's lock", e))?;
                    return Ok(Some(Claim {
                        base,
                        dir,
                        lock,
                        id: id.clone(),
                        copy: None,
                    }));
                }
                Err(DirError::Io { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {
                    let Some(old) = base.open_dir(id.as_str()).map_err(unsafe_dir)? else {
                        continue;
                    };
                    if !replace_stale(runtime, &base, &old, id)? {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(unsafe_dir(e)),
            }
        }
        Err(Error::Invalid(format!(
            "cannot claim ocictl's state directory {} for container {id}: it keeps reappearing",
            base.join(id.as_str()).display()
        )))
    }

    /// The directory's path (what the runtime is told).
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Write the `-t` copy of `bundle` (config 0600) and the record of the
    /// user's bundle; returns the copy's path.
    pub fn write_terminal_copy(&mut self, bundle: &Path) -> Result<PathBuf> {
        let user =
            crate::bundle::Bundle::load(bundle).map_err(|e| Error::Invalid(e.to_string()))?;
        let json = user
            .terminal_config_json()
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let write_err = |e| {
            Error::io(
                format!("cannot write the terminal copy of {}", bundle.display()),
                e,
            )
        };
        let copy = self
            .dir
            .create_dir(layout::BUNDLE, layout::DIR_MODE)
            .map_err(|e| write_err(io::Error::other(e.to_string())))?;
        copy.write_atomic("config.json", &json, layout::FILE_MODE)
            .map_err(write_err)?;
        let origin = Origin {
            bundle: PathBuf::from(crate::runtime::absolute(bundle)),
            terminal: true,
            overrides: Vec::new(),
        };
        let origin = serde_json::to_vec(&origin).map_err(|e| Error::Invalid(e.to_string()))?;
        self.dir
            .write_atomic(layout::ORIGIN, &origin, layout::FILE_MODE)
            .map_err(write_err)?;
        let path = self.dir.join(layout::BUNDLE);
        self.copy = Some(path.clone());
        Ok(path)
    }

    /// Keep the directory without a shim (a foreground `run -t --keep`:
    /// the container outlives the command, its bundle copy with it).
    pub fn keep(self) {
        drop(self.lock);
        let _ = self.dir.remove_file(layout::LOCK);
    }

    /// Remove the directory again (the runtime failed).
    pub fn remove(self) {
        let _ = self.base.remove_tree(self.id.as_str());
        drop(self.lock);
        let _ = std::fs::remove_dir(self.base.path());
    }

    pub(crate) fn dir(&self) -> &SecureDir {
        &self.dir
    }

    pub(crate) fn base(&self) -> &SecureDir {
        &self.base
    }

    pub(crate) fn lock(&self) -> &File {
        &self.lock
    }

    pub(crate) fn copy(&self) -> Option<&PathBuf> {
        self.copy.as_ref()
    }

    /// Whether the lock file in the directory is still the one we hold
    /// (nobody removed and re-claimed the directory meanwhile).
    pub(crate) fn still_ours(&self) -> bool {
        let held = self.lock.metadata().ok();
        let now = self
            .dir
            .open_read(layout::LOCK)
            .and_then(|f| f.metadata())
            .ok();
        match (held, now) {
            (Some(a), Some(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        }
    }
}

/// flock(LOCK_EX | LOCK_NB) without a guard (see [`Claim`]'s `lock`).
fn lock_exclusive(f: &File) -> io::Result<()> {
    // SAFETY: flock on an fd we own; no memory is involved.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn unsafe_dir(e: DirError) -> Error {
    Error::io(
        "cannot use ocictl's state directory (nothing was run)",
        io::Error::other(e.to_string()),
    )
}

/// An existing directory for `id`: a live shim's (the ID is taken), or
/// the stale one of an ended container, which is removed.
fn replace_stale(
    runtime: &Runtime,
    base: &SecureDir,
    old: &SecureDir,
    id: &ContainerId,
) -> Result<bool> {
    let lock = match old.open_lock(layout::LOCK) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::io(
                format!("cannot open {}", old.join(layout::LOCK).display()),
                e,
            ))
        }
    };
    let held = match lock {
        Some(f) => match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(held) => Some(held),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(false),
            Err((_, e)) => return Err(Error::io("cannot take the shim's lock", e.into())),
        },
        None => None,
    };
    // No shim: a record of a container that is gone — unless the runtime
    // still has it (a kept foreground `run -t`): then the ID is taken.
    if runtime.state(id).is_ok() {
        return Ok(false);
    }
    base.remove_tree(id.as_str()).map_err(|e| {
        Error::io(
            format!("cannot remove the stale {}", old.path().display()),
            e,
        )
    })?;
    drop(held);
    Ok(true)
}
