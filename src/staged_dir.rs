//! A directory built beside where it goes, then renamed into place.
//!
//! `ocictl bundle /tmp/demo` (and any other command that makes a new
//! directory tree for the operator) must never write through a link another
//! user planted: the tree is built in a fresh private directory (0700,
//! created with `mkdirat`, so nobody else can enter or plant anything) next
//! to the destination, through its fd, and renamed onto the destination
//! with `RENAME_NOREPLACE`, which never replaces what is there (a directory
//! or link someone made meanwhile is left alone and reported).
//!
//! The directory it goes in must be trusted the way sshd and systemd trust
//! a path: each directory from `/` down owned by root or by ocictl's user,
//! and not writable by others unless sticky (like /tmp). Otherwise its owner
//! could swap the finished tree for one of their own, whose config.json
//! hooks root would then run.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat2, OFlag, RenameFlags, AT_FDCWD};
use nix::sys::stat::{fchmod, fstat, mkdirat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::secure_dir::{DirError, SecureDir};

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// A tree being built beside its destination; removed on drop unless
/// committed.
#[derive(Debug)]
pub struct StagedDir {
    parent: OwnedFd,
    parent_path: PathBuf,
    name: OsString,
    staging_name: OsString,
    dir: Option<SecureDir>,
}

impl StagedDir {
    /// Start building the directory that will be `dest` (which must not
    /// exist when [`StagedDir::commit`] is called). Missing parents are
    /// created as `mkdir -p` would; every parent must be trusted.
    pub fn begin(dest: &Path) -> Result<StagedDir, DirError> {
        let dest = std::path::absolute(dest).map_err(|e| DirError::Io {
            path: dest.to_path_buf(),
            source: e,
        })?;
        let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
            return Err(DirError::NotDirectory { path: dest.clone() });
        };
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source: io::Error| DirError::Io { path, source }
        };
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        let parent_path = parent.canonicalize().map_err(io_err(parent))?;
        let parent_fd = open_trusted(&parent_path)?;
        for attempt in 0u32.. {
            let staging_name = OsString::from(format!(
                ".{}.ocictl-{}-{}-{attempt}",
                name.to_string_lossy(),
                std::process::id(),
                nanos()
            ));
            match mkdirat(&parent_fd, staging_name.as_os_str(), Mode::S_IRWXU) {
                Ok(()) => {}
                // Someone took the name: take another one.
                Err(Errno::EEXIST) if attempt < 100 => continue,
                Err(e) => return Err(io_err(&parent_path.join(&staging_name))(e.into())),
            }
            let staging_path = parent_path.join(&staging_name);
            let mut staged = StagedDir {
                parent: parent_fd,
                parent_path,
                name: name.to_os_string(),
                staging_name,
                dir: None,
            };
            let fd = openat(
                &staged.parent,
                staged.staging_name.as_os_str(),
                DIR_FLAGS,
                Mode::empty(),
            )
            .map_err(|e| io_err(&staging_path)(e.into()))?;
            fchmod(&fd, Mode::S_IRWXU).map_err(|e| io_err(&staging_path)(e.into()))?;
            staged.dir = Some(SecureDir::from_fd(fd, staging_path)?);
            return Ok(staged);
        }
        unreachable!("the loop returns")
    }

    /// The private directory to build in (through its fd).
    pub fn dir(&self) -> &SecureDir {
        self.dir.as_ref().expect("set by begin")
    }

    /// Give the finished tree its `mode` and rename it onto the destination,
    /// which must still not exist. Returns the destination's path.
    pub fn commit(mut self, mode: u32) -> io::Result<PathBuf> {
        let dest = self.parent_path.join(&self.name);
        fchmod(self.dir().as_fd(), Mode::from_bits_truncate(mode))?;
        match renameat2(
            &self.parent,
            self.staging_name.as_os_str(),
            &self.parent,
            self.name.as_os_str(),
            RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => {
                self.dir = None;
                Ok(dest)
            }
            Err(Errno::EEXIST) => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} appeared while ocictl was building it: it was left alone",
                    dest.display()
                ),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            if let Ok(entries) = dir.entries() {
                for (name, _) in entries {
                    let _ = dir.remove_tree(&name);
                }
            }
            let _ = unlinkat(
                &self.parent,
                self.staging_name.as_os_str(),
                UnlinkatFlags::RemoveDir,
            );
        }
    }
}

fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

/// Open the canonical directory `path` from `/` down, one component at a
/// time without following links, checking that each one is trusted.
fn open_trusted(path: &Path) -> Result<OwnedFd, DirError> {
    let root = Path::new("/");
    let mut fd = openat(AT_FDCWD, root, DIR_FLAGS, Mode::empty()).map_err(|e| DirError::Io {
        path: root.to_path_buf(),
        source: e.into(),
    })?;
    check_trusted(fd.as_fd(), root)?;
    let mut at = root.to_path_buf();
    for part in path.components().skip(1) {
        at.push(part);
        fd = match openat(&fd, part.as_os_str(), DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            // canonicalize() resolved every link: one now is a swap.
            Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => return Err(DirError::Symlink { path: at }),
            Err(e) => {
                return Err(DirError::Io {
                    path: at,
                    source: e.into(),
                })
            }
        };
        check_trusted(fd.as_fd(), &at)?;
    }
    Ok(fd)
}

/// Owned by root or by us, and not writable by others unless sticky.
fn check_trusted(fd: BorrowedFd<'_>, path: &Path) -> Result<(), DirError> {
    let st = fstat(fd).map_err(|e| DirError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    let me = nix::unistd::geteuid().as_raw();
    if st.st_uid != 0 && st.st_uid != me {
        return Err(DirError::Owner {
            path: path.to_path_buf(),
            owner: st.st_uid,
            me,
        });
    }
    let sticky = st.st_mode & libc::S_ISVTX != 0;
    if st.st_mode & 0o022 != 0 && !sticky {
        return Err(DirError::Writable {
            path: path.to_path_buf(),
            mode: st.st_mode & 0o7777,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn builds_privately_then_renames_into_place() {
        let t = tempfile::tempdir().unwrap();
        let dest = t.path().join("a/demo");
        let staged = StagedDir::begin(&dest).unwrap();
        let staging = staged.dir().path().to_path_buf();
        let mode = std::fs::metadata(&staging).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o700);
        staged.dir().write_atomic("f", b"x", 0o644).unwrap();
        assert_eq!(staged.commit(0o755).unwrap(), dest.canonicalize().unwrap());
        assert_eq!(std::fs::read(dest.join("f")).unwrap(), b"x");
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o755);
        assert!(!staging.exists());
    }

    #[test]
    fn never_replaces_what_appeared_and_cleans_up() {
        let t = tempfile::tempdir().unwrap();
        let dest = t.path().join("demo");
        let staged = StagedDir::begin(&dest).unwrap();
        let staging = staged.dir().path().to_path_buf();
        staged.dir().write_atomic("f", b"x", 0o644).unwrap();
        std::os::unix::fs::symlink("/etc", &dest).unwrap();
        let e = staged.commit(0o755).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
        assert_eq!(std::fs::read_link(&dest).unwrap(), Path::new("/etc"));
        assert!(!staging.exists());
    }

    #[test]
    fn refuses_a_parent_others_can_write_unless_sticky() {
        let t = tempfile::tempdir().unwrap();
        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = StagedDir::begin(&open.join("demo")).unwrap_err();
        assert!(matches!(e, DirError::Writable { .. }), "{e}");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let staged = StagedDir::begin(&open.join("demo")).unwrap();
        staged.commit(0o755).unwrap();
    }
}
