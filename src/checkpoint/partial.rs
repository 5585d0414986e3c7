//! Partial images: starting one, committing it under its final name,
//! rolling a failed one back (its dump.log kept under `.failed/`, with a
//! small retention of its own), and recovering what a crashed run left.
//! Every step needs the container's [`CheckpointLock`].

use std::ffi::OsStr;
use std::path::PathBuf;

use super::error::{io, StoreError};
use super::store::{
    image_name_now, image_order, is_image_name, CheckpointLock, ContainerImages, Recovery,
    FAILED_DIR, INVENTORY, PARTIAL_PREFIX, PRIVATE_MODE,
};
use crate::runtime::criu;
use crate::secure_dir::{DirError, EntryKind};

/// How many failed dumps' logs a container keeps.
pub const FAILED_KEEP: usize = 5;
const DUMP_LOG: &str = "dump.log";

/// A checkpoint being written: CRIU's image path until committed.
#[derive(Debug)]
pub struct Partial {
    /// The final name (the hidden directory is `.partial-<name>`).
    name: String,
    pub path: PathBuf,
}

impl Partial {
    pub(super) fn dir_name(&self) -> String {
        format!("{PARTIAL_PREFIX}{}", self.name)
    }
}

/// A failed dump's log, kept: where, and its end.
#[derive(Debug)]
pub struct KeptLog {
    pub path: PathBuf,
    pub text: String,
}

impl ContainerImages {
    /// Deal with the partial images crashed runs left (needs the lock, so
    /// nothing still writes them): commit what CRIU finished, keep the log
    /// of what it did not.
    pub fn recover(&self, _lock: &CheckpointLock) -> Result<Vec<Recovery>, StoreError> {
        let mut done = Vec::new();
        for dir_name in self.scan()?.partials {
            let partial_path = self.dir.join(&dir_name);
            let Some(name) = dir_name
                .to_str()
                .and_then(|n| n.strip_prefix(PARTIAL_PREFIX))
                .filter(|n| is_image_name(n))
            else {
                continue;
            };
            let partial = Partial {
                name: name.to_string(),
                path: partial_path.clone(),
            };
            if self.dump_finished(&dir_name)? {
                let image = self.commit(partial, _lock)?;
                done.push(Recovery::Committed {
                    partial: partial_path,
                    image,
                });
            } else {
                let log = self.roll_back(partial, _lock)?.map(|kept| kept.path);
                done.push(Recovery::Incomplete {
                    partial: partial_path,
                    log,
                });
            }
        }
        Ok(done)
    }

    /// Whether CRIU finished the dump in `.partial-…`: its inventory.img is
    /// there and its dump.log ends with CRIU's success line. (runc's own
    /// exit status died with the crashed ocictl; after CRIU succeeded runc
    /// only removes the stopped container, which the image does not need.)
    fn dump_finished(&self, dir_name: &OsStr) -> Result<bool, StoreError> {
        let Some(partial) = self.dir.open_dir(dir_name).map_err(StoreError::untrusted)? else {
            return Ok(false);
        };
        if partial.kind_of(INVENTORY).ok().flatten() != Some(EntryKind::File) {
            return Ok(false);
        }
        Ok(partial
            .open_read(DUMP_LOG)
            .map(|mut f| criu::dump_succeeded(&criu::log_tail(&mut f)))
            .unwrap_or(false))
    }

    /// Start a new image (needs the lock): an empty hidden 0700 directory
    /// named for the current UTC time. Also makes sure `.failed/` exists
    /// now, while there is room for it: on a full disk the failed dump's
    /// log is moved there by a rename, which needs none.
    pub fn begin(&self, _lock: &CheckpointLock) -> Result<Partial, StoreError> {
        self.dir
            .create_or_open_dir(FAILED_DIR, PRIVATE_MODE)
            .map_err(StoreError::untrusted)?;
        let mut last = None;
        for _ in 0..3 {
            let name = image_name_now();
            let partial = Partial {
                path: self.dir.join(format!("{PARTIAL_PREFIX}{name}")),
                name,
            };
            match self.dir.create_dir(partial.dir_name(), PRIVATE_MODE) {
                Ok(_) => return Ok(partial),
                // Same millisecond as a partial recovery just handled.
                Err(DirError::Io { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {
                    last = Some(source);
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(e) => return Err(StoreError::untrusted(e)),
            }
        }
        Err(io(format!(
            "cannot create a partial image in {}",
            self.path().display()
        ))(
            last.unwrap_or_else(|| std::io::Error::other("name taken")),
        ))
    }

    /// Give the image its final, visible name; returns that path. Never
    /// replaces an image (a clock set back can reuse a name: `-N` then).
    pub fn commit(&self, partial: Partial, _lock: &CheckpointLock) -> Result<PathBuf, StoreError> {
        let from = partial.dir_name();
        let mut target = partial.name.clone();
        for n in 1.. {
            match self.dir.rename_noreplace(&from, &self.dir, &target) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => {
                    target = format!("{}-{n}", partial.name);
                }
                Err(e) => {
                    return Err(io(format!(
                        "cannot rename {} to {}",
                        partial.path.display(),
                        self.dir.join(&target).display()
                    ))(e))
                }
            }
        }
        Ok(self.dir.join(target))
    }

    /// Undo a failed (or unfinished) dump: the partial goes away, its
    /// dump.log stays at `.failed/<name>/dump.log` (returned), and only the
    /// newest [`FAILED_KEEP`] failed logs are kept. A rename first, so this
    /// works on a full disk, then the image files are removed.
    pub fn roll_back(
        &self,
        partial: Partial,
        _lock: &CheckpointLock,
    ) -> Result<Option<KeptLog>, StoreError> {
        let from = partial.dir_name();
        let failed = self
            .dir
            .create_or_open_dir(FAILED_DIR, PRIVATE_MODE)
            .map_err(StoreError::untrusted)?;
        let has_log = self
            .dir
            .open_dir(&from)
            .ok()
            .flatten()
            .and_then(|d| d.kind_of(DUMP_LOG).ok().flatten())
            == Some(EntryKind::File);
        if !has_log {
            self.dir
                .remove_tree(&from)
                .map_err(io(format!("cannot remove {}", partial.path.display())))?;
            return Ok(None);
        }
        self.dir
            .rename_noreplace(&from, &failed, &partial.name)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    failed.remove_tree(&partial.name)?;
                    self.dir.rename_noreplace(&from, &failed, &partial.name)
                } else {
                    Err(e)
                }
            })
            .map_err(io(format!("cannot move {} aside", partial.path.display())))?;
        let kept = failed
            .open_dir(&partial.name)
            .map_err(StoreError::untrusted)?
            .ok_or_else(|| io("the failed dump vanished")(std::io::ErrorKind::NotFound.into()))?;
        for (entry, _) in kept
            .entries()
            .map_err(io(format!("cannot read {}", kept.path().display())))?
        {
            if entry != DUMP_LOG {
                kept.remove_tree(&entry)
                    .map_err(io(format!("cannot remove {}", kept.join(&entry).display())))?;
            }
        }
        let text = kept
            .open_read(DUMP_LOG)
            .map(|mut f| criu::log_tail(&mut f))
            .unwrap_or_default();
        // Retention: the newest FAILED_KEEP, this one always among them.
        let mut old: Vec<String> = failed
            .entries()
            .map_err(io(format!("cannot read {}", failed.path().display())))?
            .into_iter()
            .filter_map(|(n, _)| n.into_string().ok())
            .filter(|n| is_image_name(n) && *n != partial.name)
            .collect();
        old.sort_by(|a, b| image_order(a).cmp(&image_order(b)));
        let excess = (old.len() + 1).saturating_sub(FAILED_KEEP);
        for name in old.iter().take(excess) {
            failed
                .remove_tree(name)
                .map_err(io(format!("cannot remove {}", failed.join(name).display())))?;
        }
        Ok(Some(KeptLog {
            path: kept.join(DUMP_LOG),
            text,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::store::tests::store;

    #[test]
    fn recovery_commits_a_finished_dump_and_keeps_the_log_of_another() {
        let (_t, images) = store();
        let lock = images.lock("c").unwrap();
        let done = images
            .dir
            .create_dir(".partial-20260101T000001.000Z", 0o700)
            .unwrap();
        done.create_new(INVENTORY, 0o600).unwrap();
        done.write_atomic(DUMP_LOG, b"(0.1) Dumping finished successfully\n", 0o600)
            .unwrap();
        let half = images
            .dir
            .create_dir(".partial-20260101T000002.000Z", 0o700)
            .unwrap();
        half.create_new(INVENTORY, 0o600).unwrap();
        half.create_new("pages-1.img", 0o600).unwrap();
        half.write_atomic(DUMP_LOG, b"(0.1) Dumping pages\n", 0o600)
            .unwrap();
        let got = images.recover(&lock).unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            matches!(&got[0], Recovery::Committed { image, .. } if image.ends_with("20260101T000001.000Z"))
        );
        let Recovery::Incomplete { log: Some(log), .. } = &got[1] else {
            panic!("{got:?}")
        };
        assert!(log.ends_with(".failed/20260101T000002.000Z/dump.log"));
        assert!(log.is_file());
        assert!(!log.parent().unwrap().join("pages-1.img").exists());
        assert_eq!(images.images().unwrap().len(), 1);
    }

    #[test]
    fn failed_logs_keep_their_own_small_retention() {
        let (_t, images) = store();
        let lock = images.lock("c").unwrap();
        for _ in 0..FAILED_KEEP + 2 {
            let p = images.begin(&lock).unwrap();
            let d = images.dir.open_dir(p.dir_name()).unwrap().unwrap();
            d.write_atomic(DUMP_LOG, b"Error (x): no\n", 0o600).unwrap();
            let kept = images.roll_back(p, &lock).unwrap().unwrap();
            assert!(kept.path.is_file());
            assert!(kept.text.contains("Error (x): no"));
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let failed = std::fs::read_dir(images.path().join(FAILED_DIR))
            .unwrap()
            .count();
        assert_eq!(failed, FAILED_KEEP);
        assert!(images.scan().unwrap().partials.is_empty());
    }
}
