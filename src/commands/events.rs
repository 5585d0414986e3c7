//! `ocictl events`: follow a container's events until it stops.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::{cpu_percent, ContainerId, Event, Stats};

use super::{Context, Outcome};
use crate::output::{self, Format};

/// Follow a container's events: stats every --interval, and OOM kills.
///
/// For people, one readable line per event; `--format json` prints runc's
/// JSON lines (`{"type":"stats","id":…,"data":{…}}`, `{"type":"oom",…}`,
/// and `{"type":"error","line":N,"error":…}` once for a line of the
/// runtime's output that could not be read). The stream ends, with exit
/// status 0, when the container stops or is deleted, or on Ctrl-C.
#[derive(Debug, Args)]
pub struct Events {
    /// How often to collect stats (Go duration: 500ms, 5s, 1m).
    #[arg(long, default_value = "5s", value_parser = parse_interval, value_name = "DURATION", allow_hyphen_values = true)]
    pub interval: Duration,

    /// Print the container's stats once and exit.
    #[arg(long)]
    pub stats: bool,

    /// The container's ID.
    #[arg(add = crate::completion::containers_in(crate::completion::LIVE))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

/// A Go duration that is greater than zero.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = crate::cli::parse_duration_arg(s)?;
    if d.is_zero() {
        return Err(format!(
            "the interval must be greater than zero (got {s:?}); e.g. 500ms or 5s"
        ));
    }
    Ok(d)
}

impl Events {
    pub fn run(self, ctx: &Context) -> Outcome {
        let fail = || format!("cannot follow the events of container {}", self.id);
        // runc prints JSON lines: so does ocictl for a script that chose no
        // format (`alias runc=ocictl`); people at a terminal get readable lines.
        let format = if ctx.format_chosen || std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            ctx.format
        } else {
            Format::Json
        };
        let mut printer = Printer::new(format);
        if self.stats {
            let stats = ctx.runc.stats(&self.id).with_context(fail)?;
            printer.print(&Event::Stats {
                id: self.id.to_string(),
                stats: Box::new(stats),
            })?;
            return Ok(0);
        }
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            signal_hook::flag::register(sig, Arc::clone(&stop))
                .context("cannot install the Ctrl-C handler")?;
        }
        let mut stream = ctx
            .runc
            .events(&self.id, Some(self.interval))
            .with_context(fail)?
            .stop_on(stop);
        while let Some(event) = stream.next_event().with_context(fail)? {
            printer.print(&event)?;
        }
        tracing::debug!(why = ?stream.ended(), "events ended");
        Ok(0)
    }
}

/// Renders events; for people, CPU % between successive stats events.
struct Printer {
    format: Format,
    previous: Option<(Stats, Instant)>,
}

impl Printer {
    fn new(format: Format) -> Printer {
        Printer {
            format,
            previous: None,
        }
    }

    fn print(&mut self, event: &Event) -> anyhow::Result<()> {
        if self.format == Format::Json {
            return Ok(output::print_json(event)?);
        }
        let now = chrono::Local::now().format("%H:%M:%S%.3f");
        let line = match event {
            Event::Stats { id, stats } => {
                let at = Instant::now();
                let cpu = match &self.previous {
                    Some((before, then)) => {
                        format!(
                            "{:.1}%",
                            cpu_percent(before, stats, at.duration_since(*then))
                        )
                    }
                    None => "-".into(),
                };
                self.previous = Some(((**stats).clone(), at));
                format!("{now} stats {id}: {}", summary(cpu, stats))
            }
            Event::Oom { id } => {
                format!("{now} oom   {id}: the OOM killer killed a process (memory limit reached)")
            }
            Event::Other { kind, id, data } => match data {
                Some(d) => format!("{now} {kind} {id}: {d}"),
                None => format!("{now} {kind} {id}"),
            },
            Event::Error { line, message } => {
                format!("{now} error: cannot read line {line} of the runtime's output: {message}")
            }
        };
        Ok(output::print_text(&(line + "\n"))?)
    }
}

/// `cpu 12.5%, mem 1.2MiB / 64MiB, pids 3 / 20, block 0B / 4KiB, net 0B / 0B`
fn summary(cpu: String, stats: &Stats) -> String {
    let u = super::stats::Usage::of(stats);
    format!(
        "cpu {cpu}, mem {}, pids {}, block {}, net {}",
        u.mem, u.pids, u.block, u.net
    )
}
