//! `ocictl pause`.

use clap::Args;
use ocictl::runtime::ContainerId;

use super::{Context, Outcome};

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
        super::act_on(ctx, &self.id, "pause", ocictl::runtime::Runtime::pause)
    }
}
