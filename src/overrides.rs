//! Run-time overrides of a bundle's config.json: the docker/podman-like
//! flags of `run` and `create` (`-e`, `-v`, `--memory`, `-- CMD…`, …),
//! typed. Each is parsed loosely from its flag's value (`64M`,
//! `net_admin`), kept strictly, applied to the config as plain JSON (so
//! fields ocictl does not know survive) and written back in one canonical
//! argv form, the record `inspect` shows and `generate systemd` replays.
//!
//! The user's bundle is never edited: [`crate::bundle`] applies these to
//! ocictl's private copy of config.json. Where the issue that asked for
//! them is silent, each flag does what docker's flag of the same name does.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{Map, Value};

/// An override that cannot be applied to this bundle's config.json.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// A value the flag does not take.
    #[error("invalid value {value:?} for {flag}: {why}")]
    Invalid {
        flag: &'static str,
        value: String,
        why: String,
    },
    /// A valid value this bundle's config.json cannot take.
    #[error("{flag} {value}: {why}")]
    Config {
        flag: &'static str,
        value: String,
        why: String,
    },
}

/// One `-e`/`--env` value: `KEY=VALUE`, or `KEY` to pass ocictl's own
/// variable on (skipped when unset, as docker does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvArg {
    Set(String, String),
    FromHost(String),
}

impl FromStr for EnvArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((key, value)) => Ok(EnvArg::Set(env_key(key)?, value.to_string())),
            None => Ok(EnvArg::FromHost(env_key(s)?)),
        }
    }
}

fn env_key(key: &str) -> Result<String, String> {
    if key.is_empty() {
        return Err(
            "the variable has no name: give KEY=VALUE (or KEY, to pass ocictl's own on)".into(),
        );
    }
    if key.starts_with('-') || key.contains(['\0', '\n']) || key.chars().any(char::is_whitespace) {
        return Err(format!("{key:?} is not a variable name"));
    }
    Ok(key.to_string())
}

impl EnvArg {
    /// `KEY=VALUE`, taking a `KEY`'s value from `lookup`; `None` when unset.
    pub fn resolve(self, lookup: impl Fn(&str) -> Option<String>) -> Option<(String, String)> {
        match self {
            EnvArg::Set(k, v) => Some((k, v)),
            EnvArg::FromHost(k) => lookup(&k).map(|v| (k, v)),
        }
    }
}

/// The variables of an `--env-file`'s text, as docker reads one: a
/// `KEY=VALUE` or `KEY` (ocictl's own value) a line, blank lines and
/// `#` comments ignored, leading blanks of a line dropped.
pub fn parse_env_file(text: &str) -> Result<Vec<EnvArg>, String> {
    let mut vars = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        vars.push(line.parse().map_err(|e| format!("line {}: {e}", n + 1))?);
    }
    Ok(vars)
}

/// `-v SRC:DST[:ro|rw]`: a bind mount of the host's SRC at DST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
}

impl FromStr for Volume {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let (source, destination, mode) = match parts.as_slice() {
            [src, dst] => (*src, *dst, None),
            [src, dst, mode] => (*src, *dst, Some(*mode)),
            _ => return Err("give SRC:DST or SRC:DST:ro (absolute paths)".into()),
        };
        let read_only = match mode {
            None | Some("rw") => false,
            Some("ro") => true,
            Some(other) => {
                return Err(format!(
                    "unknown mount mode {other:?}: give ro or rw (other docker options are not supported)"
                ))
            }
        };
        if !Path::new(source).is_absolute() {
            return Err(format!(
                "the source {source:?} is not an absolute path: ocictl binds host paths only \
                 (docker's named volumes are out of scope)"
            ));
        }
        if std::fs::metadata(source).is_err() {
            return Err(format!("the source {source} does not exist"));
        }
        Ok(Volume {
            source: source.into(),
            destination: mount_point(destination)?,
            read_only,
        })
    }
}

/// An absolute path inside the container.
fn container_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err(format!(
            "{path:?} is not an absolute path inside the container"
        ));
    }
    if path.contains('\0') {
        return Err("a path cannot hold a NUL byte".into());
    }
    Ok(path.to_string())
}

/// Where a mount goes: an absolute path other than `/` (as docker refuses).
fn mount_point(path: &str) -> Result<String, String> {
    let path = container_path(path)?;
    if path.trim_end_matches('/').is_empty() {
        return Err("cannot mount over the container's root `/`".into());
    }
    Ok(path)
}

/// `--tmpfs DST[:OPTIONS]`: a tmpfs at DST; OPTIONS (`size=64m,mode=1777`)
/// are added to docker's defaults `rw,noexec,nosuid,nodev`, and win over
/// them (`exec` drops `noexec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    pub destination: String,
    pub options: Vec<String>,
}

impl FromStr for Tmpfs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (destination, options) = match s.split_once(':') {
            Some((d, o)) => (d, o),
            None => (s, ""),
        };
        let options: Vec<String> = options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Tmpfs {
            destination: mount_point(destination)?,
            options,
        })
    }
}

impl Tmpfs {
    /// docker's defaults, less those the user's options reverse, then the
    /// user's.
    fn mount_options(&self) -> Vec<Value> {
        let opposite = |o: &str| -> &'static str {
            match o {
                "ro" => "rw",
                "rw" => "ro",
                "exec" => "noexec",
                "noexec" => "exec",
                "suid" => "nosuid",
                "nosuid" => "suid",
                "dev" => "nodev",
                "nodev" => "dev",
                _ => "",
            }
        };
        let defaults = ["rw", "noexec", "nosuid", "nodev"]
            .into_iter()
            .filter(|d| !self.options.iter().any(|o| o == d || opposite(o) == *d));
        defaults
            .map(str::to_string)
            .chain(self.options.iter().cloned())
            .map(Value::String)
            .collect()
    }
}

/// `-w DIR`: the process's working directory (absolute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workdir(pub String);

impl FromStr for Workdir {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        container_path(s).map(Workdir)
    }
}

/// `-u USER[:GROUP]`: numeric ids, or names looked up in the bundle's
/// rootfs /etc/passwd and /etc/group (inside it, bounded), as docker does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec(pub String);

impl FromStr for UserSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = |p: &str| !p.is_empty() && !p.contains(['\0', '\n', ':']);
        let valid = match s.split_once(':') {
            Some((u, g)) => ok(u) && ok(g),
            None => ok(s),
        };
        if !valid {
            return Err("give UID[:GID] or NAME[:GROUP]".into());
        }
        Ok(UserSpec(s.to_string()))
    }
}

/// `--hostname NAME` (RFC 1123: letters, digits, `-` and `.`, at most 64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostname(pub String);

impl FromStr for Hostname {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && !s.starts_with(['-', '.'])
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            return Err("a hostname is 1 to 64 letters, digits, '-' and '.'".into());
        }
        Ok(Hostname(s.to_string()))
    }
}

/// docker's smallest memory limit.
const MIN_MEMORY: i64 = 6 << 20;

/// `--memory SIZE` (`64M`, `1g`, bytes), at least 6M as in docker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    pub bytes: i64,
    text: String,
}

impl FromStr for Memory {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = crate::size::parse_size(s).map_err(|e| e.to_string())?;
        if bytes < MIN_MEMORY {
            return Err("the smallest memory limit is 6M (as in docker)".into());
        }
        Ok(Memory {
            bytes,
            text: s.trim().to_string(),
        })
    }
}

/// The CFS period `--cpus` sets (docker's).
pub const CPU_PERIOD: u64 = 100_000;

/// `--cpus N` (`1.5`): a CFS quota of N periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpus {
    pub quota: i64,
    text: String,
}

impl FromStr for Cpus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let n: f64 = s
            .trim()
            .parse()
            .map_err(|_| "give a number of CPUs, like 1.5".to_string())?;
        // The kernel's smallest quota is 1 ms of the 100 ms period.
        if !n.is_finite() || !(0.01..=100_000.0).contains(&n) {
            return Err("give a number of CPUs from 0.01 up".into());
        }
        Ok(Cpus {
            quota: (n * CPU_PERIOD as f64).round() as i64,
            text: s.trim().to_string(),
        })
    }
}

/// `--pids-limit N`: at most N processes; -1 for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidsLimit(pub i64);

impl FromStr for PidsLimit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().parse::<i64>() {
            Ok(n) if n > 0 || n == -1 => Ok(PidsLimit(n)),
            _ => Err("give a number of processes (1 or more), or -1 for no limit".into()),
        }
    }
}

/// The capabilities Linux knows (`capabilities(7)`), without `CAP_`.
const CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The capabilities Linux knows, without `CAP_` (for completion).
pub fn capability_names() -> impl Iterator<Item = &'static str> {
    CAPABILITIES.iter().copied()
}

/// `--net` values.
pub const NET_MODES: &[&str] = &["host", "none"];

/// `--cap-add`/`--cap-drop CAP`: `NET_ADMIN`, `net_admin` and
/// `CAP_NET_ADMIN` are the same; `ALL` is every capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cap {
    All,
    /// The `CAP_…` name config.json uses.
    Named(String),
}

impl FromStr for Cap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase();
        if upper == "ALL" {
            return Ok(Cap::All);
        }
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
        if CAPABILITIES.contains(&bare) {
            Ok(Cap::Named(format!("CAP_{bare}")))
        } else {
            Err("not a Linux capability (see capabilities(7)); give e.g. NET_ADMIN or ALL".into())
        }
    }
}

impl Cap {
    fn canonical(&self) -> String {
        match self {
            Cap::All => "ALL".into(),
            Cap::Named(n) => n.clone(),
        }
    }
}

/// `--net host|none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// The host's network: no network namespace.
    Host,
    /// A new, empty network namespace (only `lo`).
    None,
}

impl FromStr for Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "host" => Ok(Net::Host),
            "none" => Ok(Net::None),
            _ => Err("give host or none (ocictl sets up no networks)".into()),
        }
    }
}

/// Every override of one `run` or `create`, resolved (`-e KEY` taken from
/// ocictl's environment, `--env-file` read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `KEY=VALUE`, in order: a later one replaces an earlier one.
    pub env: Vec<(String, String)>,
    pub volumes: Vec<Volume>,
    pub tmpfs: Vec<Tmpfs>,
    pub workdir: Option<Workdir>,
    pub user: Option<UserSpec>,
    pub hostname: Option<Hostname>,
    pub memory: Option<Memory>,
    pub cpus: Option<Cpus>,
    pub pids_limit: Option<PidsLimit>,
    pub read_only: bool,
    pub cap_add: Vec<Cap>,
    pub cap_drop: Vec<Cap>,
    pub net: Option<Net>,
    /// Replaces `process.args` when not empty.
    pub command: Vec<String>,
}

impl Overrides {
    /// No override at all: the bundle is run as it is.
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }

    /// The canonical argv form, e.g. `["--env", "A=1", "--memory", "64M",
    /// "--", "sh", "-c", "x"]`: given to `run`/`create` again, it makes
    /// the same changes.
    pub fn argv(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |flag: &str, value: String| {
            out.push(flag.into());
            out.push(value);
        };
        for (k, v) in &self.env {
            push("--env", format!("{k}={v}"));
        }
        for v in &self.volumes {
            let mode = if v.read_only { ":ro" } else { "" };
            push(
                "--volume",
                format!("{}:{}{mode}", v.source.display(), v.destination),
            );
        }
        for t in &self.tmpfs {
            let opts = if t.options.is_empty() {
                String::new()
            } else {
                format!(":{}", t.options.join(","))
            };
            push("--tmpfs", format!("{}{opts}", t.destination));
        }
        if let Some(w) = &self.workdir {
            push("--workdir", w.0.clone());
        }
        if let Some(u) = &self.user {
            push("--user", u.0.clone());
        }
        if let Some(h) = &self.hostname {
            push("--hostname", h.0.clone());
        }
        if let Some(m) = &self.memory {
            push("--memory", m.text.clone());
        }
        if let Some(c) = &self.cpus {
            push("--cpus", c.text.clone());
        }
        if let Some(p) = &self.pids_limit {
            push("--pids-limit", p.0.to_string());
        }
        for c in &self.cap_add {
            push("--cap-add", c.canonical());
        }
        for c in &self.cap_drop {
            push("--cap-drop", c.canonical());
        }
        if let Some(n) = &self.net {
            let name = match n {
                Net::Host => "host",
                Net::None => "none",
            };
            push("--net", name.into());
        }
        if self.read_only {
            out.push("--read-only".into());
        }
        if !self.command.is_empty() {
            out.push("--".into());
            out.extend(self.command.iter().cloned());
        }
        out
    }

    /// Apply every override to `config` (a config.json whose `root.path`
    /// is absolute already: users and groups are looked up in it).
    pub fn apply(&self, config: &mut Value) -> Result<(), OverrideError> {
        if !config.is_object() {
            return Err(OverrideError::Config {
                flag: "config.json",
                value: String::new(),
                why: "is not a JSON object".into(),
            });
        }
        if !self.env.is_empty() {
            let env = array_at(config, &["process", "env"]);
            for (k, v) in &self.env {
                let prefix = format!("{k}=");
                let entry = Value::String(format!("{k}={v}"));
                match env
                    .iter_mut()
                    .find(|e| e.as_str().is_some_and(|s| s.starts_with(&prefix) || s == k))
                {
                    Some(old) => *old = entry,
                    None => env.push(entry),
                }
            }
        }
        for v in &self.volumes {
            let mode = if v.read_only { "ro" } else { "rw" };
            replace_mount(
                config,
                serde_json::json!({
                    "destination": v.destination,
                    "type": "bind",
                    "source": v.source,
                    "options": ["rbind", mode],
                }),
            );
        }
        for t in &self.tmpfs {
            replace_mount(
                config,
                serde_json::json!({
                    "destination": t.destination,
                    "type": "tmpfs",
                    "source": "tmpfs",
                    "options": t.mount_options(),
                }),
            );
        }
        if let Some(w) = &self.workdir {
            object_at(config, &["process"]).insert("cwd".into(), w.0.clone().into());
        }
        if let Some(u) = &self.user {
            self.apply_user(config, u)?;
        }
        if let Some(h) = &self.hostname {
            if !has_namespace(config, "uts") {
                return Err(OverrideError::Config {
                    flag: "--hostname",
                    value: h.0.clone(),
                    why: "the container needs its own UTS namespace to have a hostname, and \
                          config.json's linux.namespaces has none: add {\"type\": \"uts\"} there"
                        .into(),
                });
            }
            config["hostname"] = h.0.clone().into();
        }
        if let Some(m) = &self.memory {
            object_at(config, &["linux", "resources", "memory"])
                .insert("limit".into(), m.bytes.into());
        }
        if let Some(c) = &self.cpus {
            let cpu = object_at(config, &["linux", "resources", "cpu"]);
            cpu.insert("quota".into(), c.quota.into());
            cpu.insert("period".into(), CPU_PERIOD.into());
        }
        if let Some(p) = &self.pids_limit {
            object_at(config, &["linux", "resources", "pids"]).insert("limit".into(), p.0.into());
        }
        if self.read_only {
            object_at(config, &["root"]).insert("readonly".into(), true.into());
        }
        if !self.cap_add.is_empty() || !self.cap_drop.is_empty() {
            self.apply_caps(config);
        }
        match self.net {
            Some(Net::None) => {
                let namespaces = array_at(config, &["linux", "namespaces"]);
                namespaces.retain(|ns| !is_network(ns));
                namespaces.push(serde_json::json!({"type": "network"}));
            }
            Some(Net::Host) => {
                if let Some(namespaces) = config
                    .pointer_mut("/linux/namespaces")
                    .and_then(Value::as_array_mut)
                {
                    namespaces.retain(|ns| !is_network(ns));
                }
            }
            None => {}
        }
        if !self.command.is_empty() {
            object_at(config, &["process"]).insert("args".into(), self.command.clone().into());
        }
        Ok(())
    }

    fn apply_user(&self, config: &mut Value, spec: &UserSpec) -> Result<(), OverrideError> {
        let err = |why: String| OverrideError::Config {
            flag: "--user",
            value: spec.0.clone(),
            why,
        };
        // UID:GID needs no lookup (and no rootfs to look in).
        let numeric = spec
            .0
            .split_once(':')
            .and_then(|(u, g)| Some((u.parse::<u32>().ok()?, g.parse::<u32>().ok()?)));
        let user = match numeric {
            Some((uid, gid)) => crate::image::user::User {
                uid,
                gid,
                additional_gids: Vec::new(),
            },
            None => self.look_up_user(config, spec, err)?,
        };
        let process_user = object_at(config, &["process", "user"]);
        process_user.insert("uid".into(), user.uid.into());
        process_user.insert("gid".into(), user.gid.into());
        if user.additional_gids.is_empty() {
            process_user.remove("additionalGids");
        } else {
            process_user.insert("additionalGids".into(), user.additional_gids.into());
        }
        Ok(())
    }

    /// `spec` in the rootfs's /etc/passwd and /etc/group.
    fn look_up_user(
        &self,
        config: &Value,
        spec: &UserSpec,
        err: impl Fn(String) -> OverrideError,
    ) -> Result<crate::image::user::User, OverrideError> {
        let rootfs = config
            .pointer("/root/path")
            .and_then(Value::as_str)
            .map(PathBuf::from)
            .ok_or_else(|| err("config.json names no root.path to look users up in".into()))?;
        let fd = nix::fcntl::open(
            &rootfs,
            nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| err(format!("cannot open the rootfs {}: {e}", rootfs.display())))?;
        let rootfs = crate::image::rootfs::Rootfs::new(fd);
        crate::image::user::resolve(&rootfs, &spec.0).map_err(|e| match e {
            // (Its words are an image's: this is the bundle's rootfs.)
            crate::image::ImageError::User { why, .. } => {
                err(why.replace("the image's", "the rootfs's"))
            }
            other => err(other.to_string()),
        })
    }

    /// docker's order: with `--cap-drop ALL` only the added ones are left;
    /// otherwise the adds (`ALL`: every one), then the drops.
    fn apply_caps(&self, config: &mut Value) {
        let all = || CAPABILITIES.iter().map(|c| format!("CAP_{c}"));
        let named = |caps: &[Cap]| -> Vec<String> {
            caps.iter()
                .filter_map(|c| match c {
                    Cap::Named(n) => Some(n.clone()),
                    Cap::All => None,
                })
                .collect()
        };
        let add_all = self.cap_add.contains(&Cap::All);
        let drop_all = self.cap_drop.contains(&Cap::All);
        let adds: Vec<String> = if add_all {
            all().collect()
        } else {
            named(&self.cap_add)
        };
        let drops = named(&self.cap_drop);
        let caps = object_at(config, &["process", "capabilities"]);
        let mut sets = vec!["bounding", "effective", "permitted"];
        // Ambient and inheritable are edited only where config.json has them.
        sets.extend(
            ["inheritable", "ambient"]
                .into_iter()
                .filter(|s| caps.contains_key(*s)),
        );
        for set in sets {
            let old: Vec<String> = caps
                .get(set)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let mut new: Vec<String> = if drop_all { Vec::new() } else { old };
            for a in &adds {
                if !new.contains(a) {
                    new.push(a.clone());
                }
            }
            if !drop_all || add_all {
                new.retain(|c| !drops.contains(c));
            }
            caps.insert(set.into(), new.into());
        }
    }
}

/// The object at `path` in `config`, made (replacing a `null` or a value
/// of another type) where missing.
fn object_at<'a>(config: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut here = config;
    for key in path {
        if !here.is_object() {
            *here = Value::Object(Map::new());
        }
        here = here
            .as_object_mut()
            .expect("made an object above")
            .entry(*key)
            .or_insert(Value::Null);
    }
    if !here.is_object() {
        *here = Value::Object(Map::new());
    }
    here.as_object_mut().expect("made an object above")
}

/// The array at `path` in `config`, made where missing.
fn array_at<'a>(config: &'a mut Value, path: &[&str]) -> &'a mut Vec<Value> {
    let (last, parents) = path.split_last().expect("a non-empty path");
    let slot = object_at(config, parents)
        .entry(*last)
        .or_insert(Value::Null);
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut().expect("made an array above")
}

/// Add `mount`, replacing any mount at the same destination.
fn replace_mount(config: &mut Value, mount: Value) {
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    let destination = mount["destination"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mounts = array_at(config, &["mounts"]);
    mounts.retain(|m| {
        !m.get("destination")
            .and_then(Value::as_str)
            .is_some_and(|d| same(d, &destination))
    });
    mounts.push(mount);
}

fn is_network(namespace: &Value) -> bool {
    namespace.get("type").and_then(Value::as_str) == Some("network")
}

fn has_namespace(config: &Value, kind: &str) -> bool {
    config
        .pointer("/linux/namespaces")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|ns| ns.get("type").and_then(Value::as_str) == Some(kind))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Value {
        json!({
            "process": {"args": ["sh"], "env": ["PATH=/bin", "TERM=xterm"], "cwd": "/",
                        "user": {"uid": 0, "gid": 0, "additionalGids": [9]},
                        "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"],
                                         "effective": ["CAP_KILL"],
                                         "permitted": ["CAP_KILL"]}},
            "root": {"path": "/nonexistent-rootfs"},
            "mounts": [{"destination": "/tmp/", "type": "tmpfs", "source": "tmpfs"}],
            "linux": {"namespaces": [{"type": "uts"}, {"type": "network", "path": "/proc/1/ns/net"}]},
            "x-unknown": {"kept": true}
        })
    }

    fn applied(o: Overrides) -> Value {
        let mut v = config();
        o.apply(&mut v).unwrap();
        assert_eq!(v["x-unknown"], json!({"kept": true}));
        v
    }

    #[test]
    fn env_values_and_files() {
        assert_eq!("A=1=2".parse(), Ok(EnvArg::Set("A".into(), "1=2".into())));
        assert_eq!("A".parse(), Ok(EnvArg::FromHost("A".into())));
        assert!("=1".parse::<EnvArg>().is_err());
        assert!("A B=1".parse::<EnvArg>().is_err());
        // A replay of the canonical `--env K=V` would take it for a flag.
        assert!("--user=1000".parse::<EnvArg>().is_err());
        let from = |k: &str| (k == "SET").then(|| "v".to_string());
        assert_eq!(
            EnvArg::FromHost("SET".into()).resolve(from),
            Some(("SET".into(), "v".into()))
        );
        assert_eq!(EnvArg::FromHost("UNSET".into()).resolve(from), None);
        let file = parse_env_file("# c\n\n  A=1\nB\n").unwrap();
        assert_eq!(
            file,
            vec![
                EnvArg::Set("A".into(), "1".into()),
                EnvArg::FromHost("B".into())
            ]
        );
        assert!(parse_env_file("ok=1\n=bad\n")
            .unwrap_err()
            .starts_with("line 2"));
        let v = applied(Overrides {
            env: vec![("TERM".into(), "dumb".into()), ("NEW".into(), "1".into())],
            ..Default::default()
        });
        assert_eq!(
            v["process"]["env"],
            json!(["PATH=/bin", "TERM=dumb", "NEW=1"])
        );
    }

    #[test]
    fn volumes_and_tmpfs() {
        let v: Volume = "/tmp:/data:ro".parse().unwrap();
        assert_eq!((v.destination.as_str(), v.read_only), ("/data", true));
        assert!(!"/tmp:/data:rw".parse::<Volume>().unwrap().read_only);
        assert!("data:/data"
            .parse::<Volume>()
            .unwrap_err()
            .contains("named volumes"));
        assert!("/no/such/dir:/d"
            .parse::<Volume>()
            .unwrap_err()
            .contains("does not exist"));
        assert!("/tmp:d".parse::<Volume>().is_err());
        assert!("/tmp:/d:z".parse::<Volume>().is_err());
        assert!("/tmp".parse::<Volume>().is_err());
        let t: Tmpfs = "/tmp:size=64m,exec".parse().unwrap();
        assert_eq!(
            t.mount_options(),
            vec![
                json!("rw"),
                json!("nosuid"),
                json!("nodev"),
                json!("size=64m"),
                json!("exec")
            ]
        );
        assert!("tmp".parse::<Tmpfs>().is_err());
        assert!("/".parse::<Tmpfs>().is_err());
        assert!("/tmp://".parse::<Volume>().is_err());
        let out = applied(Overrides {
            volumes: vec![v],
            tmpfs: vec![t],
            ..Default::default()
        });
        assert_eq!(
            out["mounts"],
            json!([
                {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "ro"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                 "options": ["rw", "nosuid", "nodev", "size=64m", "exec"]}
            ]),
            "the tmpfs replaced the mount at /tmp/"
        );
    }

    #[test]
    fn process_fields() {
        assert!("rel".parse::<Workdir>().is_err());
        assert!(":1".parse::<UserSpec>().is_err());
        assert!("1:".parse::<UserSpec>().is_err());
        let v = applied(Overrides {
            workdir: Some("/srv".parse().unwrap()),
            user: Some("1000:1001".parse().unwrap()),
            command: vec!["echo".into(), "hi".into()],
            ..Default::default()
        });
        assert_eq!(v["process"]["cwd"], "/srv");
        assert_eq!(v["process"]["user"], json!({"uid": 1000, "gid": 1001}));
        assert_eq!(v["process"]["args"], json!(["echo", "hi"]));
    }

    #[test]
    fn user_names_are_looked_up_inside_the_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), "web:x:33:44::/:/bin/sh\n").unwrap();
        std::fs::write(dir.path().join("etc/group"), "www:x:44:\nlog:x:77:web\n").unwrap();
        let mut v = config();
        v["root"]["path"] = dir.path().to_str().unwrap().into();
        let user = |spec: &str, v: &mut Value| {
            Overrides {
                user: Some(spec.parse().unwrap()),
                ..Default::default()
            }
            .apply(v)
        };
        user("web", &mut v).unwrap();
        assert_eq!(
            v["process"]["user"],
            json!({"uid": 33, "gid": 44, "additionalGids": [77]})
        );
        user("web:log", &mut v).unwrap();
        assert_eq!(v["process"]["user"], json!({"uid": 33, "gid": 77}));
        let err = user("nobody", &mut v).unwrap_err();
        assert!(err.to_string().starts_with("--user nobody: "), "{err}");
    }

    #[test]
    fn hostname_needs_a_uts_namespace() {
        assert!("a b".parse::<Hostname>().is_err());
        assert!("-a".parse::<Hostname>().is_err());
        assert!("x".repeat(65).parse::<Hostname>().is_err());
        let o = Overrides {
            hostname: Some("box".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(applied(o.clone())["hostname"], "box");
        let mut v = config();
        v["linux"]["namespaces"] = json!([]);
        let err = o.apply(&mut v).unwrap_err();
        assert!(err.to_string().contains("UTS namespace"), "{err}");
    }

    #[test]
    fn limits() {
        assert_eq!("64M".parse::<Memory>().unwrap().bytes, 64 << 20);
        assert!("1M".parse::<Memory>().is_err());
        assert!("lots".parse::<Memory>().is_err());
        assert_eq!("1.5".parse::<Cpus>().unwrap().quota, 150_000);
        assert_eq!("0.01".parse::<Cpus>().unwrap().quota, 1_000);
        for bad in ["0", "-1", "x", "NaN", "inf"] {
            assert!(bad.parse::<Cpus>().is_err(), "{bad}");
        }
        assert_eq!("-1".parse::<PidsLimit>(), Ok(PidsLimit(-1)));
        assert!("0".parse::<PidsLimit>().is_err());
        let v = applied(Overrides {
            memory: Some("64M".parse().unwrap()),
            cpus: Some("2".parse().unwrap()),
            pids_limit: Some(PidsLimit(20)),
            read_only: true,
            ..Default::default()
        });
        assert_eq!(
            v["linux"]["resources"],
            json!({"memory": {"limit": 64 << 20}, "cpu": {"quota": 200000, "period": 100000},
                   "pids": {"limit": 20}})
        );
        assert_eq!(v["root"]["readonly"], true);
    }

    #[test]
    fn capabilities_are_added_then_dropped() {
        for same in ["NET_ADMIN", "net_admin", "CAP_NET_ADMIN", "cap_net_admin"] {
            assert_eq!(same.parse(), Ok(Cap::Named("CAP_NET_ADMIN".into())));
        }
        assert_eq!("all".parse(), Ok(Cap::All));
        assert!("FLY".parse::<Cap>().is_err());
        let caps = |add: &[&str], drop: &[&str]| {
            let v = applied(Overrides {
                cap_add: add.iter().map(|c| c.parse().unwrap()).collect(),
                cap_drop: drop.iter().map(|c| c.parse().unwrap()).collect(),
                ..Default::default()
            });
            assert!(v["process"]["capabilities"].get("ambient").is_none());
            v["process"]["capabilities"].clone()
        };
        let c = caps(&["NET_ADMIN"], &["KILL"]);
        assert_eq!(c["bounding"], json!(["CAP_CHOWN", "CAP_NET_ADMIN"]));
        assert_eq!(c["effective"], json!(["CAP_NET_ADMIN"]));
        let c = caps(&["CHOWN"], &["ALL"]);
        assert_eq!(c["bounding"], json!(["CAP_CHOWN"]));
        assert_eq!(c["permitted"], json!(["CAP_CHOWN"]));
        let c = caps(&["ALL"], &["SYS_ADMIN"]);
        let bounding = c["bounding"].as_array().unwrap();
        assert_eq!(bounding.len(), CAPABILITIES.len() - 1);
        assert!(!bounding.contains(&json!("CAP_SYS_ADMIN")));
    }

    #[test]
    fn network_host_or_none() {
        let ns = |net| {
            applied(Overrides {
                net: Some(net),
                ..Default::default()
            })["linux"]["namespaces"]
                .clone()
        };
        assert_eq!(ns(Net::Host), json!([{"type": "uts"}]));
        assert_eq!(ns(Net::None), json!([{"type": "uts"}, {"type": "network"}]));
        assert!("bridge".parse::<Net>().is_err());
    }

    #[test]
    fn the_canonical_argv_parses_back_to_the_same_overrides() {
        let o = Overrides {
            env: vec![("A".into(), "1".into())],
            volumes: vec!["/tmp:/d:ro".parse().unwrap()],
            tmpfs: vec!["/t:size=1m".parse().unwrap()],
            workdir: Some("/w".parse().unwrap()),
            user: Some("1:2".parse().unwrap()),
            hostname: Some("h".parse().unwrap()),
            memory: Some("64M".parse().unwrap()),
            cpus: Some("1.5".parse().unwrap()),
            pids_limit: Some(PidsLimit(9)),
            read_only: true,
            cap_add: vec!["net_admin".parse().unwrap()],
            cap_drop: vec!["all".parse().unwrap()],
            net: Some(Net::None),
            command: vec!["sh".into(), "-c".into(), "x".into()],
        };
        assert_eq!(
            o.argv(),
            [
                "--env",
                "A=1",
                "--volume",
                "/tmp:/d:ro",
                "--tmpfs",
                "/t:size=1m",
                "--workdir",
                "/w",
                "--user",
                "1:2",
                "--hostname",
                "h",
                "--memory",
                "64M",
                "--cpus",
                "1.5",
                "--pids-limit",
                "9",
                "--cap-add",
                "CAP_NET_ADMIN",
                "--cap-drop",
                "ALL",
                "--net",
                "none",
                "--read-only",
                "--",
                "sh",
                "-c",
                "x"
            ]
        );
        assert!(Overrides::default().argv().is_empty());
        assert!(Overrides::default().is_empty());
    }
}
