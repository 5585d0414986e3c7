//! The root filesystem being built, reached only through its directory fd.
//!
//! Every path a layer names is cleaned lexically (`..` never climbs above
//! the top, a leading `/` means the rootfs) and then resolved by the kernel
//! with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` on the rootfs fd,
//! so a symlink planted by an earlier entry (`x -> /` or `x -> ../../..`)
//! resolves inside the rootfs too. Entries are then made with the `*at`
//! calls in the parent directory's fd, never by path, and the last
//! component is never followed.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::rc::Rc;

use nix::errno::Errno;
use nix::fcntl::readlinkat;
use nix::fcntl::{openat, openat2, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fchmod, fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

/// A path inside the rootfs, cleaned: its components, none of them empty,
/// `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InnerPath {
    parts: Vec<OsString>,
}

impl InnerPath {
    /// Clean `raw` as if it were below `/`: `a/../../b` is `b`, `/etc` is
    /// `etc`, `./` is the rootfs itself.
    pub fn clean(raw: &[u8]) -> InnerPath {
        let mut parts: Vec<OsString> = Vec::new();
        for part in raw.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                p => parts.push(OsString::from_vec(p.to_vec())),
            }
        }
        InnerPath { parts }
    }

    pub fn is_root(&self) -> bool {
        self.parts.is_empty()
    }

    /// The parent and the last component (None for the rootfs itself).
    pub fn split_last(&self) -> Option<(InnerPath, &OsStr)> {
        let (last, parent) = self.parts.split_last()?;
        Some((
            InnerPath {
                parts: parent.to_vec(),
            },
            last.as_os_str(),
        ))
    }

    pub fn join(&self, name: &OsStr) -> InnerPath {
        let mut parts = self.parts.clone();
        parts.push(name.to_os_string());
        InnerPath { parts }
    }

    /// Relative to the rootfs (`.` for the rootfs itself).
    pub fn relative(&self) -> PathBuf {
        if self.parts.is_empty() {
            return PathBuf::from(".");
        }
        self.parts.iter().collect()
    }

    /// `/a/b`, as an error message shows it.
    pub fn display(&self) -> String {
        format!("/{}", self.relative().display()).replace("/.", "/")
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &InnerPath) -> bool {
        self.parts.starts_with(&other.parts)
    }
}

/// The rootfs directory and a one-entry cache of the last parent directory
/// opened (tar streams list a directory's entries together).
pub struct Rootfs {
    fd: OwnedFd,
    cached: Option<(InnerPath, Rc<OwnedFd>)>,
}

impl Rootfs {
    pub fn new(fd: OwnedFd) -> Rootfs {
        Rootfs { fd, cached: None }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Open `path` inside the rootfs with `flags`; the last component is
    /// followed only if `flags` lacks O_NOFOLLOW, and then inside too.
    pub fn open(&self, path: &InnerPath, flags: OFlag) -> io::Result<OwnedFd> {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let rel = path.relative();
        // EAGAIN: a rename elsewhere on the system raced the lookup.
        for _ in 0..16 {
            match openat2(self.fd.as_fd(), rel.as_path(), how) {
                Err(Errno::EAGAIN) => continue,
                other => return other.map_err(io::Error::from),
            }
        }
        Err(io::Error::from(Errno::EAGAIN))
    }

    /// Forget the cached directory if `path` is it or one of its parents:
    /// the entry about to be made may replace it.
    pub fn invalidate(&mut self, path: &InnerPath) {
        if let Some((cached, _)) = &self.cached {
            if cached.starts_with(path) {
                self.cached = None;
            }
        }
    }

    /// The directory `path`, made (0755) with any missing parents.
    pub fn dir(&mut self, path: &InnerPath) -> io::Result<Rc<OwnedFd>> {
        if let Some((cached, fd)) = &self.cached {
            if cached == path {
                return Ok(fd.clone());
            }
        }
        let fd = match self.open(path, DIR_FLAGS) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => self.make_dirs(path, 0)?,
            Err(e) => return Err(e),
        };
        let fd = Rc::new(fd);
        self.cached = Some((path.clone(), fd.clone()));
        Ok(fd)
    }
}

impl Rootfs {
    /// Make the missing directories of `path`, component by component. A
    /// dangling symlink on the way (`x -> /opt/app`, no /opt yet) has its
    /// target made, resolved inside the rootfs like everything else.
    fn make_dirs(&self, path: &InnerPath, hops: u32) -> io::Result<OwnedFd> {
        if hops > 40 {
            return Err(io::Error::from(Errno::ELOOP));
        }
        let mut at = InnerPath { parts: Vec::new() };
        let mut fd = self.open(&at, DIR_FLAGS)?;
        for (i, part) in path.parts.iter().enumerate() {
            at = at.join(part);
            fd = match self.open(&at, DIR_FLAGS) {
                Ok(next) => next,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    match mkdirat(
                        fd.as_fd(),
                        part.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) => {
                            let next = open_subdir(fd.as_fd(), part)?;
                            fchmod(next.as_fd(), Mode::from_bits_truncate(0o755))?;
                            next
                        }
                        Err(Errno::EEXIST) => {
                            let target = readlinkat(fd.as_fd(), part.as_os_str())?;
                            let mut raw = Vec::new();
                            if !target.as_bytes().starts_with(b"/") {
                                for p in &path.parts[..i] {
                                    raw.extend_from_slice(p.as_bytes());
                                    raw.push(b'/');
                                }
                            }
                            raw.extend_from_slice(target.as_bytes());
                            for p in &path.parts[i + 1..] {
                                raw.push(b'/');
                                raw.extend_from_slice(p.as_bytes());
                            }
                            return self.make_dirs(&InnerPath::clean(&raw), hops + 1);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e),
            };
        }
        Ok(fd)
    }
}

const DIR_FLAGS: OFlag = OFlag::O_DIRECTORY.union(OFlag::O_RDONLY);

/// What is at `name` in `dir`, not following a link; None if nothing.
pub fn kind_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<SFlag>> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT))),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Remove `name` from `dir` — a file, a link (never followed) or a whole
/// tree — if it is there.
pub fn remove_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match kind_at(dir, name)? {
        None => Ok(()),
        Some(SFlag::S_IFDIR) => {
            let sub = open_subdir(dir, name)?;
            remove_children(sub.as_fd(), &mut |_| false)?;
            unlinkat(dir, name, UnlinkatFlags::RemoveDir).map_err(io::Error::from)
        }
        Some(_) => match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        },
    }
}

/// Open the directory `name` in `dir`, refusing a symlink.
pub fn open_subdir(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

/// The names in `dir`, without `.` and `..`.
pub fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let listing = nix::dir::Dir::openat(
        dir,
        ".",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for entry in listing {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name));
        }
    }
    Ok(names)
}

/// Remove every child of `dir` for which `keep` says no.
pub fn remove_children(
    dir: BorrowedFd<'_>,
    keep: &mut dyn FnMut(&OsStr) -> bool,
) -> io::Result<()> {
    for name in list(dir)? {
        if !keep(&name) {
            remove_at(dir, &name)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_never_climbs_out() {
        let p = |s: &str| InnerPath::clean(s.as_bytes()).relative();
        assert_eq!(p("../../etc/passwd"), PathBuf::from("etc/passwd"));
        assert_eq!(p("/abs/x"), PathBuf::from("abs/x"));
        assert_eq!(p("a/./b/../c/"), PathBuf::from("a/c"));
        assert_eq!(p("./"), PathBuf::from("."));
        assert!(InnerPath::clean(b"..").is_root());
        assert_eq!(InnerPath::clean(b"a/b").display(), "/a/b");
    }
}
