//! `ocictl inspect`: everything ocictl knows of containers, in one document
//! (assembled by [`ocictl::inspect`]).

use anyhow::Context as _;
use clap::Args;
use ocictl::inspect::InspectOpts;
use ocictl::runtime::error::shell_word;
use ocictl::runtime::ContainerId;
use ocictl::shim::state::ExitInfo;

use super::{Context, Outcome};
use crate::contract::{self, Inspected};
use crate::output::{self, key_values, Format};

/// Show everything ocictl knows of containers, in one document.
///
/// What the runtime says (status, pid, created, bundle — the one you gave,
/// and ocictl's private copy when the runtime runs one), the process (args,
/// environment names, cwd, user), mounts, hostname and resource limits from
/// the effective config.json, ocictl's monitor (pid, alive, log, whether
/// `attach` works), the exit status once the monitor recorded it for this
/// container (never an earlier one's with the same ID), and the override
/// flags `run`/`create` applied. Environment values (and --env override
/// values) are hidden unless --show-env. A config.json that cannot be read
/// leaves its sections out and says why.
///
/// With --format json: always an array with one object per container found,
/// as `docker inspect` prints (`jq '.[0]'` for one). An ID that does not
/// exist is an error (the others are still shown) and the exit status is
/// the runtime's.
#[derive(Debug, Args)]
pub struct Inspect {
    /// Show environment values, not only their names.
    #[arg(long)]
    pub show_env: bool,

    /// The containers' IDs.
    #[arg(required = true, value_name = "ID")]
    #[arg(add = crate::completion::any_container())]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub ids: Vec<ContainerId>,
}

impl Inspect {
    pub fn run(self, ctx: &Context) -> Outcome {
        let opts = InspectOpts {
            show_env: self.show_env,
        };
        let mut found = Vec::new();
        let mut failure = None;
        for id in &self.ids {
            match ocictl::inspect::inspect(&ctx.runc, id, opts) {
                Ok(doc) => found.push(Inspected::of(doc)),
                Err(e) => {
                    failure.get_or_insert((id, e));
                }
            }
        }
        match ctx.format {
            Format::Json => output::print_json(&found)?,
            Format::Table => {
                let blocks: Vec<String> = found.iter().map(human).collect();
                if !blocks.is_empty() {
                    output::print_text(&blocks.join("\n"))?;
                }
            }
        }
        match failure {
            Some((id, e)) => Err(e).with_context(|| format!("cannot inspect container {id}")),
            None => Ok(0),
        }
    }
}

/// One container for people: sections of aligned keys and values.
fn human(doc: &Inspected) -> String {
    let c = &doc.container;
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    let words = |w: &[String]| {
        w.iter()
            .map(|w| shell_word(w).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut rows = vec![("status", c.status.clone())];
    if let Some(pid) = c.pid {
        rows.push(("pid", pid.to_string()));
    }
    rows.push(("created", c.created.clone()));
    if !c.owner.is_empty() {
        rows.push(("owner", c.owner.clone()));
    }
    rows.push(("bundle", c.bundle.display().to_string()));
    if let Some(copy) = &c.runtime_bundle {
        rows.push((
            "runtime bundle",
            format!("{} (ocictl's private copy)", copy.display()),
        ));
    }
    rows.push(("rootfs", c.rootfs.clone()));
    rows.push(("config", c.config.display().to_string()));
    if let Some(h) = &c.hostname {
        rows.push(("hostname", h.clone()));
    }
    if let Some(ro) = c.read_only_rootfs {
        rows.push(("read-only rootfs", yes_no(ro)));
    }
    let mut text = key_values(&format!("Container {}", c.id), &rows);
    if let Some(p) = &c.process {
        let mut user = format!("uid {}, gid {}", p.user.uid, p.user.gid);
        if !p.user.additional_gids.is_empty() {
            let gids: Vec<String> = p.user.additional_gids.iter().map(u32::to_string).collect();
            user.push_str(&format!(", groups {}", gids.join(",")));
        }
        if let Some(name) = &p.user.username {
            user.push_str(&format!(" ({name})"));
        }
        let hidden = p.env.iter().any(|e| !e.contains('='));
        let env = match (p.env.join(" "), hidden) {
            (names, true) => format!("{names}  (values hidden: --show-env)"),
            (all, false) => all,
        };
        text.push_str(&key_values(
            "Process",
            &[
                ("args", words(&p.args)),
                ("env", env),
                ("cwd", p.cwd.clone()),
                ("user", user),
                ("terminal", yes_no(p.terminal)),
            ],
        ));
    }
    if let Some(mounts) = &c.mounts {
        let mut table = output::Table::compact(&["DESTINATION", "TYPE", "SOURCE", "OPTIONS"]);
        for m in mounts {
            table.row(vec![
                m.destination.display().to_string(),
                m.kind.clone().unwrap_or_default(),
                m.source
                    .as_ref()
                    .map(|s| s.display().to_string())
                    .unwrap_or_default(),
                m.options.join(","),
            ]);
        }
        text.push_str("Mounts\n");
        for line in table.render().lines() {
            text.push_str(&format!("  {line}\n"));
        }
    }
    if let Some(r) = &c.resources {
        let unlimited = || "unlimited".to_string();
        let memory = r.memory_limit.map_or_else(unlimited, |m| {
            format!("{} ({m} bytes)", output::human_bytes(m as u64))
        });
        let cpus = match (r.cpus, r.cpu_quota, r.cpu_period) {
            (Some(cpus), Some(q), Some(p)) => format!("{cpus} (quota {q}µs per {p}µs)"),
            _ => unlimited(),
        };
        let mut rows = vec![("memory", memory), ("cpus", cpus)];
        if let Some(shares) = r.cpu_shares {
            rows.push(("cpu shares", shares.to_string()));
        }
        rows.push((
            "pids",
            r.pids_limit.map_or_else(unlimited, |p| p.to_string()),
        ));
        text.push_str(&key_values("Resources", &rows));
    }
    let monitor = match &c.monitor {
        Some(m) => {
            let alive = if m.alive { "alive" } else { "ended" };
            let mut rows = vec![("pid", format!("{} ({alive})", m.pid))];
            if let Some(log) = &m.log {
                rows.push(("log", log.display().to_string()));
            }
            rows.push(("attachable", yes_no(m.attachable)));
            rows
        }
        None => vec![(
            "none",
            "started with --no-monitor, --pid-file or by the runtime itself".into(),
        )],
    };
    text.push_str(&key_values("Monitor", &monitor));
    text.push_str(&key_values("Exit", &[exit_row(&c.exit)]));
    if !c.overrides.is_empty() {
        text.push_str(&key_values("Overrides", &[("flags", words(&c.overrides))]));
    }
    if !c.unavailable.is_empty() {
        let rows: Vec<(&str, String)> = c.unavailable.iter().map(|u| ("", u.clone())).collect();
        text.push_str(&key_values("Unavailable", &rows));
    }
    text
}

/// How the container ended, as far as it is known.
fn exit_row(exit: &ExitInfo) -> (&'static str, String) {
    match exit {
        ExitInfo::Known(r) => {
            let how = match (r.signal.and_then(contract::signal_name_of), r.code) {
                (Some(signal), _) => format!("killed by {signal}"),
                (None, Some(code)) => format!("exited with {code}"),
                (None, None) => "ended".into(),
            };
            ("status", format!("{how} at {}", r.at))
        }
        ExitInfo::Pending => ("status", "not yet".into()),
        ExitInfo::Unknown(reason) => ("unknown", reason.clone()),
        ExitInfo::NoMonitor => ("unknown", "no monitor keeps it".into()),
    }
}
