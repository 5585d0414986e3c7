//! `ocictl update`: change a running container's resource limits.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::{self, ContainerId, ResourceFlags, UpdateOpts};

use super::{report_action, Context, Outcome};
use crate::report::UsageError;

/// Change a running container's resource limits.
///
/// Sizes take runc's units (512M, 1g, 64MiB) and -1 for unlimited. ocictl
/// turns the flags, or the --resources document, into an OCI
/// LinuxResources, checks it, and hands it to the runtime on its stdin.
/// Limits not given stay as they are.
#[derive(Debug, Args)]
pub struct Update {
    /// An OCI LinuxResources JSON file, or - for standard input (instead of the limit flags).
    #[arg(short = 'r', long, value_name = "FILE|-")]
    pub resources: Option<PathBuf>,

    /// Block I/O weight, 10 to 1000.
    #[arg(long, value_name = "WEIGHT", value_parser = clap::value_parser!(u16).range(10..=1000))]
    pub blkio_weight: Option<u16>,

    /// CPU CFS period in microseconds (0: the system default).
    #[arg(long, value_name = "USECS")]
    pub cpu_period: Option<u64>,

    /// CPU CFS quota in microseconds per period (-1: no limit).
    #[arg(long, value_name = "USECS", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,

    /// CPU shares (relative weight against other containers).
    #[arg(
        long = "cpu-share",
        visible_alias = "cpu-shares",
        value_name = "SHARES"
    )]
    pub cpu_shares: Option<u64>,

    /// CPU realtime period in microseconds.
    #[arg(long, value_name = "USECS")]
    pub cpu_rt_period: Option<u64>,

    /// CPU realtime runtime in microseconds per period.
    #[arg(long, value_name = "USECS", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,

    /// CPUs the container may use, e.g. 0-2,4.
    #[arg(long, value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,

    /// Memory nodes the container may use, e.g. 0.
    #[arg(long, value_name = "NODES")]
    pub cpuset_mems: Option<String>,

    /// Memory limit, e.g. 512M (-1: unlimited).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    pub memory: Option<i64>,

    /// Memory reservation (soft limit), e.g. 256M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    pub memory_reservation: Option<i64>,

    /// Memory plus swap limit, e.g. 1G (-1: unlimited swap).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,

    /// Kernel memory limit (cgroup v1; deprecated in the kernel).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    pub kernel_memory: Option<i64>,

    /// Kernel TCP buffer memory limit (cgroup v1).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<i64>,

    /// Maximum number of processes (-1: no limit).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,

    /// Intel RDT/CAT L3 cache schema, e.g. "L3:0=ffff".
    #[arg(long, value_name = "SCHEMA")]
    pub l3_cache_schema: Option<String>,

    /// Intel RDT/MBA memory bandwidth schema, e.g. "MB:0=70".
    #[arg(long, value_name = "SCHEMA")]
    pub mem_bw_schema: Option<String>,

    /// The container's ID.
    #[arg(add = crate::completion::containers_in(crate::completion::LIVE))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

fn parse_size(s: &str) -> Result<i64, String> {
    ocictl::size::parse_size(s).map_err(|e| e.to_string())
}

impl Update {
    fn flags(&self) -> ResourceFlags {
        ResourceFlags {
            memory: self.memory,
            memory_swap: self.memory_swap,
            memory_reservation: self.memory_reservation,
            kernel_memory: self.kernel_memory,
            kernel_memory_tcp: self.kernel_memory_tcp,
            cpu_shares: self.cpu_shares,
            cpu_quota: self.cpu_quota,
            cpu_period: self.cpu_period,
            cpu_rt_period: self.cpu_rt_period,
            cpu_rt_runtime: self.cpu_rt_runtime,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            pids_limit: self.pids_limit,
            blkio_weight: self.blkio_weight,
        }
    }

    pub fn run(self, ctx: &Context) -> Outcome {
        let fail = || format!("cannot update container {}", self.id);
        let flags = self.flags();
        let resources = match &self.resources {
            Some(_) if !flags.is_empty() => {
                return Err(UsageError(
                    "--resources replaces the limit flags: put every limit in the document, \
                     or use the flags without --resources"
                        .into(),
                )
                .into())
            }
            Some(path) => read_resources(path).with_context(fail)?,
            None if flags.is_empty()
                && self.l3_cache_schema.is_none()
                && self.mem_bw_schema.is_none() =>
            {
                return Err(UsageError(
                    "nothing to update: give a limit (e.g. --memory 512M, --pids-limit 100) \
                     or -r FILE"
                        .into(),
                )
                .into())
            }
            None => flags.to_resources(),
        };
        let opts = UpdateOpts {
            resources,
            l3_cache_schema: self.l3_cache_schema.clone(),
            mem_bw_schema: self.mem_bw_schema.clone(),
        };
        ctx.runc.update(&self.id, &opts).with_context(fail)?;
        report_action(
            ctx,
            &crate::contract::Updated {
                id: self.id.to_string(),
                action: "update".into(),
                resources: opts.resources,
            },
        )
    }
}

/// The resources document from a file or (`-`) standard input, checked.
fn read_resources(path: &std::path::Path) -> anyhow::Result<oci_spec::runtime::LinuxResources> {
    use ocictl::input_file::{read_input_file, read_stdin};
    let (bytes, source) = if path.as_os_str() == "-" {
        (read_stdin(), "standard input".to_string())
    } else {
        (read_input_file(path), path.display().to_string())
    };
    let bytes = bytes.context("cannot read the resources")?;
    let text = String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("{source} is not UTF-8 text: {}", e.utf8_error()))?;
    Ok(runtime::parse_resources(&text, &source)?)
}
