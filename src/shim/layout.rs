//! The shim's state directory layout, in one place: where the base
//! directory is for a runtime root, and every name inside a container's
//! directory. Nothing else in ocictl spells these names.
//!
//! For a runtime root `R` (`--root`, else the runtime's default such as
//! `/run/runc`), resolved to its real path first (a root given through a
//! symlink is the same root), the state lives in `R.ocictl/`: a sibling of
//! the root, never inside it, so the runtime never sees a file it did not
//! write. Both the base and each container's directory are 0700, created by
//! ocictl or verified ([`SecureDir`]): a directory another user made is
//! refused, naming it and its owner, before anything runs.
//!
//! ```text
//! R.ocictl/<id>/lock          the shim holds flock(LOCK_EX) on it for its whole life
//! R.ocictl/<id>/meta.json     the shim's pid, the init's identity, terminal?, log file
//! R.ocictl/<id>/exit.json     the exit record, written atomically once the init was reaped
//! R.ocictl/<id>/origin.json   the user's bundle, when the runtime runs ocictl's copy
//! R.ocictl/<id>/bundle/       that copy (`-t` on a bundle without a terminal), 0600 config
//! R.ocictl/<id>/pid           the runtime's --pid-file, unless the caller gave one
//! R.ocictl/<id>/console.sock  where the runtime hands the shim the pty (start-up only)
//! R.ocictl/<id>/attach.sock   a terminal shim's socket for `attach` and `logs`
//! R.ocictl/<id>/console.log   a terminal's output (unless --log-output) or
//!                             --capture's stdout and stderr, as timed records,
//! R.ocictl/<id>/console.log.1 the previous one after a rotation, and
//! R.ocictl/<id>/console.log.new the next one, for a moment during a rotation
//! R.ocictl/<id>/shim.log      the shim's own log, with --debug
//! ```
//!
//! Every container ID is a plain file name (runc's rules, at most 255
//! bytes), and no ocictl name outside a container's directory exists, so no
//! ID can collide with ocictl's own files. Unix socket addresses are short
//! (108 bytes): sockets are bound and reached through
//! `/proc/self/fd/<dir fd>/…`, so a 255-character ID never overflows one.

use std::path::{Path, PathBuf};

use crate::runtime::Runtime;
use crate::secure_dir::{DirError, SecureDir};

pub const LOCK: &str = "lock";
pub const META: &str = "meta.json";
pub const EXIT: &str = "exit.json";
pub const ORIGIN: &str = "origin.json";
pub const BUNDLE: &str = "bundle";
pub const PID_FILE: &str = "pid";
pub const CONSOLE_SOCK: &str = "console.sock";
pub const ATTACH_SOCK: &str = "attach.sock";
pub const CONSOLE_LOG: &str = "console.log";
pub const CONSOLE_LOG_OLD: &str = "console.log.1";
pub const CONSOLE_LOG_NEXT: &str = "console.log.new";
pub const DEBUG_LOG: &str = "shim.log";

/// Mode of every directory here.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file here.
pub const FILE_MODE: u32 = 0o600;

/// The runtime's root, symlinks resolved.
pub fn root_path(runtime: &Runtime) -> PathBuf {
    match &runtime.root {
        Some(root) => real_path(root),
        None => real_path(&default_root(&runtime.binary)),
    }
}

/// The directory holding every container's shim state for `runtime`'s root.
pub fn base_path(runtime: &Runtime) -> PathBuf {
    let root = root_path(runtime);
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "runtime".into());
    root.with_file_name(format!("{name}.ocictl"))
}

/// The base directory, created 0700 or verified (for a shim's start).
///
/// Its parent is checked too: the runtime is handed paths through the base
/// (the bundle copy, the pid file), so no other user may be able to rename
/// it away. A parent of ours or root's is fine, and so is one like /tmp
/// whose sticky bit keeps others from renaming what is ours.
pub fn create_base(runtime: &Runtime) -> Result<SecureDir, DirError> {
    let path = base_path(runtime);
    let parent = path.parent().unwrap_or(Path::new("/"));
    // Before anything is made there (when it exists already), and after.
    if parent.exists() {
        check_parent(parent)?;
    }
    let base = SecureDir::create_or_verify(&path, DIR_MODE)?;
    check_parent(parent)?;
    Ok(base)
}

/// Refuse a parent another user could rename the base out of.
fn check_parent(parent: &Path) -> Result<(), DirError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(parent).map_err(|source| DirError::Io {
        path: parent.to_path_buf(),
        source,
    })?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(DirError::Owner {
            path: parent.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    let sticky = meta.mode() & 0o1000 != 0;
    if meta.mode() & 0o022 != 0 && !sticky {
        return Err(DirError::Writable {
            path: parent.to_path_buf(),
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(())
}

/// The base directory, verified; `Ok(None)` when there is none (readers).
pub fn open_base(runtime: &Runtime) -> Result<Option<SecureDir>, DirError> {
    SecureDir::open(&base_path(runtime))
}

/// The path by which this process reaches `name` in `dir` through the
/// directory's fd: short whatever the ID (a socket address has 108 bytes),
/// and never re-resolving the directory's own path.
pub fn fd_path(dir: &SecureDir, name: &str) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}/{name}", dir.as_fd().as_raw_fd()))
}

/// The same for another process (the runtime) reaching it through ours.
pub fn fd_path_for_child(dir: &SecureDir, name: &str) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!(
        "/proc/{}/fd/{}/{name}",
        std::process::id(),
        dir.as_fd().as_raw_fd()
    ))
}

/// `path` with every symlink resolved, as far as it exists (a root the
/// runtime has yet to create keeps its missing tail as given).
fn real_path(path: &Path) -> PathBuf {
    let abs = PathBuf::from(crate::runtime::absolute(path));
    let mut existing = abs.as_path();
    let mut tail = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let mut out = real;
            for part in tail.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_os_string());
                existing = parent;
            }
            _ => return abs,
        }
    }
}

/// The runtime's own default root, as runc, crun and youki pick it:
/// `/run/<name>` for root, `$XDG_RUNTIME_DIR/<name>` otherwise.
fn default_root(binary: &Path) -> PathBuf {
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "runc".into());
    let root = nix::unistd::geteuid().is_root();
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(xdg) if !root => Path::new(&xdg).join(name),
        _ => Path::new("/run").join(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_lives_beside_the_root_never_inside() {
        let t = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(t.path()).unwrap();
        let runc = Runtime {
            root: Some(real.join("root/")),
            ..Runtime::default()
        };
        assert_eq!(base_path(&runc), real.join("root.ocictl"));
    }

    #[test]
    fn a_parent_others_could_rename_the_base_out_of_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            check_parent(&open),
            Err(DirError::Writable { .. })
        ));
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        check_parent(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        check_parent(&open).unwrap();
    }

    #[test]
    fn a_root_through_a_symlink_is_the_same_root() {
        let t = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir(real.join("root")).unwrap();
        std::os::unix::fs::symlink(real.join("root"), real.join("link")).unwrap();
        let via = |p: PathBuf| {
            base_path(&Runtime {
                root: Some(p),
                ..Runtime::default()
            })
        };
        assert_eq!(via(real.join("link")), real.join("root.ocictl"));
        assert_eq!(via(real.join("root")), real.join("root.ocictl"));
        // Not there yet: the missing tail is kept under the real parent.
        assert_eq!(via(real.join("link/sub")), real.join("root/sub.ocictl"));
    }
}
