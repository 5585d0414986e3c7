//! `ocictl create`: create a container from a bundle, ready for `start`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ocictl::bundle::Bundle;
use ocictl::runc::{ContainerId, CreateOpts};

use super::{report_action, Context, Outcome};

/// Create a container from a bundle; `ocictl start` runs its process.
///
/// The container's stdio is ocictl's own, as with runc. A bundle whose
/// process wants a terminal needs --console-socket, with a receiver such as
/// `ocictl console SOCKET` listening on it.
#[derive(Debug, Args)]
pub struct Create {
    #[command(flatten)]
    pub bundle: BundleArgs,

    /// The new container's ID (letters, digits, `_ + - .`).
    pub id: ContainerId,
}

/// The options `create` and `run` share.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The bundle directory (holds config.json and the rootfs).
    #[arg(short, long, default_value = ".", value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub bundle: PathBuf,

    /// A unix socket that receives the pty master of a terminal container
    /// (listen on it with `ocictl console` or runc's recvtty).
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub console_socket: Option<PathBuf>,

    /// Write the container process's pid to this file.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub pid_file: Option<PathBuf>,

    /// Do not use pivot_root to jail the process inside its rootfs.
    #[arg(long)]
    pub no_pivot: bool,

    /// Do not create a new session keyring for the container.
    #[arg(long)]
    pub no_new_keyring: bool,

    /// Pass N extra file descriptors (3 … 3+N-1) on to the container.
    #[arg(long, value_name = "N")]
    pub preserve_fds: Option<u32>,
}

impl BundleArgs {
    /// Check the bundle before the runtime sees it, for a clearer error.
    pub fn load(&self) -> anyhow::Result<Bundle> {
        Ok(Bundle::load(&self.bundle)?)
    }

    pub fn create_opts(&self) -> CreateOpts {
        CreateOpts {
            bundle: Some(self.bundle.clone()),
            console_socket: self.console_socket.clone(),
            pid_file: self.pid_file.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
        }
    }

    /// A detached terminal container needs someone to receive its pty
    /// master: `terminal` says whether this container's process has one.
    pub fn check_terminal(&self, terminal: bool) -> anyhow::Result<()> {
        if terminal && self.console_socket.is_none() {
            return Err(crate::report::UsageError(format!(
                "the container's process wants a terminal (process.terminal in {}/config.json, \
                 or -t), and a detached container needs someone to hold it: start \
                 `ocictl console SOCKET` (or runc's recvtty) and pass --console-socket SOCKET, \
                 or run it in the foreground with `ocictl run -t`",
                self.bundle.display()
            ))
            .into());
        }
        Ok(())
    }
}

impl Create {
    pub fn run(self, ctx: &Context) -> Outcome {
        let fail = || format!("cannot create container {}", self.id);
        let bundle = self.bundle.load().with_context(fail)?;
        self.bundle
            .check_terminal(bundle.wants_terminal())
            .with_context(fail)?;
        ctx.runc
            .create(&self.id, &self.bundle.create_opts())
            .with_context(fail)?;
        report_action(ctx, "create", &self.id, serde_json::json!({}))
    }
}
