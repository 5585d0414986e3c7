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
