//! Directories ocictl writes into, held by file descriptor.
//!
//! ocictl runs as root, and its directories often sit in places every user
//! can write to (`--root /tmp/x` puts the shim's state in `/tmp/x.ocictl`,
//! `--image-root /var/tmp/ckpt`, `ocictl bundle /tmp/demo`). A directory is
//! used only when ocictl created it or it passed [`verify`]: owned by the
//! effective uid, not writable by group or others, not a symbolic link.
//! Everything inside is then done relative to the directory's fd (the
//! `*at` calls, `O_NOFOLLOW`, `O_EXCL` for new files), so a path an attacker
//! swaps after the check is never followed.
//!
//! Names passed to the methods are single components: a name with a `/`,
//! `.` or `..` is refused, so no method can leave its directory.
//!
//! (Over 600 lines with its tests: every fd-relative file operation ocictl
//! needs is here, so that no other module opens its own files by path.)

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat, OFlag, AT_FDCWD};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

/// Why a directory cannot be trusted (or reached).
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{} is a symbolic link: ocictl does not write through links", path.display())]
    Symlink { path: PathBuf },
    #[error("{} is not a directory", path.display())]
    NotDirectory { path: PathBuf },
    #[error(
        "{} belongs to uid {owner}, not to uid {me} that ocictl runs as: another user could change what ocictl keeps there",
        path.display()
    )]
    Owner { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "{} is writable by other users (mode {mode:04o}): they could change what ocictl keeps there",
        path.display()
    )]
    Writable { path: PathBuf, mode: u32 },
}

impl DirError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            DirError::Io { path, .. }
            | DirError::Symlink { path }
            | DirError::NotDirectory { path }
            | DirError::Owner { path, .. }
            | DirError::Writable { path, .. } => path,
        }
    }

    /// True when the directory (or a parent) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, DirError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    fn io(path: &Path, e: impl Into<io::Error>) -> DirError {
        DirError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        }
    }
}

/// A directory that ocictl created or verified, open by fd.
#[derive(Debug)]
pub struct SecureDir {
    fd: OwnedFd,
    path: PathBuf,
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Check an open directory: ours, not writable by others. A directory of
/// ours that is more open than `mode` (e.g. 0755 where 0700 is wanted) is
/// narrowed: only the owner could have made it so.
fn verify(fd: BorrowedFd<'_>, path: &Path, mode: u32) -> Result<(), DirError> {
    let st = fstat(fd).map_err(|e| DirError::io(path, e))?;
    check_stat(&st, path)?;
    let perm = st.st_mode & 0o7777;
    if perm & !mode & 0o777 != 0 {
        fchmod(fd, Mode::from_bits_truncate(perm & mode)).map_err(|e| DirError::io(path, e))?;
    }
    Ok(())
}

fn check_stat(st: &FileStat, path: &Path) -> Result<(), DirError> {
    if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFDIR.bits() {
        return Err(DirError::NotDirectory {
            path: path.to_path_buf(),
        });
    }
    let me = euid();
    if st.st_uid != me {
        return Err(DirError::Owner {
            path: path.to_path_buf(),
            owner: st.st_uid,
            me,
        });
    }
    if st.st_mode & 0o022 != 0 {
        return Err(DirError::Writable {
            path: path.to_path_buf(),
            mode: st.st_mode & 0o7777,
        });
    }
    Ok(())
}

/// Open `name` in `dir` as a directory without following a link, telling a
/// link from other failures.
fn open_dir_at(dir: BorrowedFd<'_>, name: &OsStr, path: &Path) -> Result<OwnedFd, DirError> {
    match openat(dir, name, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(Errno::ELOOP) => Err(DirError::Symlink {
            path: path.to_path_buf(),
        }),
        Err(Errno::ENOTDIR) => {
            let link = fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                .map(|st| st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFLNK.bits())
                .unwrap_or(false);
            Err(if link {
                DirError::Symlink {
                    path: path.to_path_buf(),
                }
            } else {
                DirError::NotDirectory {
                    path: path.to_path_buf(),
                }
            })
        }
        Err(e) => Err(DirError::io(path, e)),
    }
}

/// Refuse anything but one plain path component.
fn component(name: &OsStr) -> io::Result<&OsStr> {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') || b.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{:?} is not a plain file name", name),
        ));
    }
    Ok(name)
}

impl SecureDir {
    /// Create the directory at `path` with `mode` (its missing parents 0755,
    /// as `mkdir -p` would), or verify the one that is there.
    pub fn create_or_verify(path: &Path, mode: u32) -> Result<SecureDir, DirError> {
        let path = absolute(path);
        if path.parent().is_none() {
            // "/" itself: only its verification makes sense.
            let fd = open_dir_at(AT_FDCWD, path.as_os_str(), &path)?;
            verify(fd.as_fd(), &path, mode)?;
            return Ok(SecureDir { fd, path });
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        let name = path
            .file_name()
            .ok_or_else(|| DirError::NotDirectory { path: path.clone() })?;
        if !parent.exists() {
            std::fs::create_dir_all(parent).map_err(|e| DirError::io(parent, e))?;
        }
        let parent_fd = openat(
            AT_FDCWD,
            parent,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| DirError::io(parent, e))?;
        match mkdirat(&parent_fd, name, Mode::from_bits_truncate(mode)) {
            Ok(()) => {
                let fd = open_dir_at(parent_fd.as_fd(), name, &path)?;
                // mkdir's mode went through the umask: set it exactly.
                fchmod(&fd, Mode::from_bits_truncate(mode)).map_err(|e| DirError::io(&path, e))?;
                verify(fd.as_fd(), &path, mode)?;
                Ok(SecureDir { fd, path })
            }
            Err(Errno::EEXIST) => {
                let fd = open_dir_at(parent_fd.as_fd(), name, &path)?;
                verify(fd.as_fd(), &path, mode)?;
                Ok(SecureDir { fd, path })
            }
            Err(e) => Err(DirError::io(&path, e)),
        }
    }

    /// A directory opened by `fd` without following links — just created by
    /// ocictl (e.g. with `mkdirat`), or handed over by another process (the
    /// shim gets its state directory this way) — verified like any other:
    /// ours, not writable by others, a directory.
    pub fn from_fd(fd: OwnedFd, path: PathBuf) -> Result<SecureDir, DirError> {
        let st = fstat(&fd).map_err(|e| DirError::io(&path, e))?;
        check_stat(&st, &path)?;
        Ok(SecureDir { fd, path })
    }

    /// Open and verify an existing directory; `Ok(None)` when there is none.
    pub fn open(path: &Path) -> Result<Option<SecureDir>, DirError> {
        let path = absolute(path);
        let (parent, name) = match (path.parent(), path.file_name()) {
            (Some(p), Some(n)) => (p.to_path_buf(), n.to_os_string()),
            _ => (PathBuf::from("/"), OsString::from(".")),
        };
        let parent_fd = match openat(
            AT_FDCWD,
            &parent,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(DirError::io(&parent, e)),
        };
        match open_dir_at(parent_fd.as_fd(), &name, &path) {
            Ok(fd) => {
                let st = fstat(&fd).map_err(|e| DirError::io(&path, e))?;
                check_stat(&st, &path)?;
                Ok(Some(SecureDir { fd, path }))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The path the directory had when it was opened (for messages and for
    /// handing to other programs).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` inside (for messages and other programs only:
    /// ocictl's own access goes through the fd).
    pub fn join(&self, name: impl AsRef<OsStr>) -> PathBuf {
        self.path.join(name.as_ref())
    }

    /// Create a new subdirectory; fails if `name` exists.
    pub fn create_dir(&self, name: impl AsRef<OsStr>, mode: u32) -> Result<SecureDir, DirError> {
        let name = name.as_ref();
        let path = self.join(name);
        component(name).map_err(|e| DirError::io(&path, e))?;
        mkdirat(&self.fd, name, Mode::from_bits_truncate(mode))
            .map_err(|e| DirError::io(&path, e))?;
        let fd = open_dir_at(self.fd.as_fd(), name, &path)?;
        fchmod(&fd, Mode::from_bits_truncate(mode)).map_err(|e| DirError::io(&path, e))?;
        Ok(SecureDir { fd, path })
    }

    /// A subdirectory: created with `mode`, or the existing one verified.
    pub fn create_or_open_dir(
        &self,
        name: impl AsRef<OsStr>,
        mode: u32,
    ) -> Result<SecureDir, DirError> {
        let name = name.as_ref();
        match self.create_dir(name, mode) {
            Err(DirError::Io { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {
                let path = self.join(name);
                let fd = open_dir_at(self.fd.as_fd(), name, &path)?;
                verify(fd.as_fd(), &path, mode)?;
                Ok(SecureDir { fd, path })
            }
            other => other,
        }
    }

    /// An existing subdirectory, verified; `Ok(None)` when there is none.
    pub fn open_dir(&self, name: impl AsRef<OsStr>) -> Result<Option<SecureDir>, DirError> {
        let name = name.as_ref();
        let path = self.join(name);
        component(name).map_err(|e| DirError::io(&path, e))?;
        match open_dir_at(self.fd.as_fd(), name, &path) {
            Ok(fd) => {
                let st = fstat(&fd).map_err(|e| DirError::io(&path, e))?;
                check_stat(&st, &path)?;
                Ok(Some(SecureDir { fd, path }))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn open_file(&self, name: &OsStr, flags: OFlag, mode: u32) -> io::Result<File> {
        component(name)?;
        let fd = openat(
            &self.fd,
            name,
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )?;
        let st = fstat(&fd)?;
        if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
            return Err(io::Error::other(format!(
                "{} is not a regular file",
                self.join(name).display()
            )));
        }
        Ok(File::from(fd))
    }

    /// A new file, `O_EXCL`: fails if anything (a link included) has the name.
    pub fn create_new(&self, name: impl AsRef<OsStr>, mode: u32) -> io::Result<File> {
        let f = self.open_file(
            name.as_ref(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
            mode,
        )?;
        fchmod(f.as_fd(), Mode::from_bits_truncate(mode))?;
        Ok(f)
    }

    /// A file to append to: created with `mode` if missing, never through a
    /// link, never truncated.
    pub fn open_append(&self, name: impl AsRef<OsStr>, mode: u32) -> io::Result<File> {
        self.open_file(
            name.as_ref(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_APPEND,
            mode,
        )
    }

    /// A lock file: read-write, created with 0600 if missing, never through
    /// a link and never truncated (a lock holds no data).
    pub fn open_lock(&self, name: impl AsRef<OsStr>) -> io::Result<File> {
        self.open_file(name.as_ref(), OFlag::O_RDWR | OFlag::O_CREAT, 0o600)
    }

    /// An existing regular file for reading, not through a link, not
    /// blocking on a FIFO.
    pub fn open_read(&self, name: impl AsRef<OsStr>) -> io::Result<File> {
        let f = self.open_file(name.as_ref(), OFlag::O_RDONLY | OFlag::O_NONBLOCK, 0)?;
        Ok(f)
    }

    /// A whole small file, at most `cap` bytes (a larger one is an error).
    pub fn read_bounded(&self, name: impl AsRef<OsStr>, cap: u64) -> io::Result<Vec<u8>> {
        let name = name.as_ref();
        let f = self.open_read(name)?;
        let mut data = Vec::new();
        f.take(cap + 1).read_to_end(&mut data)?;
        if data.len() as u64 > cap {
            return Err(io::Error::other(format!(
                "{} is larger than {cap} bytes",
                self.join(name).display()
            )));
        }
        Ok(data)
    }

    /// Replace `name` with `data` atomically: a new private file (`O_EXCL`),
    /// written and synced, renamed over `name`. A link planted at `name` is
    /// replaced, never followed.
    pub fn write_atomic(&self, name: impl AsRef<OsStr>, data: &[u8], mode: u32) -> io::Result<()> {
        let name = component(name.as_ref())?;
        let mut tmp = OsString::from(".");
        tmp.push(name);
        tmp.push(format!(".tmp-{}", std::process::id()));
        // A stale temp file of a dead process with our pid: ours to remove.
        let _ = unlinkat(&self.fd, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        let result = (|| {
            let mut f = self.create_new(&tmp, mode)?;
            f.write_all(data)?;
            f.sync_all()?;
            renameat(&self.fd, tmp.as_os_str(), &self.fd, name)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = unlinkat(&self.fd, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
        result
    }

    /// Rename `from` here to `to` in `dest` (which may be this directory).
    pub fn rename(
        &self,
        from: impl AsRef<OsStr>,
        dest: &SecureDir,
        to: impl AsRef<OsStr>,
    ) -> io::Result<()> {
        let from = component(from.as_ref())?;
        let to = component(to.as_ref())?;
        renameat(&self.fd, from, &dest.fd, to)?;
        Ok(())
    }

    /// Swap two names of this directory in one step (both must exist).
    pub fn exchange(&self, a: impl AsRef<OsStr>, b: impl AsRef<OsStr>) -> io::Result<()> {
        let a = component(a.as_ref())?;
        let b = component(b.as_ref())?;
        nix::fcntl::renameat2(
            &self.fd,
            a,
            &self.fd,
            b,
            nix::fcntl::RenameFlags::RENAME_EXCHANGE,
        )?;
        Ok(())
    }

    /// Rename without replacing: fails with `AlreadyExists` if `to` exists.
    pub fn rename_noreplace(
        &self,
        from: impl AsRef<OsStr>,
        dest: &SecureDir,
        to: impl AsRef<OsStr>,
    ) -> io::Result<()> {
        let from = component(from.as_ref())?;
        let to = component(to.as_ref())?;
        nix::fcntl::renameat2(
            &self.fd,
            from,
            &dest.fd,
            to,
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        )?;
        Ok(())
    }

    /// Remove a file (or a link: the link itself, never its target).
    /// Missing is not an error.
    pub fn remove_file(&self, name: impl AsRef<OsStr>) -> io::Result<()> {
        let name = component(name.as_ref())?;
        match unlinkat(&self.fd, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove `name` and everything below it, without following a link
    /// anywhere (a link is removed as a link). Missing is not an error.
    pub fn remove_tree(&self, name: impl AsRef<OsStr>) -> io::Result<()> {
        let name = component(name.as_ref())?;
        match unlinkat(&self.fd, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => return Ok(()),
            Err(Errno::EISDIR) | Err(Errno::EPERM) => {}
            Err(e) => return Err(e.into()),
        }
        let sub = match openat(&self.fd, name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => SecureDir {
                fd,
                path: self.join(name),
            },
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for (child, _) in sub.entries()? {
            sub.remove_tree(&child)?;
        }
        match unlinkat(&self.fd, name, UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The names inside (not `.`/`..`) and what each is, links not followed.
    pub fn entries(&self) -> io::Result<Vec<(OsString, EntryKind)>> {
        let fd = openat(&self.fd, ".", DIR_FLAGS, Mode::empty())?;
        let mut dir = nix::dir::Dir::from_fd(fd)?;
        let mut out = Vec::new();
        for entry in dir.iter() {
            let entry = entry?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let kind = match fstatat(&self.fd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => EntryKind::of(st.st_mode),
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(e.into()),
            };
            out.push((name.to_os_string(), kind));
        }
        Ok(out)
    }

    /// What `name` is, links not followed; `None` when missing.
    pub fn kind_of(&self, name: impl AsRef<OsStr>) -> io::Result<Option<EntryKind>> {
        let name = component(name.as_ref())?;
        match fstatat(&self.fd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(EntryKind::of(st.st_mode))),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The owner (uid) of `name`, links not followed; `None` when missing.
    pub fn owner_of(&self, name: impl AsRef<OsStr>) -> io::Result<Option<u32>> {
        let name = component(name.as_ref())?;
        match fstatat(&self.fd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st.st_uid)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The directory's fd (for `*at` calls of other modules).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A second handle on the same directory.
    pub fn try_clone(&self) -> io::Result<SecureDir> {
        Ok(SecureDir {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        })
    }
}

/// What a directory entry is (links are never followed to find out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File,
    Symlink,
    Other,
}

impl EntryKind {
    fn of(mode: u32) -> EntryKind {
        let fmt = mode & SFlag::S_IFMT.bits();
        if fmt == SFlag::S_IFDIR.bits() {
            EntryKind::Dir
        } else if fmt == SFlag::S_IFREG.bits() {
            EntryKind::File
        } else if fmt == SFlag::S_IFLNK.bits() {
            EntryKind::Symlink
        } else {
            EntryKind::Other
        }
    }
}

/// `path` made absolute against the current directory, lexically (`..` and
/// `.` resolved without following links).
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn scratch() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn creates_private_dirs_whatever_the_umask() {
        let t = scratch();
        let d = SecureDir::create_or_verify(&t.path().join("a/b"), 0o700).unwrap();
        let mode = std::fs::metadata(d.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // A second call verifies the same directory.
        SecureDir::create_or_verify(&t.path().join("a/b"), 0o700).unwrap();
    }

    #[test]
    fn refuses_a_planted_link_and_a_world_writable_dir() {
        let t = scratch();
        let target = t.path().join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        symlink(&target, t.path().join("link")).unwrap();
        let e = SecureDir::create_or_verify(&t.path().join("link"), 0o700).unwrap_err();
        assert!(matches!(e, DirError::Symlink { .. }), "{e}");

        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let e = SecureDir::create_or_verify(&open, 0o700).unwrap_err();
        assert!(matches!(e, DirError::Writable { .. }), "{e}");
    }

    #[test]
    fn narrows_our_own_too_open_dir() {
        let t = scratch();
        let p = t.path().join("d");
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        SecureDir::create_or_verify(&p, 0o700).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn files_are_never_opened_through_links() {
        let t = scratch();
        let d = SecureDir::create_or_verify(&t.path().join("d"), 0o700).unwrap();
        let victim = t.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        symlink(&victim, d.join("lock")).unwrap();
        assert!(d.open_lock("lock").is_err());
        symlink(&victim, d.join("new")).unwrap();
        assert!(d.create_new("new", 0o600).is_err());
        symlink(&victim, d.join("log")).unwrap();
        assert!(d.open_append("log", 0o600).is_err());
        // write_atomic replaces the link itself.
        symlink(&victim, d.join("exit.json")).unwrap();
        d.write_atomic("exit.json", b"{}", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(std::fs::read(d.join("exit.json")).unwrap(), b"{}");
        let mode = std::fs::metadata(d.join("exit.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(d.create_new("../x", 0o600).is_err());
    }

    #[test]
    fn remove_tree_never_follows_links() {
        let t = scratch();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("f"), "keep").unwrap();
        let d = SecureDir::create_or_verify(&t.path().join("d"), 0o700).unwrap();
        std::fs::create_dir_all(d.join("x/y")).unwrap();
        std::fs::write(d.join("x/y/z"), "gone").unwrap();
        symlink(&outside, d.join("x/link")).unwrap();
        d.remove_tree("x").unwrap();
        assert!(!d.join("x").exists());
        assert_eq!(std::fs::read_to_string(outside.join("f")).unwrap(), "keep");
        symlink(&outside, d.join("l2")).unwrap();
        d.remove_tree("l2").unwrap();
        assert!(outside.join("f").exists());
    }

    #[test]
    fn a_handed_over_fd_is_verified_again() {
        let t = scratch();
        let d = SecureDir::create_or_verify(&t.path().join("d"), 0o700).unwrap();
        d.write_atomic("f", b"x", 0o600).unwrap();
        assert_eq!(d.owner_of("f").unwrap(), Some(euid()));
        assert_eq!(d.owner_of("none").unwrap(), None);
        let fd = d.as_fd().try_clone_to_owned().unwrap();
        let again = SecureDir::from_fd(fd, d.path().to_path_buf()).unwrap();
        assert_eq!(again.read_bounded("f", 10).unwrap(), b"x");
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let fd = d.as_fd().try_clone_to_owned().unwrap();
        assert!(SecureDir::from_fd(fd, d.path().to_path_buf()).is_err());
    }

    #[test]
    fn bounded_reads_refuse_what_is_too_large() {
        let t = scratch();
        let d = SecureDir::create_or_verify(&t.path().join("d"), 0o700).unwrap();
        d.write_atomic("m", &[b'x'; 100], 0o600).unwrap();
        assert_eq!(d.read_bounded("m", 100).unwrap().len(), 100);
        assert!(d.read_bounded("m", 99).is_err());
    }
}
