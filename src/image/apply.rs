//! Applying one layer's tar stream to the rootfs: files, directories,
//! symlinks, hard links and devices with their metadata, and the OCI
//! whiteouts (`.wh.NAME` removes NAME from the layers below, `.wh..wh..opq`
//! hides everything the layers below put in its directory).
//!
//! Every entry goes through [`Rootfs`], so nothing a layer says — `../`,
//! an absolute path, a symlink then an entry below it, a hard link to
//! `/etc/shadow` — reaches outside the rootfs.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmodat, makedev, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{linkat, symlinkat};
use tar::EntryType;

use super::metadata::{self, Meta};
use super::rootfs::{kind_at, list, open_subdir, remove_at, InnerPath, Rootfs};

const OPAQUE: &[u8] = b".wh..wh..opq";
const WHITEOUT: &[u8] = b".wh.";

/// What applying a layer did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Applied {
    pub entries: u64,
    pub bytes_written: u64,
}

/// A failure, with the entry it happened at (None: the stream itself).
#[derive(Debug)]
pub struct ApplyError {
    pub entry: Option<String>,
    pub source: io::Error,
}

/// Applies layers to one rootfs, one after the other.
pub struct Applier<'a> {
    rootfs: Rootfs,
    cancel: &'a AtomicBool,
    buf: Vec<u8>,
}

impl<'a> Applier<'a> {
    pub fn new(rootfs: Rootfs, cancel: &'a AtomicBool) -> Applier<'a> {
        Applier {
            rootfs,
            cancel,
            buf: vec![0; 1 << 20],
        }
    }

    pub fn rootfs(&mut self) -> &mut Rootfs {
        &mut self.rootfs
    }

    /// Apply the tar stream `reader`; returns it so the caller can drain
    /// and verify what follows the end-of-archive marker.
    pub fn apply<R: Read>(&mut self, reader: R) -> Result<(Applied, R), ApplyError> {
        let stream_err = |source| ApplyError {
            entry: None,
            source,
        };
        let mut archive = tar::Archive::new(reader);
        let mut layer = Layer::default();
        for entry in archive.entries().map_err(stream_err)? {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(stream_err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    "interrupted",
                )));
            }
            let mut entry = entry.map_err(stream_err)?;
            let path = InnerPath::clean(&entry.path_bytes());
            self.entry(&mut entry, &path, &mut layer)
                .map_err(|source| ApplyError {
                    entry: Some(path.display()),
                    source,
                })?;
            layer.applied.entries += 1;
        }
        // Directory times last: making their entries changed them.
        for (path, meta) in layer.dirs.iter().rev() {
            let fd = match self.rootfs.open(
                path,
                OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY,
            ) {
                Ok(fd) => fd,
                Err(_) => continue, // replaced by a later entry
            };
            metadata::apply_times(fd.as_fd(), meta).map_err(|source| ApplyError {
                entry: Some(path.display()),
                source,
            })?;
        }
        Ok((layer.applied, archive.into_inner()))
    }

    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &InnerPath,
        layer: &mut Layer,
    ) -> io::Result<()> {
        let kind = entry.header().entry_type();
        if !matches!(
            kind,
            EntryType::Regular
                | EntryType::Continuous
                | EntryType::GNUSparse
                | EntryType::Directory
                | EntryType::Symlink
                | EntryType::Link
                | EntryType::Char
                | EntryType::Block
                | EntryType::Fifo
        ) {
            return Ok(()); // global PAX headers and the like: no file
        }
        let meta = Meta::of(entry)?;
        let Some((parent, name)) = path.split_last() else {
            // `./`: the rootfs directory itself.
            if kind == EntryType::Directory {
                let fd = self
                    .rootfs
                    .open(path, OFlag::O_DIRECTORY | OFlag::O_RDONLY)?;
                metadata::apply(fd.as_fd(), &meta)?;
                layer.dirs.push((path.clone(), meta));
            }
            return Ok(());
        };
        if name.as_bytes() == OPAQUE {
            return self.opaque(&parent, layer);
        }
        if let Some(hidden) = name.as_bytes().strip_prefix(WHITEOUT) {
            return self.whiteout(&parent, OsStr::from_bytes(hidden));
        }
        self.rootfs.invalidate(path);
        layer.made.insert(path.clone());
        match kind {
            EntryType::Directory => {
                let dir = self.rootfs.dir(&parent)?;
                match kind_at(dir.as_fd(), name)? {
                    Some(SFlag::S_IFDIR) => {}
                    Some(_) => {
                        remove_at(dir.as_fd(), name)?;
                        mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(0o700))?;
                    }
                    None => mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(0o700))?,
                }
                let fd = open_subdir(dir.as_fd(), name)?;
                metadata::apply(fd.as_fd(), &meta)?;
                layer.dirs.push((path.clone(), meta));
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| no_target("symlink"))?;
                let dir = self.rootfs.dir(&parent)?;
                replacing(dir.as_fd(), name, || {
                    symlinkat(OsStr::from_bytes(&target), dir.as_fd(), name)
                })?;
                metadata::apply_link(dir.as_fd(), name, &meta)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| no_target("hard link"))?;
                let target = InnerPath::clean(&target);
                if target == *path {
                    return Ok(());
                }
                // O_PATH|O_NOFOLLOW: the file itself, resolved in the rootfs.
                let source = self
                    .rootfs
                    .open(&target, OFlag::O_PATH | OFlag::O_NOFOLLOW)
                    .map_err(|e| annotate(e, &format!("hard link target {}", target.display())))?;
                let dir = self.rootfs.dir(&parent)?;
                replacing(dir.as_fd(), name, || {
                    linkat(
                        source.as_fd(),
                        "",
                        dir.as_fd(),
                        name,
                        AtFlags::AT_EMPTY_PATH,
                    )
                })?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                if kind != EntryType::Fifo && !metadata::privileged() {
                    return Ok(()); // devices need root; the rest of the image does not
                }
                let sflag = match kind {
                    EntryType::Char => SFlag::S_IFCHR,
                    EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let header = entry.header();
                let dev = makedev(
                    u64::from(header.device_major()?.unwrap_or(0)),
                    u64::from(header.device_minor()?.unwrap_or(0)),
                );
                let dir = self.rootfs.dir(&parent)?;
                let perm = Mode::from_bits_truncate(0o600);
                replacing(dir.as_fd(), name, || {
                    mknodat(dir.as_fd(), name, sflag, perm, dev)
                })?;
                metadata::apply_link(dir.as_fd(), name, &meta)?;
                // The node is new, in a directory only root can write.
                fchmodat(
                    dir.as_fd(),
                    name,
                    Mode::from_bits_truncate(meta.mode),
                    FchmodatFlags::FollowSymlink,
                )?;
            }
            _ => {
                let dir = self.rootfs.dir(&parent)?;
                let flags = OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC;
                let mut fd: Option<OwnedFd> = None;
                replacing(dir.as_fd(), name, || {
                    fd = Some(openat(
                        dir.as_fd(),
                        name,
                        flags,
                        Mode::from_bits_truncate(0o600),
                    )?);
                    Ok(())
                })?;
                let file = std::fs::File::from(fd.expect("created"));
                layer.applied.bytes_written += self.copy(entry, &file)?;
                metadata::apply(file.as_fd(), &meta)?;
                metadata::apply_times(file.as_fd(), &meta)?;
            }
        }
        Ok(())
    }

    fn copy(&mut self, from: &mut impl Read, mut to: &std::fs::File) -> io::Result<u64> {
        let mut total = 0;
        loop {
            let n = match from.read(&mut self.buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            to.write_all(&self.buf[..n])?;
            total += n as u64;
        }
    }

    /// `.wh.NAME`: remove NAME (a whole tree, links not followed).
    fn whiteout(&mut self, parent: &InnerPath, hidden: &OsStr) -> io::Result<()> {
        if hidden.is_empty() || hidden == "." || hidden == ".." {
            return Err(io::Error::other("a whiteout that names no file"));
        }
        self.rootfs.invalidate(&parent.join(hidden));
        match self
            .rootfs
            .open(parent, OFlag::O_DIRECTORY | OFlag::O_RDONLY)
        {
            Ok(dir) => remove_at(dir.as_fd(), hidden),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `.wh..wh..opq`: remove what the layers below put in `dir`, keeping
    /// what this layer made there.
    fn opaque(&mut self, dir: &InnerPath, layer: &Layer) -> io::Result<()> {
        self.rootfs.invalidate(dir);
        let fd = match self.rootfs.open(dir, OFlag::O_DIRECTORY | OFlag::O_RDONLY) {
            Ok(fd) => fd,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        clear_lower(fd.as_fd(), dir, &layer.made)
    }
}

/// What one layer has done so far.
#[derive(Default)]
struct Layer {
    applied: Applied,
    /// Every path this layer made (an opaque directory keeps these).
    made: HashSet<InnerPath>,
    /// Directories, whose times are set when the layer is done.
    dirs: Vec<(InnerPath, Meta)>,
}

/// Remove from `fd` (the directory `path`) everything not in `made`; in a
/// kept directory, the same below.
fn clear_lower(fd: BorrowedFd<'_>, path: &InnerPath, made: &HashSet<InnerPath>) -> io::Result<()> {
    for name in list(fd)? {
        let child = path.join(&name);
        if !made.contains(&child) {
            remove_at(fd, &name)?;
        } else if kind_at(fd, &name)? == Some(SFlag::S_IFDIR) {
            let sub = open_subdir(fd, &name)?;
            clear_lower(sub.as_fd(), &child, made)?;
        }
    }
    Ok(())
}

/// Run `make`; if the name is taken (by a lower layer), remove what is
/// there — never following it — and run it again.
fn replacing(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    mut make: impl FnMut() -> nix::Result<()>,
) -> io::Result<()> {
    match make() {
        Err(Errno::EEXIST) => {
            remove_at(dir, name)?;
            make().map_err(io::Error::from)
        }
        other => other.map_err(io::Error::from),
    }
}

fn no_target(what: &str) -> io::Error {
    io::Error::other(format!("a {what} without a target"))
}

fn annotate(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}
