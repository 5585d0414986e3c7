//! `ocictl run`: create and start a container; in the foreground, wait for
//! it and exit with its status.

use anyhow::Context as _;
use clap::Args;
use ocictl::runc::{ContainerId, RunOpts};

use super::create::BundleArgs;
use super::{report_action, Context, Outcome};

/// Create and start a container.
///
/// In the foreground ocictl waits, passes on the signals it gets (INT, TERM,
/// HUP, QUIT, USR1, USR2, WINCH), deletes the container when it exits
/// (unless --keep), and exits with its status: its exit code, or 128+N when
/// signal N killed it.
#[derive(Debug, Args)]
pub struct Run {
    #[command(flatten)]
    pub bundle: BundleArgs,

    /// Return once the container runs, instead of waiting for it.
    #[arg(short, long)]
    pub detach: bool,

    /// Keep the container's state after it exits (delete it yourself).
    #[arg(long)]
    pub keep: bool,

    /// Do not make the runtime a subreaper for the container's processes.
    #[arg(long)]
    pub no_subreaper: bool,

    /// The new container's ID (letters, digits, `_ + - .`).
    pub id: ContainerId,
}

impl Run {
    pub fn run(self, ctx: &Context) -> Outcome {
        let fail = || format!("cannot run container {}", self.id);
        let bundle = self.bundle.load().with_context(fail)?;
        self.bundle.check_terminal(&bundle).with_context(fail)?;
        let opts = RunOpts {
            create: self.bundle.create_opts(),
            detach: self.detach,
            keep: self.keep,
            no_subreaper: self.no_subreaper,
        };
        let status = ctx.runc.run(&self.id, &opts).with_context(fail)?;
        if self.detach {
            if !status.success() {
                anyhow::bail!(
                    "cannot run container {}: the runtime ended with {status}",
                    self.id
                );
            }
            return report_action(ctx, "run", &self.id, serde_json::json!({"detached": true}));
        }
        tracing::debug!(%status, "container finished");
        if ctx.format == crate::output::Format::Json {
            report_action(ctx, "run", &self.id, super::termination_json(status))?;
        }
        Ok(status.shell_code())
    }
}
