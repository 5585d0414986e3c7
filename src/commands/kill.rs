//! `ocictl kill`.

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::{ContainerId, KillOpts};
use ocictl::signal::Signal;

use super::{report_action, Context, Outcome};

/// Send a signal to a container's init process (or to all its processes).
#[derive(Debug, Args)]
pub struct Kill {
    /// Send the signal to every process in the container.
    #[arg(short, long)]
    pub all: bool,

    /// The container's ID.
    #[arg(add = crate::completion::containers_in(crate::completion::LIVE))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,

    /// The signal to send.
    #[arg(default_value = "TERM", value_parser = clap::builder::ValueParser::new(parse_signal), add = crate::completion::signals())]
    pub signal: Signal,
}

fn parse_signal(s: &str) -> Result<Signal, String> {
    s.parse()
        .map_err(|e: ocictl::signal::ParseSignalError| e.to_string())
}

impl Kill {
    pub fn run(self, ctx: &Context) -> Outcome {
        let opts = KillOpts {
            signal: self.signal,
            all: self.all,
        };
        ctx.runc
            .kill(&self.id, &opts)
            .with_context(|| format!("cannot send {} to container {}", self.signal, self.id))?;
        report_action(
            ctx,
            &crate::contract::Killed {
                id: self.id.to_string(),
                action: "kill".into(),
                signal: crate::contract::signal_name(self.signal),
            },
        )
    }
}
