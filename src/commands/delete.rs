//! `ocictl delete`.

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::{ContainerId, DeleteOpts};
use ocictl::shim::state::StateDir;

use super::{each_container, report_action_of, Context, Outcome};
use crate::contract::Acted;

/// How long `delete` waits for the monitor of a container it deleted.
const MONITOR_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Delete stopped containers.
///
/// Removes what the runtime kept of it, and what ocictl's monitor kept
/// (exit status, terminal log in its state directory). With several IDs,
/// each is deleted (one result per container) and the exit status is the
/// first failure's.
#[derive(Debug, Args)]
#[command(override_usage = "ocictl delete [-f] <ID>...")]
pub struct Delete {
    /// Kill the container first if it is still running (with SIGKILL).
    #[arg(short, long)]
    pub force: bool,

    /// The containers' IDs.
    #[arg(value_name = "ID", required = true, num_args = 1..)]
    #[arg(add = crate::completion::any_container())]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub ids: Vec<ContainerId>,
}

impl Delete {
    pub fn run(self, ctx: &Context) -> Outcome {
        let opts = DeleteOpts { force: self.force };
        let several = self.ids.len() > 1;
        let items = self.ids.into_iter().map(|id| (id, ())).collect();
        each_container(ctx, "delete", items, |id, ()| {
            delete(ctx, id, &opts)?;
            report_action_of(ctx, several, id, &Acted::new(id, "delete"))
        })
    }
}

/// Delete one container and its monitor's state.
fn delete(ctx: &Context, id: &ContainerId, opts: &DeleteOpts) -> anyhow::Result<()> {
    let state = StateDir::of(&ctx.runc, id);
    if let Err(e) = ctx.runc.delete(id, opts) {
        // The container is gone but a stale monitor state is left.
        if e.kind() == Some(ocictl::runtime::ErrorKind::NotFound) && !state.monitor_alive() {
            let _ = state.remove(MONITOR_GRACE);
        }
        return Err(e).with_context(|| format!("cannot delete container {id}"));
    }
    // The monitor ends right after the container; give it that moment.
    state.remove(MONITOR_GRACE).with_context(|| {
        format!(
            "deleted container {id}, but cannot remove its monitor state {}",
            state.path().display()
        )
    })
}
