//! `ocictl pause`.

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::ContainerId;

use super::{report_action, Context, Outcome};
use crate::contract::Acted;

/// Pause every process of a running container (cgroup freezer).
#[derive(Debug, Args)]
pub struct Pause {
    /// The ID of the running container.
    #[arg(add = crate::completion::containers_in(crate::completion::RUNNING))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

impl Pause {
    pub fn run(self, ctx: &Context) -> Outcome {
        ctx.runc
            .pause(&self.id)
            .with_context(|| format!("cannot pause container {}", self.id))?;
        report_action(ctx, &Acted::new(&self.id, "pause"))
    }
}
