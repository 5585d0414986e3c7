//! `ocictl bundle`: make a runnable busybox bundle, no image download.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ocictl::bundle::{make_busybox_bundle, DemoBundle};

use super::{Context, Outcome};
use crate::output::{self, Format};

/// Make a small runnable bundle from a static busybox (ocictl's own).
///
/// DIR gets rootfs/ (busybox and its applets: sh, ls, cat, ps, …) and a
/// config.json. Then: `ocictl run -b DIR demo`.
#[derive(Debug, Args)]
pub struct Bundle {
    /// The directory to create the bundle in.
    #[arg(value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: PathBuf,

    /// The static busybox binary to copy into the rootfs.
    #[arg(long, default_value = "/bin/busybox", value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub busybox: PathBuf,

    /// Give the container's process a terminal (`ocictl run -t` does this too).
    #[arg(short, long)]
    pub tty: bool,

    /// The container's hostname.
    #[arg(long, default_value = "ocictl-demo")]
    pub hostname: String,

    /// Overwrite an existing config.json.
    #[arg(long)]
    pub force: bool,

    /// The command the container runs (default: sh).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl Bundle {
    pub fn run(self, ctx: &Context) -> Outcome {
        let demo = DemoBundle {
            busybox: self.busybox,
            args: if self.command.is_empty() {
                vec!["sh".into()]
            } else {
                self.command
            },
            terminal: self.tty,
            hostname: self.hostname,
            overwrite: self.force,
        };
        make_busybox_bundle(&self.dir, &demo)
            .with_context(|| format!("cannot make a bundle in {}", self.dir.display()))?;
        if ctx.format == Format::Json {
            output::print_json(&crate::contract::BundleMade {
                bundle: self.dir.clone(),
                args: demo.args.clone(),
            })?;
        }
        Ok(0)
    }
}
