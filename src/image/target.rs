//! Where the bundle is built: a private 0700 directory beside BUNDLE, made
//! and then used only through its fd, renamed onto BUNDLE when everything
//! is written, and removed (links never followed) if anything fails. So a
//! failed or interrupted unpack leaves no half-written bundle, and nothing
//! is ever written through a link someone planted at BUNDLE.
//!
//! BUNDLE itself may be new, or an empty directory that the effective user
//! owns and nobody else can write to; anything else is refused.

use std::ffi::{OsStr, OsString};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, openat, renameat2, OFlag, RenameFlags};
use nix::sys::stat::{fchmod, fstat, mkdirat, Mode, SFlag};
use nix::unistd::Uid;

use super::rootfs::{kind_at, list, open_subdir, remove_at};
use super::ImageError;

/// A bundle being built.
pub struct Staging {
    bundle: PathBuf,
    parent: OwnedFd,
    name: OsString,
    temp: OsString,
    dir: OwnedFd,
    /// Whether BUNDLE exists (an empty directory to replace).
    replace: bool,
    done: bool,
}

impl Staging {
    /// Check BUNDLE and make the private directory beside it.
    pub fn begin(bundle: &Path) -> Result<Staging, ImageError> {
        let refuse = |why: String| ImageError::Target {
            path: bundle.to_path_buf(),
            why,
        };
        let name = match bundle.file_name() {
            Some(n) if n != "." && n != ".." => n.to_os_string(),
            _ => return Err(refuse("name a new directory for the bundle".into())),
        };
        let parent_path = match bundle.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let parent = open(
            &parent_path,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| refuse(format!("cannot open its parent directory: {e}")))?;
        let replace = check_existing(parent.as_fd(), &name).map_err(refuse)?;
        let (temp, dir) = make_private(parent.as_fd(), &name)
            .map_err(|e| refuse(format!("cannot make a private directory beside it: {e}")))?;
        Ok(Staging {
            bundle: bundle.to_path_buf(),
            parent,
            name,
            temp,
            dir,
            replace,
            done: false,
        })
    }

    pub fn dir(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// Make a directory in the bundle and open it.
    pub fn subdir(&self, name: &str, mode: u32) -> Result<OwnedFd, ImageError> {
        let err = |e: std::io::Error| self.write_error(name, e);
        mkdirat(self.dir.as_fd(), name, Mode::from_bits_truncate(mode))
            .map_err(|e| err(e.into()))?;
        let fd = open_subdir(self.dir.as_fd(), OsStr::new(name)).map_err(err)?;
        fchmod(fd.as_fd(), Mode::from_bits_truncate(mode)).map_err(|e| err(e.into()))?;
        Ok(fd)
    }

    /// Write a new 0600 file in the bundle.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<(), ImageError> {
        let fd = openat(
            self.dir.as_fd(),
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| self.write_error(name, e.into()))?;
        std::fs::File::from(fd)
            .write_all(bytes)
            .map_err(|e| self.write_error(name, e))
    }

    fn write_error(&self, name: &str, source: std::io::Error) -> ImageError {
        ImageError::Io {
            what: format!("cannot write {}", self.bundle.join(name).display()),
            source,
        }
    }

    /// Rename the finished bundle onto BUNDLE.
    pub fn commit(mut self) -> Result<(), ImageError> {
        let flags = if self.replace {
            RenameFlags::empty()
        } else {
            RenameFlags::RENAME_NOREPLACE
        };
        renameat2(
            self.parent.as_fd(),
            self.temp.as_os_str(),
            self.parent.as_fd(),
            self.name.as_os_str(),
            flags,
        )
        .map_err(|e| ImageError::Target {
            path: self.bundle.clone(),
            why: match e {
                Errno::EEXIST | Errno::ENOTEMPTY => {
                    "it appeared (or filled) while the image was unpacked".into()
                }
                e => format!("cannot move the finished bundle into place: {e}"),
            },
        })?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = remove_at(self.parent.as_fd(), &self.temp);
        }
    }
}

/// Whether BUNDLE exists as a directory ocictl may replace; an error
/// saying why not for anything else.
fn check_existing(parent: BorrowedFd<'_>, name: &OsStr) -> Result<bool, String> {
    match kind_at(parent, name).map_err(|e| format!("cannot inspect it: {e}"))? {
        None => Ok(false),
        Some(SFlag::S_IFLNK) => Err("it is a symbolic link: name a new directory".into()),
        Some(SFlag::S_IFDIR) => {
            let dir = open_subdir(parent, name).map_err(|e| format!("cannot open it: {e}"))?;
            let st = fstat(dir.as_fd()).map_err(|e| format!("cannot inspect it: {e}"))?;
            if st.st_uid != Uid::effective().as_raw() {
                return Err(format!(
                    "it exists and is owned by uid {}, not by ocictl's user: name a new directory",
                    st.st_uid
                ));
            }
            if st.st_mode & 0o022 != 0 {
                return Err(format!(
                    "it exists and others can write to it (mode {:o}): name a new directory",
                    st.st_mode & 0o7777
                ));
            }
            let entries = list(dir.as_fd()).map_err(|e| format!("cannot list it: {e}"))?;
            if !entries.is_empty() {
                return Err("it exists and is not empty: remove it or name a new directory".into());
            }
            Ok(true)
        }
        Some(_) => Err("it exists and is not a directory".into()),
    }
}

/// Make `.NAME.ocictl-XXXXXXXX` (0700) in `parent` and open it.
fn make_private(parent: BorrowedFd<'_>, name: &OsStr) -> std::io::Result<(OsString, OwnedFd)> {
    let random = std::collections::hash_map::RandomState::new();
    for attempt in 0u64..64 {
        let mut h = random.build_hasher();
        h.write_u64(attempt ^ u64::from(std::process::id()));
        let mut temp = OsString::from(".");
        // Keep the name well under NAME_MAX whatever BUNDLE is called.
        let short = &name.as_bytes()[..name.len().min(200)];
        temp.push(OsStr::from_bytes(short));
        temp.push(format!(".ocictl-{:016x}", h.finish()));
        match mkdirat(parent, temp.as_os_str(), Mode::from_bits_truncate(0o700)) {
            Ok(()) => {}
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(e.into()),
        }
        let dir = open_subdir(parent, &temp)?;
        let st = fstat(dir.as_fd())?;
        if st.st_uid != Uid::effective().as_raw() {
            return Err(std::io::Error::other("the new directory is not ocictl's"));
        }
        fchmod(dir.as_fd(), Mode::from_bits_truncate(0o700))?;
        return Ok((temp, dir));
    }
    Err(std::io::Error::other("no free private name"))
}
