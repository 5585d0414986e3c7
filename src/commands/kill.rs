//! `ocictl kill`: runc's `kill ID [SIGNAL]`, and several containers at once
//! (`kill a b c TERM`, or `kill -s TERM a b c`).

use std::ffi::OsString;

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::{ContainerId, KillOpts};
use ocictl::signal::Signal;

use super::{each_container, report_action_of, Context, Outcome};
use crate::report::UsageError;

/// Send a signal to a container's init process (or to all its processes).
///
/// `kill ID [SIGNAL]` as runc (SIGNAL defaults to TERM). For several
/// containers give the signal last (`kill a b c TERM`) or with -s (then
/// every positional is an ID): each container is signalled, one result per
/// container, and the exit status is the first failure's. A last word
/// that is not a signal is an error, never taken as a container: a typo in
/// a signal sends nothing to anything.
#[derive(Debug, Args)]
#[command(
    override_usage = "ocictl kill <ID> [SIGNAL]\n       ocictl kill <ID>... <SIGNAL>\n       ocictl kill -s <SIGNAL> <ID>..."
)]
pub struct Kill {
    /// Send the signal to every process in the container.
    #[arg(short, long)]
    pub all: bool,

    /// The signal to send to every container named; every positional is then an ID.
    #[arg(short = 's', long = "signal", value_name = "SIGNAL")]
    #[arg(value_parser = clap::builder::ValueParser::new(parse_signal), add = crate::completion::signals())]
    pub signal_flag: Option<Signal>,

    /// The container's ID, then the signal to send (default TERM).
    #[arg(value_name = "ID", required = true, num_args = 1..)]
    #[arg(value_parser = clap::value_parser!(OsString), add = crate::completion::containers_then_signals())]
    pub targets: Vec<OsString>,
}

/// A signal as operators type it (`TERM`, `SIGKILL`, `9`); also `stop -s`.
pub fn parse_signal(s: &str) -> Result<Signal, String> {
    s.parse()
        .map_err(|e: ocictl::signal::ParseSignalError| e.to_string())
}

impl Kill {
    /// The first word, for hints that name the container.
    pub fn first_target(&self) -> Option<String> {
        self.targets
            .first()
            .map(|t| t.to_string_lossy().into_owned())
    }

    /// The containers and the signal the positionals (and -s) name.
    fn targets(&self) -> Result<(Vec<ContainerId>, Signal), UsageError> {
        let (ids, signal) = match (self.signal_flag, self.targets.as_slice()) {
            (Some(signal), words) => (words, signal),
            (None, [id]) => (std::slice::from_ref(id), Signal::TERM),
            (None, [ids @ .., last]) => {
                let signal = last
                    .to_str()
                    .ok_or_else(|| format!("unknown signal {last:?}"))
                    .and_then(parse_signal)
                    .map_err(|e| {
                        UsageError(format!(
                            "{e}; to kill several containers give the signal: \
                             `ocictl kill a b c TERM`, or -s TERM"
                        ))
                    })?;
                (ids, signal)
            }
            (None, []) => unreachable!("clap requires an ID"),
        };
        let ids = ids
            .iter()
            .map(|w| {
                ContainerId::from_os_str(w)
                    .map_err(|e| UsageError(format!("invalid value for '<ID>': {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok((ids, signal))
    }

    pub fn run(self, ctx: &Context) -> Outcome {
        let (ids, signal) = self.targets()?;
        let several = ids.len() > 1;
        let opts = KillOpts {
            signal,
            all: self.all,
        };
        let items = ids.into_iter().map(|id| (id, ())).collect();
        each_container(ctx, "kill", items, |id, ()| {
            ctx.runc
                .kill(id, &opts)
                .with_context(|| format!("cannot send {signal} to container {id}"))?;
            report_action_of(
                ctx,
                several,
                id,
                &crate::contract::Killed {
                    id: id.to_string(),
                    action: "kill".into(),
                    signal: crate::contract::signal_name(signal),
                },
            )
        })
    }
}
