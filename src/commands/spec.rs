//! `ocictl spec`: the runtime writes its default config.json.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::{Context, Outcome};
use crate::output::{self, Format};

/// Write the runtime's default config.json into a bundle directory.
///
/// For a bundle with a root filesystem too, see `ocictl bundle`.
#[derive(Debug, Args)]
pub struct Spec {
    /// The bundle directory to write config.json into.
    #[arg(short, long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub bundle: Option<PathBuf>,
    // `spec --rootless` (write a spec for a rootless container) is read from
    // the global `--rootless`, which takes the flag's place: see cli.rs.
}

impl Spec {
    pub fn run(self, ctx: &Context) -> Outcome {
        let dir = self.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
        // `--rootless` here is spec's own flag, not the runtime's global one.
        let rootless = ctx.runc.rootless == Some(true);
        let runc = ocictl::runtime::Runtime {
            rootless: None,
            ..ctx.runc.clone()
        };
        runc.spec(self.bundle.as_deref(), rootless)
            .with_context(|| format!("cannot write a spec in {}", dir.display()))?;
        if ctx.format == Format::Json {
            output::print_json(&crate::contract::SpecWritten {
                config: dir.join("config.json"),
            })?;
        }
        Ok(0)
    }
}
