//! `ocictl bundle`: make a runnable bundle — from a static busybox (no
//! image download), or from an OCI image on disk (`--image`).

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use ocictl::bundle::{make_busybox_bundle, DemoBundle};
use ocictl::image::{self, ImageRef, Progress};

use super::{Context, Outcome};
use crate::output::{self, Format};
use crate::progress::LayerBars;
use crate::report::CodedError;

/// Make a runnable bundle: a small busybox one, or one from an OCI image.
///
/// Without --image, DIR gets rootfs/ (busybox and its applets: sh, ls, cat,
/// ps, …) and a config.json. With --image, the image's layers are unpacked
/// into DIR/rootfs (every blob verified, nothing written outside it) and
/// config.json comes from the image config (Entrypoint, Cmd, Env,
/// WorkingDir, User, Labels); DIR must be new or an empty directory of
/// yours. A command after `--` replaces the image's Cmd.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct Bundle {
    /// The directory to create the bundle in.
    #[arg(value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: PathBuf,

    /// Unpack this image instead of using busybox: oci:DIR[:TAG] (an OCI
    /// image layout) or docker-archive:FILE[:NAME:TAG] (`docker save`,
    /// `podman save`).
    #[arg(long, value_name = "REF", conflicts_with_all = ["busybox", "force"])]
    pub image: Option<String>,

    /// The static busybox binary to copy into the rootfs.
    #[arg(long, default_value = "/bin/busybox", value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub busybox: PathBuf,

    /// Give the container's process a terminal (`ocictl run -t` does this too).
    #[arg(short, long)]
    pub tty: bool,

    /// The container's hostname.
    #[arg(long, default_value = "ocictl-demo")]
    pub hostname: String,

    /// Overwrite an existing config.json (busybox bundles only).
    #[arg(long)]
    pub force: bool,

    /// The command the container runs (default: sh; with --image: it
    /// replaces the image's Cmd).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl Bundle {
    pub fn run(self, ctx: &Context) -> Outcome {
        if let Some(reference) = &self.image {
            return self.run_image(ctx, reference);
        }
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
            output::print_json(&crate::contract::Bundled::Busybox(
                crate::contract::BundleMade {
                    bundle: self.dir.clone(),
                    args: demo.args.clone(),
                },
            ))?;
        }
        Ok(0)
    }

    fn run_image(&self, ctx: &Context, reference: &str) -> Outcome {
        let req = image::Request {
            image: ImageRef::parse(reference)?,
            bundle: self.dir.clone(),
            choices: image::spec::Choices {
                command: self.command.clone(),
                terminal: self.tty,
                hostname: self.hostname.clone(),
            },
        };
        let progress: Rc<dyn Progress> = match LayerBars::on_terminal() {
            Some(bars) => Rc::new(bars),
            None => Rc::new(image::Silent),
        };
        // A signal stops the unpack between entries, so the private build
        // directory is removed rather than left behind.
        // Which signal it was decides the exit code (128+N, as a shell
        // reports a command a signal ended).
        let cancel = Arc::new(AtomicBool::new(false));
        let caught = Arc::new(AtomicUsize::new(0));
        let ids: Vec<_> = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP]
            .into_iter()
            .flat_map(|sig| {
                [
                    signal_hook::flag::register_usize(sig, caught.clone(), sig as usize),
                    signal_hook::flag::register(sig, cancel.clone()),
                ]
            })
            .filter_map(Result::ok)
            .collect();
        let result = image::unpack(&req, progress, &cancel);
        for id in ids {
            signal_hook::low_level::unregister(id);
        }
        let context = format!(
            "cannot make a bundle in {} from {reference}",
            self.dir.display()
        );
        let report = match result {
            Err(e @ image::ImageError::Interrupted(_)) => {
                let code = 128 + caught.load(Ordering::Relaxed) as i32;
                return Err(anyhow::Error::new(e).context(CodedError {
                    code,
                    message: context,
                }));
            }
            r => r.context(context)?,
        };
        if ctx.format == Format::Json {
            output::print_json(&crate::contract::Bundled::Image(report))?;
        }
        Ok(0)
    }
}
