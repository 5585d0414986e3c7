//! `ocictl version`.

use anyhow::Context as _;
use clap::Args;

use super::{Context, Outcome};
use crate::output::{self, Format};

/// Show ocictl's version and the runtime's (name, version, commit, spec).
#[derive(Debug, Args)]
pub struct Version {
    /// As `runc -v` (what `ocictl -v` and `--version` become): the
    /// runtime's own lines as it prints them, then one line for ocictl.
    #[arg(long, hide = true)]
    pub runtime_lines: bool,
}

impl Version {
    pub fn run(self, ctx: &Context) -> Outcome {
        let ours = env!("CARGO_PKG_VERSION");
        if self.runtime_lines {
            let mut text = ctx
                .runc
                .version_text()
                .context("cannot read the runtime's version")?;
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("ocictl version {ours}\n"));
            output::print_text(&text)?;
            return Ok(0);
        }
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
