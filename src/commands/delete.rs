//! `ocictl delete`.

use anyhow::Context as _;
use clap::Args;
use ocictl::runc::{ContainerId, DeleteOpts};

use super::{report_action, Context, Outcome};

/// Delete a stopped container and what the runtime kept of it.
#[derive(Debug, Args)]
pub struct Delete {
    /// Kill the container first if it is still running (with SIGKILL).
    #[arg(short, long)]
    pub force: bool,

    /// The container's ID.
    #[arg(add = crate::completion::any_container())]
    pub id: ContainerId,
}

impl Delete {
    pub fn run(self, ctx: &Context) -> Outcome {
        let opts = DeleteOpts { force: self.force };
        ctx.runc
            .delete(&self.id, &opts)
            .with_context(|| format!("cannot delete container {}", self.id))?;
        report_action(ctx, "delete", &self.id, serde_json::json!({}))
    }
}
