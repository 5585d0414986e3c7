//! `ocictl generate systemd`: a unit that starts a container at boot
//! (made by [`ocictl::systemd_unit`]).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ocictl::runtime::ContainerId;
use ocictl::systemd_unit::{RestartPolicy, Start, UnitRequest};

use super::{Context, Outcome};
use crate::contract::GeneratedUnit;
use crate::output::{self, Format};

/// Generate files that integrate a container with the system.
#[derive(Debug, Args)]
pub struct Generate {
    #[command(subcommand)]
    pub what: Generated,
}

#[derive(Debug, Subcommand)]
pub enum Generated {
    Systemd(Systemd),
}

/// Print a systemd service unit that starts the container at boot.
///
/// The unit runs `ocictl run` in the foreground from the container's bundle
/// (the one you gave, not ocictl's private copy) with the override flags
/// and global flags (--root, --runtime, --systemd-cgroup, --criu, …) it was
/// started with, so the service's main process is ocictl, its exit status
/// the container's and its output the journal's. It stops the container
/// with `ocictl stop --time SECONDS`, and force-deletes a leftover container
/// of the same ID before each start and after each stop. With --restore it
/// restores the newest checkpoint under --image-root instead (`restore
/// --image-root DIR --latest`); when there is none, the start fails. The
/// unit names this ocictl binary by its absolute path; its file name is
/// `ocictl-ID.service` (`+` escaped as \x2b), printed on its first line.
///
/// With --format json: `{"id", "name", "unit"}` (the file name and text).
#[derive(Debug, Args)]
pub struct Systemd {
    /// Seconds `ocictl stop` waits after SIGTERM before SIGKILL (the unit's
    /// TimeoutStopSec is 60 more).
    #[arg(short, long, default_value_t = 10, value_name = "SECONDS")]
    #[arg(value_parser = clap::value_parser!(u64).range(0..=31_536_000))]
    pub time: u64,

    /// systemd's Restart= for the service.
    #[arg(
        long,
        default_value = "on-failure",
        value_name = "POLICY",
        value_parser = restart_policies()
    )]
    pub restart_policy: RestartPolicy,

    /// Start by restoring the newest checkpoint under --image-root.
    #[arg(long, requires = "image_root")]
    pub restore: bool,

    /// The image root `checkpoint --image-root` writes (with --restore).
    #[arg(long, value_name = "DIR", requires = "restore", value_hint = clap::ValueHint::DirPath)]
    pub image_root: Option<PathBuf>,

    /// Write the values of --env overrides into the unit. Without it the
    /// unit names only the variables and reads their values from
    /// /etc/ocictl/ocictl-ID.env (a unit's command lines are readable by
    /// every user).
    #[arg(long)]
    pub show_env: bool,

    /// The container's ID.
    #[arg(add = crate::completion::any_container())]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

/// The policies clap offers (and completes); each parses.
fn restart_policies() -> impl clap::builder::TypedValueParser<Value = RestartPolicy> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(RestartPolicy::NAMES)
        .map(|s| s.parse::<RestartPolicy>().expect("a listed policy"))
}

impl Generate {
    pub fn id(&self) -> &ContainerId {
        match &self.what {
            Generated::Systemd(s) => &s.id,
        }
    }

    pub fn run(self, ctx: &Context) -> Outcome {
        match self.what {
            Generated::Systemd(s) => s.run(ctx),
        }
    }
}

impl Systemd {
    fn run(self, ctx: &Context) -> Outcome {
        let fail = || format!("cannot generate a systemd unit for container {}", self.id);
        let ocictl = std::env::current_exe()
            .context("cannot tell where this ocictl binary is")
            .with_context(fail)?;
        let start = match self.image_root {
            Some(dir) => Start::Restore {
                image_root: std::path::absolute(&dir).unwrap_or(dir),
            },
            None => Start::Run,
        };
        let req = UnitRequest {
            start,
            stop_time: self.time,
            show_env: self.show_env,
            restart: self.restart_policy,
            ocictl,
        };
        let unit = ocictl::systemd_unit::generate(&ctx.runc, &self.id, &req).with_context(fail)?;
        match ctx.format {
            Format::Json => output::print_json(&GeneratedUnit {
                id: self.id.to_string(),
                name: unit.name,
                unit: unit.text,
            })?,
            Format::Table => output::print_text(&unit.text)?,
        }
        Ok(0)
    }
}
