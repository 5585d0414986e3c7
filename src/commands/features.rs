//! `ocictl features`.

use anyhow::Context as _;
use clap::Args;

use super::{Context, Outcome};
use crate::output::{self, Format};

/// Show what the runtime supports (its `features` document).
#[derive(Debug, Args)]
pub struct Features {}

impl Features {
    pub fn run(self, ctx: &Context) -> Outcome {
        let features = ctx
            .runc
            .features()
            .context("cannot read the runtime's features")?;
        let features: crate::contract::Features = serde_json::from_value(features)
            .context("the runtime's features document is not a JSON object")?;
        match ctx.format {
            Format::Json => output::print_json(&features)?,
            Format::Table => output::print_json_pretty(&features)?,
        }
        Ok(0)
    }
}
