//! `ocictl resume`.

use clap::Args;
use ocictl::runtime::ContainerId;

use super::{Context, Outcome};

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
        super::act_on(ctx, &self.id, "resume", ocictl::runtime::Runtime::resume)
    }
}
