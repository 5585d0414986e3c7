//! Typed options, one struct per runtime operation, each turned into exactly
//! the argv runc 1.1 accepts for that subcommand — never a flag it rejects
//! (go-runc passes `--detach` to `create`; these types cannot).

use std::path::PathBuf;

use super::argv::Args;
use crate::signal::Signal;

/// `runc create`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOpts {
    /// The bundle directory; runc's default is the current directory.
    pub bundle: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Extra fds (3, 4, …) passed on to the container.
    pub preserve_fds: Option<u32>,
}

impl CreateOpts {
    pub(crate) fn push_args(&self, args: &mut Args) {
        args.path("bundle", self.bundle.as_deref())
            .path("console-socket", self.console_socket.as_deref())
            .path("pid-file", self.pid_file.as_deref())
            .flag("no-pivot", self.no_pivot)
            .flag("no-new-keyring", self.no_new_keyring)
            .value("preserve-fds", self.preserve_fds.map(|n| n.to_string()));
    }
}

/// Check that fds 3 … 3+count-1, which the runtime is to pass on to the
/// container, are open and were inherited by this process (an fd without
/// close-on-exec: every fd ocictl opens itself has it). Otherwise the
/// container would get whatever ocictl or its monitor holds at that number,
/// or the runtime would fail late. Checked before anything runs.
pub fn check_preserved_fds(count: Option<u32>) -> super::Result<()> {
    let Some(count) = count.filter(|&n| n > 0) else {
        return Ok(());
    };
    let last = 3u64 + u64::from(count) - 1;
    for fd in 3..=last {
        let flags = i32::try_from(fd)
            .ok()
            // SAFETY: F_GETFD only reads the descriptor's flags.
            .map(|fd| unsafe { libc::fcntl(fd, libc::F_GETFD) })
            .unwrap_or(-1);
        let why = if flags < 0 {
            "is not open"
        } else if flags & libc::FD_CLOEXEC != 0 {
            "is not one ocictl inherited (it is ocictl's own)"
        } else {
            continue;
        };
        return Err(super::Error::Invalid(format!(
            "fd {fd} {why}: the container was to inherit fds 3 to {last} ({count} in all); \
             open them for ocictl (e.g. `3<file`) or pass fewer"
        )));
    }
    Ok(())
}

/// `runc run`'s options: create's, plus what only `run` has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOpts {
    pub create: CreateOpts,
    pub detach: bool,
    /// Keep the container's state after it exits (no automatic delete).
    pub keep: bool,
    pub no_subreaper: bool,
}

impl RunOpts {
    pub(crate) fn push_args(&self, args: &mut Args) {
        self.create.push_args(args);
        args.flag("detach", self.detach)
            .flag("keep", self.keep)
            .flag("no-subreaper", self.no_subreaper);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOpts {
    /// Kill a running container before deleting it.
    pub force: bool,
}

impl DeleteOpts {
    pub(crate) fn push_args(&self, args: &mut Args) {
        args.flag("force", self.force);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillOpts {
    pub signal: Signal,
    /// Send the signal to every process of the container, not only init.
    pub all: bool,
}

impl Default for KillOpts {
    fn default() -> Self {
        KillOpts {
            signal: Signal::TERM,
            all: false,
        }
    }
}

impl KillOpts {
    pub(crate) fn push_args(&self, args: &mut Args) {
        args.flag("all", self.all);
    }
}
