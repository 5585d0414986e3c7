//! `ocictl wait`: block until a monitored container exits; exit with its status.

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::ContainerId;
use ocictl::shim::state::ExitInfo;

use super::{Context, Outcome};
use crate::output::{self, Format};

/// Wait for a container to exit, and exit with its status.
///
/// The status is the container's exit code, or 128+N when signal N killed it.
///
/// Works before and after the exit, for containers started by `ocictl run
/// -d` or `ocictl create` with their monitor (the default). It blocks in the
/// kernel (a lock the monitor holds), not in a polling loop. When the
/// monitor was killed before the container ended, the status is unknown and
/// `wait` fails (exit 1) rather than invent one.
///
/// With --format json it prints `{"id", "exit": {"code", "signal", "at"},
/// "exit_code"}` (the signal by name).
#[derive(Debug, Args)]
pub struct Wait {
    /// The container's ID.
    #[arg(add = crate::completion::any_container())]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

impl Wait {
    pub fn run(self, ctx: &Context) -> Outcome {
        let dir = super::logs::monitored(ctx, &self.id)?;
        let info = dir
            .wait()
            .with_context(|| format!("cannot wait for container {}", self.id))?;
        report_exit(ctx, &self.id, info)
    }
}

fn report_exit(ctx: &Context, id: &ContainerId, info: ExitInfo) -> Outcome {
    match info {
        ExitInfo::Known(ref record) => {
            let code = record.termination().shell_code();
            if ctx.format == Format::Json {
                if let Some(exit) = crate::contract::Exit::of(&info) {
                    output::print_json(&crate::contract::Waited {
                        id: id.to_string(),
                        exit,
                        exit_code: code,
                    })?;
                }
            }
            Ok(code)
        }
        ExitInfo::Unknown(reason) => {
            anyhow::bail!("the exit status of container {id} is unknown: {reason}")
        }
        ExitInfo::Pending | ExitInfo::NoMonitor => {
            anyhow::bail!("container {id} has no monitor any more")
        }
    }
}
