//! `ocictl start`.

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::ContainerId;

use super::{report_action, Context, Outcome};
use crate::contract::Acted;

/// Start the process of a created container.
#[derive(Debug, Args)]
pub struct Start {
    /// The ID of the created container.
    #[arg(add = crate::completion::containers_in(crate::completion::CREATED))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

impl Start {
    pub fn run(self, ctx: &Context) -> Outcome {
        ctx.runc
            .start(&self.id)
            .with_context(|| format!("cannot start container {}", self.id))?;
        report_action(ctx, &Acted::new(&self.id, "start"))
    }
}
