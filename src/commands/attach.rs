//! `ocictl attach`: connect your terminal to a detached terminal container.

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::ContainerId;
use ocictl::shim::attach::{self, AttachEnd, DetachKeys};

use super::{Context, Outcome};

/// Attach your terminal to a detached terminal container.
///
/// For containers started with `ocictl run -d -t` (or a bundle with
/// "terminal": true) without --console-socket: your terminal goes raw, its
/// size follows yours, and what you type reaches the container's pty.
///
/// Type the detach keys (default Ctrl-P Ctrl-Q) to leave, or end the input
/// (as Docker does: `</dev/null` or a finished pipe returns at once): the
/// container keeps running and `ocictl attach` brings you back. Attaching
/// makes a full-screen program (vi, top) draw its screen again. When the container exits,
/// attach exits with its status (128+N for signal N).
///
/// One client at a time: while someone is attached, a second `attach` is
/// refused with a message (exit 1). `ocictl logs ID` shows earlier output.
#[derive(Debug, Args)]
pub struct Attach {
    /// The keys that detach, comma-separated: one character or ctrl-X each
    /// (e.g. ctrl-a,d).
    #[arg(long, value_name = "KEYS", default_value = "ctrl-p,ctrl-q")]
    pub detach_keys: DetachKeys,

    /// The container's ID.
    #[arg(add = crate::completion::attachable())]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

impl Attach {
    pub fn run(self, ctx: &Context) -> Outcome {
        let id = &self.id;
        let dir = super::logs::monitored(ctx, id)?;
        let meta = dir
            .meta()
            .with_context(|| format!("container {id} is still starting"))?;
        if !meta.terminal {
            anyhow::bail!(
                "cannot attach to container {id}: ocictl holds no terminal for it (attach \
                 works for terminal containers started with `run -d -t`, or whose bundle has \
                 \"terminal\": true, without --console-socket)"
            );
        }
        let Some(path) = dir.attach_path() else {
            if let Some(record) = dir.exit_record() {
                anyhow::bail!(
                    "cannot attach to container {id}: it has exited ({})",
                    record.termination()
                );
            }
            anyhow::bail!("cannot attach to container {id}: its monitor is gone");
        };
        let peer = dir
            .attach_peer()
            .with_context(|| format!("cannot attach to container {id}: its monitor is gone"))?;
        let signals = ocictl::tty::signals().context("cannot install the signal handlers")?;
        let end = attach::attach(&path, &peer, &self.detach_keys, signals)
            .with_context(|| format!("cannot attach to container {id}"))?;
        match end {
            Err(refused) => anyhow::bail!("cannot attach to container {id}: {refused}"),
            Ok(AttachEnd::Detached) => {
                eprintln!(
                    "\r\nocictl: detached from container {id}; it keeps running (`ocictl attach {id}` to come back)"
                );
                Ok(0)
            }
            Ok(AttachEnd::Ended) => {
                let info = dir
                    .wait_for(std::time::Duration::from_secs(5))
                    .unwrap_or(ocictl::shim::state::ExitInfo::Pending);
                match info {
                    ocictl::shim::state::ExitInfo::Known(r) => Ok(r.termination().shell_code()),
                    _ => anyhow::bail!(
                        "the connection to container {id}'s monitor closed; its exit status is unknown"
                    ),
                }
            }
        }
    }
}
