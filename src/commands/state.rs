//! `ocictl state`.

use anyhow::Context as _;
use clap::Args;
use ocictl::runc::ContainerId;

use super::{Context, Outcome};
use crate::output::{self, Format};

/// Show a container's state, as runc prints it (indented JSON).
///
/// With --format json: the same object on one line.
#[derive(Debug, Args)]
pub struct State {
    /// The container's ID.
    #[arg(add = crate::completion::any_container())]
    pub id: ContainerId,
}

impl State {
    pub fn run(self, ctx: &Context) -> Outcome {
        let container = ctx
            .runc
            .state(&self.id)
            .with_context(|| format!("cannot read the state of container {}", self.id))?;
        match ctx.format {
            Format::Json => output::print_json(&container)?,
            Format::Table => output::print_json_pretty(&container)?,
        }
        Ok(0)
    }
}
