//! `runc update`: change a running container's resource limits. As go-runc
//! does, the driver always hands runc an oci-spec `LinuxResources` as JSON
//! on its stdin (`update --resources -`), whether the limits came from
//! runc-style flags or from a resources file; the Intel RDT schemas, which
//! are not part of `LinuxResources`, stay flags.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

use super::argv::Args;
use super::error::{Error, Result};
use super::id::ContainerId;
use super::Runtime;

/// The limits runc's `update` flags set; `None` leaves a value unchanged.
/// Sizes are bytes, -1 for unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceFlags {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub kernel_memory: Option<i64>,
    pub kernel_memory_tcp: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
}

impl ResourceFlags {
    /// Whether no limit is set at all.
    pub fn is_empty(&self) -> bool {
        *self == ResourceFlags::default()
    }

    /// The `LinuxResources` these flags describe: only what was set.
    pub fn to_resources(&self) -> LinuxResources {
        let mut r = LinuxResources::default();
        let f = self;
        if f.memory.is_some()
            || f.memory_swap.is_some()
            || f.memory_reservation.is_some()
            || f.kernel_memory.is_some()
            || f.kernel_memory_tcp.is_some()
        {
            let mut m = LinuxMemory::default();
            m.set_limit(f.memory);
            m.set_swap(f.memory_swap);
            m.set_reservation(f.memory_reservation);
            m.set_kernel(f.kernel_memory);
            m.set_kernel_tcp(f.kernel_memory_tcp);
            r.set_memory(Some(m));
        }
        if f.cpu_shares.is_some()
            || f.cpu_quota.is_some()
            || f.cpu_period.is_some()
            || f.cpu_rt_period.is_some()
            || f.cpu_rt_runtime.is_some()
            || f.cpuset_cpus.is_some()
            || f.cpuset_mems.is_some()
        {
            let mut c = LinuxCpu::default();
            c.set_shares(f.cpu_shares);
            c.set_quota(f.cpu_quota);
            c.set_period(f.cpu_period);
            c.set_realtime_period(f.cpu_rt_period);
            c.set_realtime_runtime(f.cpu_rt_runtime);
            c.set_cpus(f.cpuset_cpus.clone());
            c.set_mems(f.cpuset_mems.clone());
            r.set_cpu(Some(c));
        }
        if let Some(limit) = f.pids_limit {
            let mut p = LinuxPids::default();
            p.set_limit(limit);
            r.set_pids(Some(p));
        }
        if let Some(weight) = f.blkio_weight {
            let mut b = LinuxBlockIo::default();
            b.set_weight(Some(weight));
            r.set_block_io(Some(b));
        }
        r
    }
}

/// Read and check a resources document (runc's `--resources` format, an
/// OCI `LinuxResources`), as runc reads it (see [`super::validate`]);
/// errors name `source`, the line and the field.
pub fn parse_resources(text: &str, source: &str) -> Result<LinuxResources> {
    Ok(
        super::validate::decode_document(text, source, "an OCI LinuxResources document")?
            .warn_ignored(source),
    )
}

/// `runc update`'s options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateOpts {
    pub resources: LinuxResources,
    pub l3_cache_schema: Option<String>,
    pub mem_bw_schema: Option<String>,
}

impl UpdateOpts {
    pub(crate) fn push_args(&self, args: &mut Args) {
        args.value("resources", Some("-"))
            .value("l3-cache-schema", self.l3_cache_schema.as_deref())
            .value("mem-bw-schema", self.mem_bw_schema.as_deref());
    }
}

impl Runtime {
    /// `runc update --resources - ID` with the resources as JSON on stdin.
    pub fn update(&self, id: &ContainerId, opts: &UpdateOpts) -> Result<()> {
        let json = serde_json::to_vec(&opts.resources)
            .map_err(|e| Error::Invalid(format!("cannot encode the resources: {e}")))?;
        let mut args = Args::subcommand("update");
        opts.push_args(&mut args);
        args.arg(id);
        self.capture(args, Some(&json)).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_only_what_was_set() {
        let flags = ResourceFlags {
            memory: Some(64 << 20),
            pids_limit: Some(20),
            ..ResourceFlags::default()
        };
        let json = serde_json::to_value(flags.to_resources()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"memory": {"limit": 67108864}, "pids": {"limit": 20}})
        );
        assert!(ResourceFlags::default().is_empty());
        assert_eq!(
            serde_json::to_value(ResourceFlags::default().to_resources()).unwrap(),
            serde_json::json!({})
        );
    }

    #[test]
    fn every_flag_lands_in_its_field() {
        let flags = ResourceFlags {
            memory: Some(1),
            memory_swap: Some(2),
            memory_reservation: Some(3),
            kernel_memory: Some(4),
            kernel_memory_tcp: Some(5),
            cpu_shares: Some(6),
            cpu_quota: Some(7),
            cpu_period: Some(8),
            cpu_rt_period: Some(9),
            cpu_rt_runtime: Some(10),
            cpuset_cpus: Some("0-1".into()),
            cpuset_mems: Some("0".into()),
            pids_limit: Some(11),
            blkio_weight: Some(12),
        };
        assert_eq!(
            serde_json::to_value(flags.to_resources()).unwrap(),
            serde_json::json!({
                "memory": {"limit": 1, "swap": 2, "reservation": 3, "kernel": 4, "kernelTCP": 5},
                "cpu": {"shares": 6, "quota": 7, "period": 8, "realtimePeriod": 9,
                        "realtimeRuntime": 10, "cpus": "0-1", "mems": "0"},
                "pids": {"limit": 11},
                "blockIO": {"weight": 12}
            })
        );
    }
}
