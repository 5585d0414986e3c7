//! `ocictl generate-assets DIR` (hidden): regenerate completions/ and man/.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::{Context, Outcome};

/// Regenerate completions/ and man/ under DIR (for maintainers).
#[derive(Debug, Args)]
pub struct GenerateAssets {
    /// The source tree's top directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

impl GenerateAssets {
    pub fn run(self, _ctx: &Context) -> Outcome {
        crate::assets::generate(&self.dir).with_context(|| {
            format!(
                "cannot write completions/ and man/ under {}",
                self.dir.display()
            )
        })?;
        Ok(0)
    }
}
