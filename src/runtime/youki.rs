//! Readers for the formats youki (and crun's table) print where runc prints
//! something else, each into the driver's one typed model. Which runtime
//! needs which reader is decided in `flavor.rs`; these functions only read.
//! Checked against tests/fixtures/youki-0.7.0 and tests/fixtures/crun-1.8.1.

use std::collections::BTreeMap;
use std::io::BufRead;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::events::Event;
use super::stats::{
    Blkio, BlkioEntry, Counters, Cpu, CpuUsage, Hugetlb, Memory, MemoryEntry, Pids, Psi, Stats,
    Throttling,
};
use super::types::{Container, Status};

// ---- list ------------------------------------------------------------

/// The columns of a runtime's `list` table, by any runtime's header name.
const COLUMNS: &[(&[&str], Col)] = &[
    (&["ID", "NAME"], Col::Id),
    (&["PID"], Col::Pid),
    (&["STATUS"], Col::Status),
    (&["BUNDLE PATH", "BUNDLE"], Col::Bundle),
    (&["CREATED"], Col::Created),
    (&["CREATOR", "OWNER"], Col::Owner),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Id,
    Pid,
    Status,
    Bundle,
    Created,
    Owner,
}

/// Parse a `list` table (youki's `ID PID STATUS BUNDLE CREATED CREATOR`,
/// crun's `NAME PID STATUS BUNDLE PATH CREATED OWNER`). Cells are cut at
/// the header's column positions, so a bundle path with spaces survives.
pub fn parse_list_table(text: &str) -> Result<Vec<Container>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Ok(Vec::new());
    };
    let mut cols: Vec<(usize, Col)> = Vec::new();
    for (names, col) in COLUMNS {
        let at = names.iter().find_map(|n| find_word(header, n));
        match at {
            Some(at) => cols.push((at, *col)),
            None => {
                return Err(format!(
                    "the list table has no {} column: {header:?}",
                    names[0]
                ))
            }
        }
    }
    cols.sort_by_key(|(at, _)| *at);
    lines.map(|row| parse_row(row, &cols)).collect()
}

/// Where `word` stands alone in `header`.
fn find_word(header: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = header[from..].find(word) {
        let at = from + i;
        let end = at + word.len();
        let before_ok = at == 0 || header.as_bytes()[at - 1] == b' ';
        let after_ok = end == header.len() || header.as_bytes()[end] == b' ';
        if before_ok && after_ok {
            return Some(at);
        }
        from = end;
    }
    None
}

fn parse_row(row: &str, cols: &[(usize, Col)]) -> Result<Container, String> {
    let aligned = cols
        .iter()
        .all(|(at, _)| *at == 0 || (row.len() > *at && row.as_bytes()[at - 1] == b' '));
    let cells: Vec<(Col, String)> = if aligned {
        cols.iter()
            .enumerate()
            .map(|(i, (at, col))| {
                let end = cols.get(i + 1).map_or(row.len(), |(next, _)| *next);
                let cell = row.get(*at..end.min(row.len())).unwrap_or_default();
                (*col, cell.trim().to_string())
            })
            .collect()
    } else {
        let words: Vec<&str> = row.split_whitespace().collect();
        if words.len() != cols.len() {
            return Err(format!("cannot read the list row {row:?}"));
        }
        cols.iter()
            .zip(words)
            .map(|((_, c), w)| (*c, w.to_string()))
            .collect()
    };
    let get = |c: Col| {
        cells
            .iter()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let pid = get(Col::Pid)
        .parse()
        .map_err(|_| format!("bad pid {:?} in the list row {row:?}", get(Col::Pid)))?;
    let created = parse_time(get(Col::Created))
        .ok_or_else(|| format!("bad creation time in the list row {row:?}"))?;
    Ok(Container {
        oci_version: String::new(),
        id: get(Col::Id).to_string(),
        pid,
        status: Status::parse(get(Col::Status)),
        bundle: get(Col::Bundle).to_string(),
        rootfs: String::new(),
        created,
        annotations: BTreeMap::new(),
        owner: get(Col::Owner).to_string(),
    })
}

/// RFC 3339 with any offset (`2026-11-28T19:34:12+00:00`), to UTC.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

// ---- stats -----------------------------------------------------------

/// `events --stats` output: runc's `{"type":"stats","id":…,"data":{…}}`,
/// or youki's bare stats object, mapped into runc's model.
pub fn parse_any_stats(out: &[u8]) -> Result<Stats, String> {
    match Event::parse(out) {
        Ok(Event::Stats { stats, .. }) => Ok(*stats),
        Ok(other) => Err(format!(
            "expected a stats event, got a {:?} event",
            other.kind()
        )),
        Err(runc_err) => match serde_json::from_slice::<YoukiStats>(out) {
            Ok(y) if y.looks_like_stats() => Ok(y.into_stats()),
            _ => Err(runc_err),
        },
    }
}

/// youki's (libcgroups') stats, as it serialises them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct YoukiStats {
    cpu: Option<YCpu>,
    pids: YPids,
    hugetlb: BTreeMap<String, YMemoryData>,
    blkio: YBlkio,
    memory: Option<YMemory>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct YCpu {
    usage: YCpuUsage,
    throttling: YThrottling,
    psi: Option<Psi>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct YCpuUsage {
    usage_total: u64,
    usage_user: u64,
    usage_kernel: u64,
    per_core_usage_total: Vec<u64>,
    per_core_usage_user: Vec<u64>,
    per_core_usage_kernel: Vec<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct YThrottling {
    periods: u64,
    throttled_periods: u64,
    throttled_time: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct YPids {
    current: u64,
    limit: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct YMemoryData {
    usage: u64,
    max_usage: u64,
    fail_count: u64,
    limit: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct YMemory {
    memory: YMemoryData,
    memswap: YMemoryData,
    kernel: YMemoryData,
    kernel_tcp: YMemoryData,
    cache: u64,
    stats: serde_json::Map<String, Value>,
    psi: Option<Psi>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct YBlkio {
    service_bytes: Vec<YBlkioEntry>,
    serviced: Vec<YBlkioEntry>,
    time: Vec<YBlkioEntry>,
    sectors: Vec<YBlkioEntry>,
    service_time: Vec<YBlkioEntry>,
    wait_time: Vec<YBlkioEntry>,
    queued: Vec<YBlkioEntry>,
    merged: Vec<YBlkioEntry>,
    psi: Option<Psi>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct YBlkioEntry {
    major: u64,
    minor: u64,
    op_type: Option<String>,
    value: u64,
}

/// Nanoseconds per clock tick (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn nanos_per_tick() -> u64 {
    let hz = match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(hz)) if hz > 0 => hz as u64,
        _ => 100,
    };
    1_000_000_000 / hz
}

/// A pressure reading worth reporting: youki fills zeros where the kernel
/// has none (cgroup v1), runc reports nothing there.
fn real_psi(psi: Option<Psi>) -> Option<Psi> {
    psi.filter(|p| *p != Psi::default())
}

fn entry(d: YMemoryData) -> MemoryEntry {
    MemoryEntry {
        limit: d.limit,
        usage: d.usage,
        max: d.max_usage,
        failcnt: d.fail_count,
    }
}

fn blkio_entries(v: Vec<YBlkioEntry>) -> Vec<BlkioEntry> {
    v.into_iter()
        .map(|e| BlkioEntry {
            major: e.major,
            minor: e.minor,
            op: e.op_type.unwrap_or_default(),
            value: e.value,
        })
        .collect()
}

impl YoukiStats {
    /// youki always writes `cpu` and `memory`: a stray object is not stats.
    fn looks_like_stats(&self) -> bool {
        self.cpu.is_some() && self.memory.is_some()
    }

    /// Into runc's model. Units: on cgroup v1 (per-core usage present)
    /// youki reports total CPU time in ns but user/kernel time in clock
    /// ticks (cpuacct.stat); on cgroup v2 it passes cpu.stat's microseconds
    /// through. Both become nanoseconds, as runc reports them.
    fn into_stats(self) -> Stats {
        let cpu = self.cpu.unwrap_or_default();
        let memory = self.memory.unwrap_or_default();
        let u = cpu.usage;
        let v1 = !u.per_core_usage_total.is_empty();
        let (total, user, kernel, throttled_time) = if v1 {
            let tick = nanos_per_tick();
            (
                u.usage_total,
                u.usage_user * tick,
                u.usage_kernel * tick,
                cpu.throttling.throttled_time,
            )
        } else {
            (
                u.usage_total * 1000,
                u.usage_user * 1000,
                u.usage_kernel * 1000,
                cpu.throttling.throttled_time * 1000,
            )
        };
        let raw: Counters = serde_json::from_value(Value::Object(
            memory
                .stats
                .into_iter()
                .filter(|(_, v)| v.is_u64())
                .collect(),
        ))
        .unwrap_or_default();
        Stats {
            cpu: Cpu {
                usage: CpuUsage {
                    total,
                    percpu: u.per_core_usage_total,
                    percpu_kernel: u.per_core_usage_kernel,
                    percpu_user: u.per_core_usage_user,
                    kernel,
                    user,
                    extra: Default::default(),
                },
                throttling: Throttling {
                    periods: cpu.throttling.periods,
                    throttled_periods: cpu.throttling.throttled_periods,
                    throttled_time,
                },
                psi: real_psi(cpu.psi),
                extra: Default::default(),
            },
            cpuset: None,
            memory: Memory {
                cache: memory.cache,
                usage: entry(memory.memory),
                swap: entry(memory.memswap),
                kernel: entry(memory.kernel),
                kernel_tcp: entry(memory.kernel_tcp),
                raw,
                psi: real_psi(memory.psi),
                extra: Default::default(),
            },
            pids: Pids {
                current: self.pids.current,
                limit: Some(self.pids.limit).filter(|l| *l > 0),
            },
            blkio: Blkio {
                io_service_bytes_recursive: blkio_entries(self.blkio.service_bytes),
                io_serviced_recursive: blkio_entries(self.blkio.serviced),
                io_queue_recursive: blkio_entries(self.blkio.queued),
                io_service_time_recursive: blkio_entries(self.blkio.service_time),
                io_wait_time_recursive: blkio_entries(self.blkio.wait_time),
                io_merged_recursive: blkio_entries(self.blkio.merged),
                io_time_recursive: blkio_entries(self.blkio.time),
                sectors_recursive: blkio_entries(self.blkio.sectors),
                psi: real_psi(self.blkio.psi),
                extra: Default::default(),
            },
            hugetlb: self
                .hugetlb
                .into_iter()
                .map(|(size, d)| {
                    (
                        size,
                        Hugetlb {
                            usage: d.usage,
                            max: d.max_usage,
                            failcnt: d.fail_count,
                        },
                    )
                })
                .collect(),
            intel_rdt: None,
            network_interfaces: None,
            extra: Default::default(),
        }
    }
}

// ---- events stream ---------------------------------------------------

/// Events from a stream of JSON objects that may span lines (youki prints
/// each stats sample pretty-printed, with no envelope). An object ends at
/// a line holding only `}` at column 0, or on the line it began when it is
/// one compact line. One [`Event::Error`] per object that cannot be read;
/// reading goes on with the next.
pub struct ObjectEvents<R> {
    input: R,
    id: String,
    chunk: Vec<u8>,
    line: u64,
    start: u64,
    done: bool,
}

impl<R: BufRead> ObjectEvents<R> {
    pub fn new(input: R, id: &str) -> Self {
        ObjectEvents {
            input,
            id: id.to_string(),
            chunk: Vec::new(),
            line: 0,
            start: 0,
            done: false,
        }
    }

    fn finish_chunk(&mut self) -> Event {
        let chunk = std::mem::take(&mut self.chunk);
        match Event::parse(&chunk) {
            Ok(e) => e,
            Err(runc_err) => match parse_any_stats(&chunk) {
                Ok(stats) => Event::Stats {
                    id: self.id.clone(),
                    stats: Box::new(stats),
                },
                Err(_) => Event::Error {
                    line: self.start,
                    message: format!("{runc_err} in the object starting at line {}", self.start),
                },
            },
        }
    }
}

impl<R: BufRead> Iterator for ObjectEvents<R> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let mut line = Vec::new();
        while !self.done {
            line.clear();
            match self.input.read_until(b'\n', &mut line) {
                Ok(0) => {
                    self.done = true;
                    if !self.chunk.trim_ascii().is_empty() {
                        return Some(Event::Error {
                            line: self.start,
                            message: "the runtime's output ended inside an object".into(),
                        });
                    }
                }
                Ok(_) => {
                    self.line += 1;
                    let trimmed = line.trim_ascii();
                    if self.chunk.is_empty() {
                        if trimmed.is_empty() {
                            continue;
                        }
                        self.start = self.line;
                        let compact = trimmed.starts_with(b"{") && trimmed.ends_with(b"}");
                        self.chunk.extend_from_slice(&line);
                        if compact || !trimmed.starts_with(b"{") {
                            return Some(self.finish_chunk());
                        }
                        continue;
                    }
                    self.chunk.extend_from_slice(&line);
                    if line.trim_ascii_end() == b"}" {
                        return Some(self.finish_chunk());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    return Some(Event::read_failed(self.line + 1, &e));
                }
            }
        }
        None
    }
}

// ---- errors ----------------------------------------------------------

/// youki's message out of its stderr or log: the `Error: msg` block anyhow
/// prints, with its `Caused by:` chain joined by `: ` (backtraces dropped);
/// else its last `ERROR youki: …` log line. `None` when neither is there.
pub fn error_message(text: &str) -> Option<String> {
    let lines: Vec<String> = text.lines().map(strip_ansi).collect();
    if let Some(at) = lines.iter().rposition(|l| l.starts_with("Error: ")) {
        let mut parts = vec![lines[at]["Error: ".len()..].trim().to_string()];
        let mut rest = lines[at + 1..].iter().map(|l| l.as_str());
        while let Some(l) = rest.next() {
            match l.trim() {
                "" => continue,
                "Caused by:" => {
                    for cause in rest.by_ref() {
                        if cause.trim().is_empty() {
                            break;
                        }
                        if !cause.starts_with(' ') {
                            break;
                        }
                        parts.push(strip_number(cause.trim()).to_string());
                    }
                    break;
                }
                _ => break,
            }
        }
        parts.dedup();
        return Some(parts.join(": "));
    }
    let last = lines.iter().rev().find_map(|l| {
        let after = l.split_once("ERROR ")?.1;
        let (target, msg) = after.split_once(": ")?;
        (!target.contains(' ')).then(|| strip_prefix(msg.trim()).to_string())
    });
    last
}

/// youki prefixes its top-level error with this.
pub fn strip_prefix(msg: &str) -> &str {
    msg.strip_prefix("error in executing command: ")
        .unwrap_or(msg)
}

/// `0: serde failed` → `serde failed`.
fn strip_number(s: &str) -> &str {
    match s.split_once(": ") {
        Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => s,
    }
}

/// Drop ANSI colour sequences (youki colours its text log).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chains_and_backtraces() {
        let text = "ERROR youki: error in executing command: oci spec error\n\nCaused by:\n    0: serde failed\n    1: key must be a string at line 1 column 3\nError: oci spec error\n\nCaused by:\n    0: serde failed\n    1: key must be a string at line 1 column 3\n";
        assert_eq!(
            error_message(text).unwrap(),
            "oci spec error: serde failed: key must be a string at line 1 column 3"
        );
        let bt = "Error: container nosuch does not exist.\n\nStack backtrace:\n   0: <unknown>\n";
        assert_eq!(
            error_message(bt).unwrap(),
            "container nosuch does not exist."
        );
        let log = "\u{1b}[2m2026-11-28T19:34:18.996072Z\u{1b}[0m \u{1b}[31mERROR\u{1b}[0m \u{1b}[2myouki\u{1b}[0m\u{1b}[2m:\u{1b}[0m error in executing command: container nosuch does not exist.\n";
        assert_eq!(
            error_message(log).unwrap(),
            "container nosuch does not exist."
        );
        assert_eq!(error_message("time=x level=error msg=y"), None);
    }

    #[test]
    fn tables_of_youki_and_crun() {
        let youki = "ID       PID   STATUS   BUNDLE          CREATED                    CREATOR\nfx-main  5804  Paused   /tmp/a b/sleep  2026-11-28T19:34:10+00:00  root\n";
        let list = parse_list_table(youki).unwrap();
        assert_eq!(list[0].bundle, "/tmp/a b/sleep");
        assert_eq!(list[0].status, Status::Paused);
        let crun = "NAME PID       STATUS   BUNDLE PATH                             CREATED                        OWNER\n";
        assert!(parse_list_table(crun).unwrap().is_empty());
        assert!(parse_list_table("what is this\n").is_err());
    }
}
