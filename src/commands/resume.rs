//! `ocictl resume`.

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::ContainerId;

use super::{report_action, Context, Outcome};
use crate::contract::Acted;

/// Resume the processes of a paused container.
#[derive(Debug, Args)]
pub struct Resume {
    /// The ID of the paused container.
    #[arg(add = crate::completion::containers_in(crate::completion::PAUSED))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

impl Resume {
    pub fn run(self, ctx: &Context) -> Outcome {
        ctx.runc
            .resume(&self.id)
            .with_context(|| format!("cannot resume container {}", self.id))?;
        report_action(ctx, &Acted::new(&self.id, "resume"))
    }
}
