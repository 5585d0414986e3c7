//! `ocictl stop`: the arguments of the stop use-case ([`ocictl::stop`]) and
//! one line (or JSON object) per container.

use std::time::Duration;

use clap::Args;
use ocictl::runtime::ContainerId;
use ocictl::shim::state::ExitInfo;
use ocictl::signal::Signal;
use ocictl::stop::{StopRequest, Stopped};

use super::{each_container, Context, Outcome};
use crate::contract::StopResult;
use crate::output::{self, Format};

/// Stop containers: a signal, a grace period, then SIGKILL.
///
/// Every container gets the signal (TERM unless -s) at once; those still
/// running after --time (default 10s) get SIGKILL, and stop waits up to
/// 10s more for them. It exits 0 once every container has stopped. A paused
/// container is resumed after the signal so it can act on it; a created
/// one, whose process never started, gets SIGKILL at once; one already
/// stopped is left as it is.
///
/// Waiting goes through the container's monitor when it has one, else by
/// asking the runtime for its state every 100ms. The exit status is shown
/// only when the monitor recorded it for this container; otherwise it is
/// unknown (never guessed).
///
/// One line per container; with --format json one object per container
/// (JSON lines): `{"id", "action": "stop", "already_stopped", "signal",
/// "escalated", "exit": {"code", "signal", "at"}, "exit_code"}`, where
/// `escalated` says SIGKILL followed the grace period.
#[derive(Debug, Args)]
#[command(override_usage = "ocictl stop [-t DURATION] [-s SIGNAL] <ID>...")]
pub struct Stop {
    /// How long to wait after the signal before SIGKILL (10, 10s, 1m, 0).
    #[arg(short, long, value_name = "DURATION", default_value = "10s")]
    #[arg(value_parser = crate::cli::parse_duration_arg)]
    pub time: Duration,

    /// The signal that asks the containers to stop.
    #[arg(short, long, value_name = "SIGNAL", default_value = "TERM")]
    #[arg(value_parser = clap::builder::ValueParser::new(super::kill::parse_signal), add = crate::completion::signals())]
    pub signal: Signal,

    /// The containers' IDs.
    #[arg(value_name = "ID", required = true, num_args = 1..)]
    #[arg(add = crate::completion::containers_in(crate::completion::LIVE))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub ids: Vec<ContainerId>,
}

impl Stop {
    pub fn run(self, ctx: &Context) -> Outcome {
        let req = StopRequest {
            signal: self.signal,
            grace: self.time,
        };
        let results = ocictl::stop::stop(&ctx.runc, &self.ids, &req);
        let items = self.ids.into_iter().zip(results).collect();
        each_container(ctx, "stop", items, |_, result| {
            let stopped = result.map_err(|e| *e)?;
            match ctx.format {
                Format::Json => output::print_json(&StopResult::of(&stopped))?,
                Format::Table => output::print_text(&line(&stopped, self.time))?,
            }
            Ok(0)
        })
    }
}

/// `web: stopped after SIGTERM; killed by SIGTERM`, for people.
fn line(stopped: &Stopped, grace: Duration) -> String {
    let how = match stopped.signal {
        None => "already stopped".to_string(),
        Some(_) if stopped.escalated => format!(
            "stopped after SIGKILL (still running {} after {})",
            ocictl::duration::format_go_duration(grace),
            stopped.signal.map(Signal::name).unwrap_or_default()
        ),
        Some(signal) => format!("stopped after {}", signal.name()),
    };
    let exit = match &stopped.exit {
        ExitInfo::Known(r) => r.termination().to_string(),
        ExitInfo::Unknown(reason) => format!("exit status unknown: {reason}"),
        ExitInfo::NoMonitor | ExitInfo::Pending => {
            format!("exit status unknown: {}", crate::contract::NO_MONITOR)
        }
    };
    format!("{}: {how}; {exit}\n", stopped.id)
}
