//! The image store: an image root holding timestamped images per
//! container, the per-container lock, what counts as an image, `--keep` and
//! `--latest`. Partial images (begin, commit, roll back, recovery) are
//! `super::partial`'s, on the same [`ContainerImages`].
//!
//! Layout of an image root `DIR` (every directory ocictl's, 0700 below DIR):
//!
//! ```text
//! DIR/<id>/.lock                          flock(2): one checkpoint of <id> at a time
//! DIR/<id>/.partial-20260101T120000.123Z/ a dump in progress (or one that died)
//! DIR/<id>/20260101T114500.042Z/          complete images, named by UTC time
//! DIR/<id>/.failed/20260101T110000.001Z/dump.log   the log of a failed dump
//! ```
//!
//! Trust: DIR and DIR/<id> are created by ocictl or verified ([`SecureDir`]:
//! owned by the effective uid, not group/world-writable, not a link), and
//! everything below is reached through their fds. An image is a 0700
//! directory: CRIU writes its files 0644, and the directory is what keeps
//! other users out of the container's memory.
//!
//! What counts as an image: a directory named like one (`YYYYMMDDTHHMMSS.mmmZ`,
//! maybe `-N`) that holds CRIU's `inventory.img`. Nothing else is counted by
//! `--keep`, pruned, or picked by `--latest`; what `--latest` passed over is
//! reported ([`Skipped`]).
//!
//! Crashes: CRIU writes into the hidden partial directory, renamed to its
//! final name only after runc succeeded. A partial that a crashed run left
//! is never pruned: the next run, under the lock (so no runc or CRIU can
//! still be writing it: they inherit the lock and hold it until they exit),
//! commits it when CRIU finished it, or keeps its dump.log under `.failed/`.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{fcntl, FcntlArg, FdFlag, Flock, FlockArg};

use super::error::{io, StoreError};
use crate::secure_dir::{DirError, EntryKind, SecureDir};

const LOCK_FILE: &str = ".lock";
pub(super) const PARTIAL_PREFIX: &str = ".partial-";
pub(super) const FAILED_DIR: &str = ".failed";
pub(super) const INVENTORY: &str = "inventory.img";
/// An image root may be shared (0755); everything below is private.
const ROOT_MODE: u32 = 0o755;
pub(super) const PRIVATE_MODE: u32 = 0o700;

/// Whether `name` is one ocictl gives an image: `20260101T120000.123Z`,
/// or that with `-N` (a clock set back reused a name).
pub fn is_image_name(name: &str) -> bool {
    let (base, suffix) = match name.split_once('-') {
        Some((b, n)) => (b, Some(n)),
        None => (name, None),
    };
    let b = base.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 20
        && digits(0..8)
        && b[8] == b'T'
        && digits(9..15)
        && b[15] == b'.'
        && digits(16..19)
        && b[19] == b'Z'
        && suffix.is_none_or(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

/// Images sort by time, then by their `-N`.
pub(super) fn image_order(name: &str) -> (&str, u64) {
    match name.split_once('-') {
        Some((base, n)) => (base, n.parse().unwrap_or(0)),
        None => (name, 0),
    }
}

pub(super) fn image_name_now() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// An entry of `DIR/<id>/` that is not an image, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// A partial image a crashed run left, and what this run did with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Recovery {
    /// CRIU had finished it: it is now a complete image at `image`.
    Committed { partial: PathBuf, image: PathBuf },
    /// CRIU had not finished it: removed, its dump.log kept at `log`.
    Incomplete {
        partial: PathBuf,
        log: Option<PathBuf>,
    },
}

/// An image root, created or verified.
#[derive(Debug)]
pub struct ImageRoot {
    dir: SecureDir,
}

impl ImageRoot {
    /// For a checkpoint: the root is created if missing, else verified.
    pub fn create_or_verify(path: &Path) -> Result<ImageRoot, StoreError> {
        let dir = SecureDir::create_or_verify(path, ROOT_MODE).map_err(StoreError::untrusted)?;
        Ok(ImageRoot { dir })
    }

    /// For a restore: an existing root, verified; `None` when missing.
    pub fn open(path: &Path) -> Result<Option<ImageRoot>, StoreError> {
        Ok(SecureDir::open(path)
            .map_err(StoreError::untrusted)?
            .map(|dir| ImageRoot { dir }))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `DIR/<id>/`, created 0700 if missing (a link or another user's
    /// directory there is refused, never followed).
    pub fn create_container(&self, id: &str) -> Result<ContainerImages, StoreError> {
        let dir = self
            .dir
            .create_or_open_dir(id, PRIVATE_MODE)
            .map_err(StoreError::untrusted)?;
        Ok(ContainerImages { dir })
    }

    /// `DIR/<id>/` when it exists, verified.
    pub fn container(&self, id: &str) -> Result<Option<ContainerImages>, StoreError> {
        let dir = self.dir.open_dir(id).map_err(StoreError::untrusted)?;
        Ok(dir.map(|dir| ContainerImages { dir }))
    }

    /// Where `DIR/<id>/` is (for messages).
    pub fn container_path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }
}

/// One container's images: `DIR/<id>/`, open by fd.
#[derive(Debug)]
pub struct ContainerImages {
    pub(super) dir: SecureDir,
}

/// Holding this is holding a container's checkpoint lock.
#[derive(Debug)]
pub struct CheckpointLock {
    file: Flock<File>,
    pub path: PathBuf,
}

impl CheckpointLock {
    /// Let the next program started inherit the lock (runc, and through it
    /// CRIU: if ocictl dies mid-dump they hold it until they are done), or
    /// stop that again.
    pub fn inherit(&self, yes: bool) -> Result<(), StoreError> {
        let flags = if yes {
            FdFlag::empty()
        } else {
            FdFlag::FD_CLOEXEC
        };
        fcntl(self.file.as_fd(), FcntlArg::F_SETFD(flags))
            .map(drop)
            .map_err(|e| io(format!("cannot set up the lock {}", self.path.display()))(e.into()))
    }
}

/// What `DIR/<id>/` holds.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// Complete images, oldest first.
    pub(super) images: Vec<String>,
    /// `.partial-*` directories.
    pub(super) partials: Vec<OsString>,
    pub(super) skipped: Vec<Skipped>,
}

impl ContainerImages {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Take the checkpoint lock without waiting: fails at once with
    /// [`StoreError::Locked`] when another run holds it. The lock file is
    /// opened without following a link and without truncating it.
    pub fn lock(&self, id: &str) -> Result<CheckpointLock, StoreError> {
        let path = self.dir.join(LOCK_FILE);
        let file = self.dir.open_lock(LOCK_FILE).map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                StoreError::untrusted(DirError::Symlink { path: path.clone() })
            } else {
                io(format!("cannot open the lock {}", path.display()))(e)
            }
        })?;
        let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((file, nix::errno::Errno::EWOULDBLOCK)) => {
                let mut buf = [0u8; 32];
                let n = file.read_at(&mut buf, 0).unwrap_or(0);
                let holder = String::from_utf8_lossy(&buf[..n]).trim().parse().ok();
                return Err(StoreError::Locked {
                    id: id.to_string(),
                    lock: path,
                    holder,
                });
            }
            Err((_, e)) => return Err(io(format!("cannot lock {}", path.display()))(e.into())),
        };
        // Who holds it, for the next run's message: one fixed-width write
        // in place (no truncate), so a reader never sees it empty.
        let _ = file.write_all_at(format!("{:<11}\n", std::process::id()).as_bytes(), 0);
        Ok(CheckpointLock { file, path })
    }

    pub(super) fn scan(&self) -> Result<Scan, StoreError> {
        let entries = self
            .dir
            .entries()
            .map_err(io(format!("cannot read {}", self.path().display())))?;
        let mut scan = Scan::default();
        for (name, kind) in entries {
            let text = name.to_string_lossy();
            if text.starts_with(PARTIAL_PREFIX) && kind == EntryKind::Dir {
                scan.partials.push(name);
                continue;
            }
            if text == LOCK_FILE || text == FAILED_DIR || text.starts_with('.') {
                // Ours (the lock, failed logs, write_atomic's temp files).
                continue;
            }
            let skip = |reason: String| Skipped {
                path: self.dir.join(&name),
                reason,
            };
            if !is_image_name(&text) {
                scan.skipped
                    .push(skip("not named like an ocictl image".into()));
            } else if kind != EntryKind::Dir {
                scan.skipped
                    .push(skip(format!("not a directory ({kind:?})")));
            } else {
                match self.holds_inventory(&name) {
                    Ok(true) => scan.images.push(text.into_owned()),
                    Ok(false) => scan.skipped.push(skip(format!("no {INVENTORY} in it"))),
                    Err(e) => scan.skipped.push(skip(e.to_string())),
                }
            }
        }
        scan.images
            .sort_by(|a, b| image_order(a).cmp(&image_order(b)));
        scan.partials.sort();
        scan.skipped.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(scan)
    }

    fn holds_inventory(&self, name: &OsStr) -> Result<bool, DirError> {
        let Some(image) = self.dir.open_dir(name)? else {
            return Ok(false);
        };
        Ok(image.kind_of(INVENTORY).ok().flatten() == Some(EntryKind::File))
    }

    /// The complete images, oldest first.
    pub fn images(&self) -> Result<Vec<PathBuf>, StoreError> {
        Ok(self
            .scan()?
            .images
            .iter()
            .map(|n| self.dir.join(n))
            .collect())
    }

    /// The newest complete image, and what was passed over on the way.
    pub fn latest(&self, id: &str) -> Result<(PathBuf, Vec<Skipped>), StoreError> {
        let scan = self.scan()?;
        match scan.images.last() {
            Some(name) => Ok((self.dir.join(name), scan.skipped)),
            None => Err(StoreError::NoImage {
                message: format!(
                    "there is no complete checkpoint of container {id} in {}",
                    self.path().display()
                ),
                skipped: scan.skipped,
            }),
        }
    }

    /// After a successful run (under the lock): remove the oldest complete
    /// images beyond `keep` (never `just_written`). Only images count and
    /// only images go; partials are [`recover`](Self::recover)ed, never pruned.
    pub fn prune(
        &self,
        keep: usize,
        just_written: &Path,
        _lock: &CheckpointLock,
    ) -> Result<Vec<PathBuf>, StoreError> {
        let images = self.scan()?.images;
        let excess = images.len().saturating_sub(keep.max(1));
        let mut removed = Vec::new();
        for name in images
            .iter()
            .filter(|n| self.dir.join(n) != just_written)
            .take(excess)
        {
            let path = self.dir.join(name);
            self.dir.remove_tree(name).map_err(io(format!(
                "cannot remove the old image {}",
                path.display()
            )))?;
            removed.push(path);
        }
        Ok(removed)
    }
}

/// Bytes a directory tree takes on disk (allocated blocks); links are not
/// followed.
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = meta.blocks() * 512;
    if meta.is_dir() {
        if let Ok(read) = std::fs::read_dir(path) {
            for entry in read.flatten() {
                total += disk_usage(&entry.path());
            }
        }
    }
    total
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::checkpoint) fn image(images: &ContainerImages, name: &str) {
        let d = images.dir.create_dir(name, 0o700).unwrap();
        d.create_new(INVENTORY, 0o600).unwrap();
    }

    pub(in crate::checkpoint) fn store() -> (tempfile::TempDir, ContainerImages) {
        let t = tempfile::tempdir().unwrap();
        let root = ImageRoot::create_or_verify(&t.path().join("root")).unwrap();
        let images = root.create_container("c").unwrap();
        (t, images)
    }

    #[test]
    fn image_names() {
        assert!(is_image_name("20260101T120000.123Z"));
        assert!(is_image_name("20260101T120000.123Z-12"));
        for bad in [
            "my-notes",
            "20260101T120000.123Z-",
            "20260101T120000.123",
            "2026010XT120000.123Z",
            "20260101T120000.123Z-x",
            "",
        ] {
            assert!(!is_image_name(bad), "{bad}");
        }
    }

    #[test]
    fn prune_keeps_the_newest_only_among_real_images() {
        let (_t, images) = store();
        let lock = images.lock("c").unwrap();
        for name in [
            "20260101T000001.000Z",
            "20260101T000002.000Z",
            "20260101T000003.000Z",
        ] {
            image(&images, name);
        }
        images.dir.create_dir("my-notes", 0o700).unwrap();
        images
            .dir
            .create_dir("20260101T000000.000Z", 0o700)
            .unwrap(); // no inventory
        let p = images.begin(&lock).unwrap();
        images
            .dir
            .open_dir(p.dir_name())
            .unwrap()
            .unwrap()
            .create_new(INVENTORY, 0o600)
            .unwrap();
        let written = images.commit(p, &lock).unwrap();
        let removed = images.prune(2, &written, &lock).unwrap();
        assert_eq!(removed.len(), 2, "{removed:?}");
        let left = images.images().unwrap();
        assert_eq!(left.len(), 2);
        assert_eq!(left.last(), Some(&written));
        assert!(images.path().join("my-notes").is_dir());
        assert!(images.path().join("20260101T000000.000Z").is_dir());
        let (latest, skipped) = images.latest("c").unwrap();
        assert_eq!(latest, written);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
    }

    #[test]
    fn a_second_lock_fails_at_once_and_names_the_holder() {
        let (_t, images) = store();
        let _held = images.lock("c").unwrap();
        match images.lock("c") {
            Err(e @ StoreError::Locked { .. }) => {
                assert!(e
                    .to_string()
                    .contains(&format!("pid {}", std::process::id())));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_linked_container_dir_or_lock_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = ImageRoot::create_or_verify(&t.path().join("root")).unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir_all(outside.join("keepme")).unwrap();
        std::os::unix::fs::symlink(&outside, root.path().join("c")).unwrap();
        let e = root.create_container("c").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(outside.join("keepme").is_dir());

        let images = root.create_container("d").unwrap();
        let victim = t.path().join("victim");
        std::fs::write(&victim, "root's data").unwrap();
        std::os::unix::fs::symlink(&victim, images.path().join(LOCK_FILE)).unwrap();
        let e = images.lock("d").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's data");
    }
}
