//! `ocictl start`.

use clap::Args;
use ocictl::runtime::ContainerId;

use super::{Context, Outcome};

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
        super::act_on(ctx, &self.id, "start", ocictl::runtime::Runtime::start)
    }
}
