//! `ocictl stats`: what containers use, at a glance.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::{cpu_percent, ContainerId, Stats, Status};

use super::{Context, Outcome};
use crate::output::{self, human_bytes, Format, Table};

/// How many runtime calls run at once: enough to hide each call's start-up
/// on a small machine without starving it.
const PARALLEL: usize = ocictl::parallel::RUNTIME_CALLS;

/// Show containers' resource usage: CPU, memory, pids, block and network I/O.
///
/// The table has one row per container. CPU % comes from two samples
/// --interval apart (100% = one CPU busy); MEM is usage less inactive page
/// cache, over the limit; PIDS is current / limit. `--format json` prints
/// one sample, as an array of `{"id": …, "stats": {…}}` in runc's shape
/// (with --watch, one such array per line and interval).
#[derive(Debug, Args)]
pub struct StatsCmd {
    /// Every running, paused or created container under the root.
    #[arg(short, long)]
    pub all: bool,

    /// Refresh until Ctrl-C, like top.
    #[arg(short, long)]
    pub watch: bool,

    /// Time between the two samples CPU % is measured over, and between
    /// refreshes with --watch (Go duration: 500ms, 2s).
    #[arg(long, default_value = "500ms", value_parser = super::events::parse_interval, value_name = "DURATION", allow_hyphen_values = true)]
    pub interval: Duration,

    /// The containers' IDs (or --all).
    #[arg(conflicts_with = "all")]
    #[arg(add = crate::completion::containers_in(crate::completion::LIVE))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub ids: Vec<ContainerId>,
}

/// One container's sample.
type Sample = (ContainerId, Stats, Instant);

impl StatsCmd {
    pub fn run(self, ctx: &Context) -> Outcome {
        if self.ids.is_empty() && !self.all {
            return Err(crate::report::UsageError(
                "which containers? Name them (`ocictl stats web db`), or give --all for every container".into(),
            )
            .into());
        }
        let stop = Arc::new(AtomicBool::new(false));
        if self.watch {
            for sig in [libc::SIGINT, libc::SIGTERM] {
                signal_hook::flag::register(sig, Arc::clone(&stop))
                    .context("cannot install the Ctrl-C handler")?;
            }
        }
        let json = ctx.format == Format::Json;
        let mut widths = Vec::new();
        let (mut before, mut failures) = sample(ctx, &self.targets(ctx)?, self.all);
        if json {
            print_json(&before)?;
            if !self.watch {
                return report_failures(failures);
            }
        }
        loop {
            if !sleep_unless_stopped(self.interval, &stop) {
                return Ok(0);
            }
            // One view: the containers the first sample found; a refresh:
            // whatever there is now (new containers with --all).
            let ids = if self.watch {
                self.targets(ctx)?
            } else {
                before.iter().map(|s| s.0.clone()).collect()
            };
            let (after, more) = sample(ctx, &ids, self.all);
            failures.extend(more);
            if json {
                print_json(&after)?;
            } else {
                widths = self.show(&before, &after, &failures, &widths)?;
            }
            if !self.watch {
                return report_failures(failures);
            }
            failures.clear();
            before = after;
        }
    }

    fn targets(&self, ctx: &Context) -> anyhow::Result<Vec<ContainerId>> {
        if !self.all {
            return Ok(self.ids.clone());
        }
        let containers = ctx.runc.list().context("cannot list containers")?;
        Ok(containers
            .into_iter()
            .filter(|c| {
                matches!(
                    c.status,
                    Status::Running | Status::Paused | Status::Created | Status::Pausing
                )
            })
            .filter_map(|c| c.id.parse().ok())
            .collect())
    }

    /// Print one frame; returns its column widths, which the next frame
    /// keeps at least (so --watch does not jump as numbers change).
    fn show(
        &self,
        before: &[Sample],
        after: &[Sample],
        failures: &[anyhow::Error],
        widths: &[usize],
    ) -> anyhow::Result<Vec<usize>> {
        let mut table = Table::compact(&[
            "ID",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "PIDS",
            "BLOCK I/O",
            "NET I/O",
        ]);
        for (id, stats, at) in after {
            let cpu = before
                .iter()
                .find(|(b, _, _)| b == id)
                .map(|(_, b, then)| {
                    format!("{:.2}%", cpu_percent(b, stats, at.duration_since(*then)))
                })
                .unwrap_or_else(|| "-".into());
            table.row(row(id, cpu, stats));
        }
        table.at_least(widths);
        let mut text = String::new();
        let screen = if self.watch { terminal_rows() } else { None };
        if screen.is_some() {
            // Home and clear, as top does.
            text.push_str("\x1b[H\x1b[2J");
        }
        // No header above nothing but an error.
        if !after.is_empty() || self.watch {
            let rendered = table.render();
            match screen {
                // Keep the header in view: as many rows as fit, then a count.
                Some(rows) if table.len() + 1 > rows.saturating_sub(1) => {
                    let fit = rows.saturating_sub(2).max(1);
                    for line in rendered.lines().take(fit) {
                        text.push_str(line);
                        text.push('\n');
                    }
                    text.push_str(&format!("… {} more\n", table.len() + 1 - fit));
                }
                _ => text.push_str(&rendered),
            }
        }
        if self.watch {
            for f in failures {
                text.push_str(&format!("ocictl: {f:#}\n"));
            }
        }
        output::print_text(&text)?;
        Ok(table.widths())
    }
}

/// A container's usage as people read it; shared by `stats` and `events`.
pub struct Usage {
    /// `1.2MiB / 64MiB` or `1.2MiB / unlimited`
    pub mem: String,
    /// `1.88%`, or `-` with no limit
    pub mem_percent: String,
    /// `3 / 20`, or `3` with no limit
    pub pids: String,
    /// read / written, `-` when not reported
    pub block: String,
    /// received / sent, `-` when the container has no network stats
    pub net: String,
}

impl Usage {
    pub fn of(stats: &Stats) -> Usage {
        let used = stats.memory_used();
        let (mem, mem_percent) = match stats.memory_limit() {
            Some(limit) => (
                format!("{} / {}", human_bytes(used), human_bytes(limit)),
                format!("{:.2}%", used as f64 / limit as f64 * 100.0),
            ),
            None => (format!("{} / unlimited", human_bytes(used)), "-".into()),
        };
        let pids = match stats.pids.limit {
            Some(limit) if !ocictl::runtime::stats::is_unlimited(limit) => {
                format!("{} / {limit}", stats.pids.current)
            }
            _ => stats.pids.current.to_string(),
        };
        let (read, write) = stats.block_io();
        let (rx, tx) = stats.network_io();
        // What the runtime did not report is `-`, not a made-up 0B / 0B.
        let block = if stats.blkio.io_service_bytes_recursive.is_empty() {
            "-".into()
        } else {
            format!("{} / {}", human_bytes(read), human_bytes(write))
        };
        let net = match &stats.network_interfaces {
            Some(interfaces) if !interfaces.is_empty() => {
                format!("{} / {}", human_bytes(rx), human_bytes(tx))
            }
            _ => "-".into(),
        };
        Usage {
            mem,
            mem_percent,
            pids,
            block,
            net,
        }
    }
}

/// A table row for one container.
fn row(id: &ContainerId, cpu: String, stats: &Stats) -> Vec<String> {
    let u = Usage::of(stats);
    vec![
        id.to_string(),
        cpu,
        u.mem,
        u.mem_percent,
        u.pids,
        u.block,
        u.net,
    ]
}

/// Sample every container concurrently. With `lenient` (--all), a
/// container that went away between list and stats is skipped quietly.
fn sample(ctx: &Context, ids: &[ContainerId], lenient: bool) -> (Vec<Sample>, Vec<anyhow::Error>) {
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    for (id, result) in ids.iter().zip(ctx.runc.stats_many(ids, PARALLEL)) {
        match result {
            Ok((stats, at)) => samples.push((id.clone(), stats, at)),
            Err(_) if lenient => {}
            Err(e) => failures.push(
                anyhow::Error::new(e).context(format!("cannot read the stats of container {id}")),
            ),
        }
    }
    (samples, failures)
}

fn print_json(samples: &[Sample]) -> anyhow::Result<()> {
    let value: crate::contract::StatsSample = samples
        .iter()
        .map(|(id, stats, _)| crate::contract::ContainerStats {
            id: id.to_string(),
            stats,
        })
        .collect();
    Ok(output::print_json(&value)?)
}

/// Print the failures but the last to stderr; the last is the command's
/// error (so the exit code is the runtime's).
fn report_failures(mut failures: Vec<anyhow::Error>) -> Outcome {
    match failures.pop() {
        None => Ok(0),
        Some(last) => {
            for f in &failures {
                eprintln!("ocictl: error: {f:#}");
            }
            Err(last)
        }
    }
}

/// Sleep for `d`, waking early when `stop` is set; false when stopped.
pub fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    false
}

/// The terminal's height when stdout is one.
fn terminal_rows() -> Option<usize> {
    use std::io::IsTerminal;
    use std::os::fd::AsFd;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    ocictl::tty::window_size(std::io::stdout().as_fd())
        .map(|w| usize::from(w.ws_row))
        .filter(|r| *r > 0)
}
