//! What a tar entry says about a file besides its content — owner, mode,
//! modification time, extended attributes — and applying it to an open fd
//! (or, for a symlink, at its parent's fd without following it). The order
//! matters: chown clears set-id bits and file capabilities, so the mode and
//! the xattrs come after it.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fchmod, futimens, utimensat, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, Gid, Uid};

/// An entry's metadata, read from its header and PAX records.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub mtime: i64,
    pub xattrs: Vec<(CString, Vec<u8>)>,
}

impl Meta {
    /// From a tar entry: the header, overridden by PAX `uid`, `gid` and
    /// `mtime`, plus `SCHILY.xattr.*` records.
    pub fn of<R: io::Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
        let header = entry.header();
        let mut meta = Meta {
            uid: header.uid().unwrap_or(0) as u32,
            gid: header.gid().unwrap_or(0) as u32,
            mode: header.mode().unwrap_or(0o644) & 0o7777,
            mtime: header.mtime().unwrap_or(0) as i64,
            xattrs: Vec::new(),
        };
        if let Some(extensions) = entry.pax_extensions()? {
            for ext in extensions {
                let ext = ext?;
                let key = ext.key_bytes();
                let value = ext.value_bytes();
                let number = || std::str::from_utf8(value).ok();
                match key {
                    b"uid" => meta.uid = number().and_then(|v| v.parse().ok()).unwrap_or(meta.uid),
                    b"gid" => meta.gid = number().and_then(|v| v.parse().ok()).unwrap_or(meta.gid),
                    b"mtime" => {
                        meta.mtime = number()
                            .and_then(|v| v.split('.').next()?.parse().ok())
                            .unwrap_or(meta.mtime)
                    }
                    _ => {
                        if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                            if let Ok(name) = CString::new(name) {
                                meta.xattrs.push((name, value.to_vec()));
                            }
                        }
                    }
                }
            }
        }
        Ok(meta)
    }

    fn time(&self) -> TimeSpec {
        TimeSpec::new(self.mtime, 0)
    }
}

/// Whether ocictl may set owners and make devices (it runs as root).
pub fn privileged() -> bool {
    Uid::effective().is_root()
}

/// Owner, mode and xattrs of an open file or directory (not its times:
/// a directory's are set once its layer is done).
pub fn apply(fd: BorrowedFd<'_>, meta: &Meta) -> io::Result<()> {
    if privileged() {
        fchown(
            fd,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
        )?;
    }
    fchmod(fd, Mode::from_bits_truncate(meta.mode))?;
    for (name, value) in &meta.xattrs {
        // SAFETY: a valid fd, a NUL-terminated name, a buffer and its length.
        let rc = unsafe {
            libc::fsetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if rc != 0 {
            let err = Errno::last();
            // A filesystem without that namespace, or a name only the
            // kernel may set: the file is still right in every other way.
            if !matches!(err, Errno::ENOTSUP | Errno::EPERM) {
                return Err(io::Error::other(format!(
                    "cannot set xattr {}: {err}",
                    name.to_string_lossy()
                )));
            }
        }
    }
    Ok(())
}

/// The modification (and access) time of an open file or directory.
pub fn apply_times(fd: BorrowedFd<'_>, meta: &Meta) -> io::Result<()> {
    futimens(fd, &meta.time(), &meta.time()).map_err(io::Error::from)
}

/// Owner and times of the symlink `name` in `dir`, not of what it names.
pub fn apply_link(dir: BorrowedFd<'_>, name: &OsStr, meta: &Meta) -> io::Result<()> {
    if privileged() {
        fchownat(
            dir,
            name,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
    }
    utimensat(
        dir,
        name,
        &meta.time(),
        &meta.time(),
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}
