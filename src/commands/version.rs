//! `ocictl version`.

use anyhow::Context as _;
use clap::Args;

use super::{Context, Outcome};
use crate::output::{self, Format};

/// Show ocictl's version and the runtime's (name, version, commit, spec).
#[derive(Debug, Args)]
pub struct Version {}

impl Version {
    pub fn run(self, ctx: &Context) -> Outcome {
        let ours = env!("CARGO_PKG_VERSION");
        let runtime = ctx
            .runc
            .version()
            .context("cannot read the runtime's version")?;
        match ctx.format {
            Format::Json => output::print_json(&crate::contract::Versions {
                ocictl: ours.into(),
                runtime,
            })?,
            Format::Table => {
                let mut text = format!(
                    "ocictl: {ours}\nruntime: {} {}\n",
                    runtime.runtime, runtime.version
                );
                if let Some(commit) = &runtime.commit {
                    text.push_str(&format!("commit: {commit}\n"));
                }
                if let Some(spec) = &runtime.spec {
                    text.push_str(&format!("spec: {spec}\n"));
                }
                for (key, value) in &runtime.extra {
                    text.push_str(&format!("{key}: {value}\n"));
                }
                output::print_text(&text)?;
            }
        }
        Ok(0)
    }
}
