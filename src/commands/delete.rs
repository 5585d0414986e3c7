//! `ocictl delete`.

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::{ContainerId, DeleteOpts};
use ocictl::shim::state::StateDir;

use super::{report_action, Context, Outcome};
use crate::contract::Acted;

/// How long `delete` waits for the monitor of a container it deleted.
const MONITOR_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Delete a stopped container.
///
/// Removes what the runtime kept of it, and what ocictl's monitor kept
/// (exit status, terminal log in its state directory).
#[derive(Debug, Args)]
pub struct Delete {
    /// Kill the container first if it is still running (with SIGKILL).
    #[arg(short, long)]
    pub force: bool,

    /// The container's ID.
    #[arg(add = crate::completion::any_container())]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

impl Delete {
    pub fn run(self, ctx: &Context) -> Outcome {
        let opts = DeleteOpts { force: self.force };
        let state = StateDir::of(&ctx.runc, &self.id);
        if let Err(e) = ctx.runc.delete(&self.id, &opts) {
            // The container is gone but a stale monitor state is left.
            if e.kind() == Some(ocictl::runtime::ErrorKind::NotFound) && !state.monitor_alive() {
                let _ = state.remove(MONITOR_GRACE);
            }
            return Err(e).with_context(|| format!("cannot delete container {}", self.id));
        }
        // The monitor ends right after the container; give it that moment.
        state.remove(MONITOR_GRACE).with_context(|| {
            format!(
                "deleted container {}, but cannot remove its monitor state {}",
                self.id,
                state.path().display()
            )
        })?;
        report_action(ctx, &Acted::new(&self.id, "delete"))
    }
}
