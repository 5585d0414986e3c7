//! A container's resource usage as `runc events --stats` reports it, typed
//! after runc's own `types.Stats` and checked against real runc output
//! (tests/fixtures/runc-1.1.5/events-stats.json). What these types do not
//! name (a newer runtime's fields) is kept in `extra`, never dropped, and
//! written back out unchanged.
//!
//! Shapes learnt from the real runtime: `cpu.usage` is an object; a memory
//! "no limit" is a huge number (9223372036854771712 on cgroup v1,
//! u64::MAX on v2), see [`is_unlimited`]; `pids.limit` is absent when there
//! is none; `network_interfaces` may be null; `hugetlb` is a map keyed by page
//! size. cgroup v2-only parts (`psi`) are options.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::argv::Args;
use super::error::Result;
use super::id::ContainerId;
use super::Runtime;

/// Fields a type does not name, kept as they came.
pub type Extra = Map<String, Value>;

/// Any limit at or above this is "no limit" (cgroup v1 reports
/// 9223372036854771712, v2 reports u64::MAX).
pub const UNLIMITED_FROM: u64 = 1 << 62;

/// Whether a limit value means "no limit".
pub fn is_unlimited(limit: u64) -> bool {
    limit == 0 || limit >= UNLIMITED_FROM
}

/// A map key, borrowed from the input when it can be (serde's own `Cow`
/// always copies).
pub(crate) struct Key<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A value where null means the default (Go writes nil slices and maps as null).
struct OrDefault<T>(T);

impl<'de, T: Default + Deserialize<'de>> Deserialize<'de> for OrDefault<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(OrDefault(Option::<T>::deserialize(d)?.unwrap_or_default()))
    }
}

/// `Deserialize` for a struct with an `extra` map: known keys go to their
/// fields (null as the default), every other key into `extra`, in one pass
/// with no intermediate tree (serde's `flatten` buffers the whole object,
/// which halves the events parser's speed).
macro_rules! deserialize_keeping_extra {
    ($name:ident { $($key:literal => $field:ident),* $(,)? }) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<$name, A::Error> {
                        let mut out = $name::default();
                        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                            match key.as_ref() {
                                $($key => out.$field = map.next_value::<OrDefault<_>>()?.0,)*
                                _ => {
                                    let value: Value = map.next_value()?;
                                    out.extra.insert(key.into_owned(), value);
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

deserialize_keeping_extra!(Stats {
    "cpu" => cpu, "cpuset" => cpuset, "memory" => memory, "pids" => pids, "blkio" => blkio,
    "hugetlb" => hugetlb, "intel_rdt" => intel_rdt, "network_interfaces" => network_interfaces,
});
deserialize_keeping_extra!(Cpu { "usage" => usage, "throttling" => throttling, "psi" => psi });
deserialize_keeping_extra!(CpuUsage {
    "total" => total, "percpu" => percpu, "percpu_kernel" => percpu_kernel,
    "percpu_user" => percpu_user, "kernel" => kernel, "user" => user,
});
deserialize_keeping_extra!(CpuSet {
    "cpus" => cpus, "mems" => mems, "cpu_exclusive" => cpu_exclusive,
    "mem_hardwall" => mem_hardwall, "mem_exclusive" => mem_exclusive,
    "memory_migrate" => memory_migrate, "memory_spread_page" => memory_spread_page,
    "memory_spread_slab" => memory_spread_slab, "memory_pressure" => memory_pressure,
    "sched_load_balance" => sched_load_balance,
    "sched_relax_domain_level" => sched_relax_domain_level,
});
deserialize_keeping_extra!(Memory {
    "cache" => cache, "usage" => usage, "swap" => swap, "kernel" => kernel,
    "kernelTCP" => kernel_tcp, "raw" => raw, "psi" => psi,
});
deserialize_keeping_extra!(Blkio {
    "ioServiceBytesRecursive" => io_service_bytes_recursive,
    "ioServicedRecursive" => io_serviced_recursive,
    "ioQueueRecursive" => io_queue_recursive,
    "ioServiceTimeRecursive" => io_service_time_recursive,
    "ioWaitTimeRecursive" => io_wait_time_recursive,
    "ioMergedRecursive" => io_merged_recursive,
    "ioTimeRecursive" => io_time_recursive,
    "sectorsRecursive" => sectors_recursive,
    "psi" => psi,
});

/// Named counters (memory.stat), in name order. A sorted vector rather
/// than a tree map: runc writes them sorted, so reading is a push each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters(Vec<(String, u64)>);

impl Counters {
    pub fn get(&self, name: &str) -> Option<u64> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

impl std::ops::Index<&str> for Counters {
    type Output = u64;
    fn index(&self, name: &str) -> &u64 {
        let i = self
            .0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .unwrap_or_else(|_| panic!("no counter {name:?}"));
        &self.0[i].1
    }
}

impl Serialize for Counters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Counters {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Counters;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of counters")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Counters, A::Error> {
                let mut v: Vec<(String, u64)> = Vec::with_capacity(map.size_hint().unwrap_or(48));
                let mut sorted = true;
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    let value: u64 = map.next_value()?;
                    if let Some((last, _)) = v.last() {
                        sorted &= last.as_str() < key.as_ref();
                    }
                    v.push((key.into_owned(), value));
                }
                if !sorted {
                    v.sort_by(|a, b| a.0.cmp(&b.0));
                    v.dedup_by(|a, b| a.0 == b.0);
                }
                Ok(Counters(v))
            }
        }
        d.deserialize_map(V)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Stats {
    pub cpu: Cpu,
    /// null when the runtime does not report it (youki): every runtime's
    /// output has the same keys.
    #[serde(default)]
    pub cpuset: Option<CpuSet>,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    /// Per huge page size ("2MB", "1GB").
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// null when the runtime does not report it (as cpuset).
    #[serde(default)]
    pub intel_rdt: Option<Value>,
    /// null when the container has no network namespace stats.
    #[serde(default)]
    pub network_interfaces: Option<Vec<NetworkInterface>>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
    /// Pressure stall information (cgroup v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<Psi>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// CPU time in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CpuUsage {
    #[serde(default)]
    pub total: u64,
    pub percpu: Vec<u64>,
    pub percpu_kernel: Vec<u64>,
    pub percpu_user: Vec<u64>,
    #[serde(default)]
    pub kernel: u64,
    #[serde(default)]
    pub user: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Throttling {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(default, rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(default, rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CpuSet {
    pub cpus: Vec<u16>,
    pub mems: Vec<u16>,
    pub cpu_exclusive: u64,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Memory {
    #[serde(default)]
    pub cache: u64,
    pub usage: MemoryEntry,
    /// On cgroup v1: memory+swap ("memsw").
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as the kernel reports it.
    #[schemars(with = "BTreeMap<String, u64>")]
    pub raw: Counters,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<Psi>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Bytes; `limit` is "no limit" when [`is_unlimited`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemoryEntry {
    #[serde(default)]
    pub limit: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    #[serde(default)]
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Pids {
    #[serde(default)]
    pub current: u64,
    /// Absent when there is no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Blkio {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queue_recursive: Vec<BlkioEntry>,
    #[serde(
        rename = "ioServiceTimeRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioWaitTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioMergedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "sectorsRecursive", skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<Psi>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BlkioEntry {
    #[serde(default)]
    pub major: u64,
    #[serde(default)]
    pub minor: u64,
    /// "Read", "Write", "Sync", "Async", "Discard", "Total" (v1 spelling;
    /// v2 writes lower case).
    #[serde(default)]
    pub op: String,
    #[serde(default)]
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hugetlb {
    #[serde(default)]
    pub usage: u64,
    #[serde(default)]
    pub max: u64,
    #[serde(default)]
    pub failcnt: u64,
}

/// runc writes these with Go's field names (no JSON tags); snake_case is
/// accepted too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkInterface {
    #[serde(default, rename = "Name", alias = "name")]
    pub name: String,
    #[serde(default, rename = "RxBytes", alias = "rx_bytes")]
    pub rx_bytes: u64,
    #[serde(default, rename = "RxPackets", alias = "rx_packets")]
    pub rx_packets: u64,
    #[serde(default, rename = "RxErrors", alias = "rx_errors")]
    pub rx_errors: u64,
    #[serde(default, rename = "RxDropped", alias = "rx_dropped")]
    pub rx_dropped: u64,
    #[serde(default, rename = "TxBytes", alias = "tx_bytes")]
    pub tx_bytes: u64,
    #[serde(default, rename = "TxPackets", alias = "tx_packets")]
    pub tx_packets: u64,
    #[serde(default, rename = "TxErrors", alias = "tx_errors")]
    pub tx_errors: u64,
    #[serde(default, rename = "TxDropped", alias = "tx_dropped")]
    pub tx_dropped: u64,
}

/// Pressure stall information (cgroup v2, newer runtimes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Psi {
    #[serde(default)]
    pub some: PsiData,
    #[serde(default)]
    pub full: PsiData,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PsiData {
    #[serde(default)]
    pub avg10: f64,
    #[serde(default)]
    pub avg60: f64,
    #[serde(default)]
    pub avg300: f64,
    #[serde(default)]
    pub total: u64,
}

impl Stats {
    /// Memory in use as `docker stats` counts it: usage less the inactive
    /// page cache the kernel can drop at once.
    pub fn memory_used(&self) -> u64 {
        let raw = &self.memory.raw;
        let inactive = raw
            .get("total_inactive_file")
            .or_else(|| raw.get("inactive_file"))
            .unwrap_or(0);
        self.memory.usage.usage.saturating_sub(inactive)
    }

    /// The memory limit, `None` when there is none.
    pub fn memory_limit(&self) -> Option<u64> {
        Some(self.memory.usage.limit).filter(|l| !is_unlimited(*l))
    }

    /// Bytes read and written, summed over devices.
    pub fn block_io(&self) -> (u64, u64) {
        let (mut read, mut write) = (0, 0);
        for e in &self.blkio.io_service_bytes_recursive {
            if e.op.eq_ignore_ascii_case("read") {
                read += e.value;
            } else if e.op.eq_ignore_ascii_case("write") {
                write += e.value;
            }
        }
        (read, write)
    }

    /// Bytes received and sent, summed over interfaces.
    pub fn network_io(&self) -> (u64, u64) {
        self.network_interfaces
            .iter()
            .flatten()
            .fold((0, 0), |(rx, tx), i| (rx + i.rx_bytes, tx + i.tx_bytes))
    }
}

/// CPU use between two samples, in percent of one CPU (200 = two CPUs busy),
/// as `docker stats` and `top` show it.
pub fn cpu_percent(before: &Stats, after: &Stats, elapsed: std::time::Duration) -> f64 {
    let nanos = elapsed.as_nanos() as f64;
    if nanos <= 0.0 {
        return 0.0;
    }
    let used = after.cpu.usage.total.saturating_sub(before.cpu.usage.total) as f64;
    used / nanos * 100.0
}

/// A stats sample and the instant it arrived.
pub type Sampled = (Stats, std::time::Instant);

impl Runtime {
    /// `runc events --stats ID`: one snapshot of the container's usage.
    pub fn stats(&self, id: &ContainerId) -> Result<Stats> {
        self.require(super::Feature::Events)?;
        let mut args = Args::subcommand("events");
        args.flag("stats", true).arg(id);
        let flavor = self.flavor_hint();
        self.expect_parsed(args, "container stats", |out| flavor.parse_stats(out))
    }

    /// `stats` for many containers at once, at most `parallel` runtime
    /// calls at a time (std threads, no async runtime). Each answer comes
    /// with the instant it arrived, for rates between two samples. Results
    /// are in the order of `ids`.
    pub fn stats_many(&self, ids: &[ContainerId], parallel: usize) -> Vec<Result<Sampled>> {
        crate::parallel::map(ids, parallel, |id| {
            self.stats(id).map(|s| (s, std::time::Instant::now()))
        })
    }
}

#[cfg(test)]
mod tests {}
