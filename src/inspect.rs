//! The `inspect` use-case: one document about a container that an operator
//! reads instead of `state`, `ps`, the bundle's config.json and the
//! monitor's records — what the runtime says of it, its process, mounts and
//! resources from the *effective* config (the runtime's bundle: ocictl's
//! private copy when there is one), the monitor, the exit status when the
//! monitor recorded it for this very instance, and the overrides applied.
//!
//! Everything is read, nothing is written (a stale state directory of an
//! earlier container with the same ID is removed, as `state` does). A
//! missing or unreadable config.json leaves its sections out and says why
//! in `unavailable`: what is shown is always true.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use schemars::JsonSchema;
use serde::Serialize;

use crate::runtime::{Container, ContainerId, Runtime};
use crate::shim::state::{ExitInfo, Meta, Origin, StateDir};

/// How much to show.
#[derive(Debug, Clone, Copy, Default)]
pub struct InspectOpts {
    /// Environment values (and `--env` override values) shown, not only names.
    pub show_env: bool,
}

/// One container, as `inspect` shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Inspection {
    pub id: String,
    /// The runtime's status: created, running, paused or stopped.
    pub status: String,
    /// The init process's host pid (absent once it stopped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// When the runtime created it (RFC 3339).
    pub created: String,
    pub owner: String,
    /// The bundle the user gave.
    pub bundle: PathBuf,
    /// The bundle the runtime runs, when it is ocictl's private copy of
    /// the user's (`run -t`, override flags).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_bundle: Option<PathBuf>,
    pub rootfs: String,
    /// The effective config.json the sections below come from.
    pub config: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Whether the root filesystem is mounted read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only_rootfs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<Mount>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// ocictl's monitor, when the container has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Monitor>,
    /// The override flags `run`/`create` applied to the bundle's config, in
    /// argv form (`--env` values hidden unless `--show-env`).
    pub overrides: Vec<String>,
    /// What could not be learned, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
    /// What the monitor recorded of the end (rendered by the contract).
    #[serde(skip)]
    pub exit: ExitInfo,
}

/// The container's process, from the effective config.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Process {
    pub args: Vec<String>,
    /// Variable names, or `NAME=VALUE` with `--show-env`.
    pub env: Vec<String>,
    pub cwd: String,
    pub user: User,
    pub terminal: bool,
}

/// Who the process runs as.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// One mount of the effective config.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Mount {
    pub destination: PathBuf,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<PathBuf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// The limits of the effective config (absent: none set).
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Resources {
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<i64>,
    /// CPUs the quota allows per period (`cpu_quota / cpu_period`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Microseconds per period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    /// Microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
}

/// ocictl's monitor of the container.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Monitor {
    pub pid: i32,
    /// Whether it is running now.
    pub alive: bool,
    /// Where the container's output is kept (`ocictl logs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    /// Whether `ocictl attach` reaches its terminal now.
    pub attachable: bool,
}

/// What `inspect` reads about one container, gathered before assembling.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The runtime's state.
    pub container: Container,
    /// The monitor's records, when they are of this instance.
    pub meta: Option<Meta>,
    pub monitor_alive: bool,
    pub exit: ExitInfo,
    /// The user's bundle and overrides, when the runtime runs ocictl's copy.
    pub origin: Option<Origin>,
    /// The effective config.json, or why it could not be read.
    pub config: Result<Spec, String>,
    /// Why ocictl would not read the state directory (another user's, a link).
    pub untrusted: Option<String>,
}

/// Inspect `id`: the runtime's state (its error when the container does
/// not exist), then everything ocictl knows of it.
pub fn inspect(
    runtime: &Runtime,
    id: &ContainerId,
    opts: InspectOpts,
) -> crate::runtime::Result<Inspection> {
    let container = runtime.state(id)?;
    Ok(assemble(gather(runtime, id, container), opts))
}

/// Read the monitor's records (of this instance only) and the effective
/// config for `container`.
pub fn gather(runtime: &Runtime, id: &ContainerId, container: Container) -> Sources {
    let dir = StateDir::of(runtime, id);
    // `exit_info_for` drops a stale directory: read its records after.
    let exit = dir.exit_info_for(&container);
    let current = !matches!(exit, ExitInfo::NoMonitor);
    let meta = current.then(|| dir.meta()).flatten();
    // The copy is this instance's when the runtime runs it (a foreground
    // `run -t --keep` leaves one without a monitor).
    let origin = dir.user_bundle(&container).and_then(|_| dir.origin());
    let config = read_config(&Path::new(&container.bundle).join("config.json"));
    Sources {
        untrusted: dir.untrusted().map(ToString::to_string),
        monitor_alive: current && dir.monitor_alive(),
        container,
        meta,
        exit,
        origin,
        config,
    }
}

/// config.json read bounded and decoded as loosely as runc reads it.
fn read_config(path: &Path) -> Result<Spec, String> {
    let text = crate::input_file::read_input_file(path).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&text);
    let source = path.display().to_string();
    crate::runtime::decode_document::<Spec>(&text, &source, "an OCI runtime spec")
        .map(|decoded| decoded.value)
        .map_err(|e| e.to_string())
}

/// The document, from what was read.
pub fn assemble(sources: Sources, opts: InspectOpts) -> Inspection {
    let Sources {
        container,
        meta,
        monitor_alive,
        exit,
        origin,
        config,
        untrusted,
    } = sources;
    let runtime_bundle = PathBuf::from(&container.bundle);
    let config_path = runtime_bundle.join("config.json");
    let (bundle, runtime_bundle) = match &origin {
        Some(o) => (o.bundle.clone(), Some(runtime_bundle)),
        None => (runtime_bundle, None),
    };
    let mut unavailable = Vec::new();
    if let Some(why) = untrusted {
        unavailable.push(format!(
            "monitor and exit status: ocictl will not read its state directory: {why}"
        ));
    }
    let spec = match config {
        Ok(spec) => Some(spec),
        Err(why) => {
            unavailable.push(format!(
                "process, mounts and resources: cannot read the config: {why}"
            ));
            None
        }
    };
    let linux = spec.as_ref().and_then(|s| s.linux().as_ref());
    let monitor = meta.map(|m| Monitor {
        pid: m.monitor_pid,
        alive: monitor_alive,
        log: m.log,
        attachable: m.terminal && monitor_alive,
    });
    Inspection {
        id: container.id.clone(),
        status: container.status.to_string(),
        pid: (container.pid > 0).then_some(container.pid),
        created: crate::runtime::types::rfc3339_nano(&container.created),
        owner: container.owner.clone(),
        bundle,
        runtime_bundle,
        rootfs: container.rootfs.clone(),
        config: config_path,
        process: spec
            .as_ref()
            .and_then(|s| s.process().as_ref())
            .map(|p| process_of(p, opts)),
        hostname: spec.as_ref().and_then(|s| s.hostname().clone()),
        read_only_rootfs: spec
            .as_ref()
            .and_then(|s| s.root().as_ref())
            .map(|r| r.readonly().unwrap_or(false)),
        mounts: spec.as_ref().map(|s| {
            s.mounts()
                .iter()
                .flatten()
                .map(|m| Mount {
                    destination: m.destination().clone(),
                    kind: m.typ().clone(),
                    source: m.source().clone(),
                    options: m.options().clone().unwrap_or_default(),
                })
                .collect()
        }),
        resources: spec
            .as_ref()
            .map(|_| resources_of(linux.and_then(|l| l.resources().as_ref()))),
        monitor,
        overrides: origin
            .map(|o| shown_overrides(&o.overrides, opts.show_env))
            .unwrap_or_default(),
        unavailable,
        exit,
    }
}

fn process_of(p: &oci_spec::runtime::Process, opts: InspectOpts) -> Process {
    let user = p.user();
    Process {
        args: p.args().clone().unwrap_or_default(),
        env: p
            .env()
            .iter()
            .flatten()
            .map(|e| shown_env(e, opts.show_env))
            .collect(),
        cwd: p.cwd().display().to_string(),
        user: User {
            uid: user.uid(),
            gid: user.gid(),
            additional_gids: user.additional_gids().clone().unwrap_or_default(),
            username: user.username().clone().filter(|u| !u.is_empty()),
        },
        terminal: p.terminal().unwrap_or(false),
    }
}

fn resources_of(r: Option<&oci_spec::runtime::LinuxResources>) -> Resources {
    let Some(r) = r else {
        return Resources::default();
    };
    let cpu = r.cpu().as_ref();
    let cpu_quota = cpu.and_then(|c| c.quota()).filter(|q| *q > 0);
    let cpu_period = cpu.and_then(|c| c.period()).filter(|p| *p > 0);
    Resources {
        // -1 (or 0) is "no limit", as runc reads it.
        memory_limit: r
            .memory()
            .as_ref()
            .and_then(|m| m.limit())
            .filter(|l| *l > 0),
        cpus: match (cpu_quota, cpu_period) {
            (Some(q), Some(p)) => Some(q as f64 / p as f64),
            _ => None,
        },
        cpu_quota,
        cpu_period,
        cpu_shares: cpu.and_then(|c| c.shares()).filter(|s| *s > 0),
        pids_limit: r.pids().as_ref().map(|p| p.limit()).filter(|l| *l > 0),
    }
}

/// What a hidden value shows as.
pub const HIDDEN: &str = "<hidden>";

/// `NAME=VALUE` as shown: the name alone unless values are shown.
fn shown_env(entry: &str, show: bool) -> String {
    match entry.split_once('=') {
        Some((name, _)) if !show => name.to_string(),
        _ => entry.to_string(),
    }
}

/// The override flags as shown: the value of each `--env`/`-e` hidden
/// (`--env A=<hidden>`) unless `show`; the command after `--` as it is.
pub fn shown_overrides(overrides: &[String], show: bool) -> Vec<String> {
    let hide = |value: &str| match value.split_once('=') {
        Some((name, _)) if !show => format!("{name}={HIDDEN}"),
        _ => value.to_string(),
    };
    let mut shown = Vec::with_capacity(overrides.len());
    let mut words = overrides.iter();
    while let Some(word) = words.next() {
        if word == "--" {
            shown.push(word.clone());
            shown.extend(words.by_ref().cloned());
            break;
        }
        if word == "--env" || word == "-e" {
            shown.push(word.clone());
            if let Some(value) = words.next() {
                shown.push(hide(value));
            }
        } else if let Some(value) = word.strip_prefix("--env=") {
            shown.push(format!("--env={}", hide(value)));
        } else {
            shown.push(word.clone());
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shim::state::ExitRecord;

    fn container(bundle: &str, pid: i32, status: crate::runtime::Status) -> Container {
        Container {
            oci_version: "1.0.2-dev".into(),
            id: "web".into(),
            pid,
            status,
            bundle: bundle.into(),
            rootfs: format!("{bundle}/rootfs"),
            created: "2026-01-01T00:00:00.5Z".parse().unwrap(),
            annotations: Default::default(),
            owner: "root".into(),
        }
    }

    fn spec() -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "args": ["sh", "-c", "sleep 100"],
                "env": ["PATH=/bin", "SECRET=hunter2"],
                "cwd": "/srv",
                "user": {"uid": 1000, "gid": 100, "additionalGids": [10]},
                "terminal": false
            },
            "root": {"path": "rootfs", "readonly": true},
            "hostname": "box",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]}
            ],
            "linux": {"resources": {
                "memory": {"limit": 67108864},
                "cpu": {"quota": 50000, "period": 100000},
                "pids": {"limit": 20}
            }}
        }))
        .unwrap()
    }

    fn meta(terminal: bool) -> Meta {
        Meta {
            monitor_pid: 42,
            init_pid: 43,
            created_after: None,
            created_before: None,
            terminal,
            log: Some("/run/runc.ocictl/web/console.log".into()),
            log_in_state_dir: true,
            log_records: true,
        }
    }

    #[test]
    fn a_monitored_container_with_overrides() {
        let sources = Sources {
            container: container(
                "/run/runc.ocictl/web/bundle",
                43,
                crate::runtime::Status::Running,
            ),
            meta: Some(meta(true)),
            monitor_alive: true,
            exit: ExitInfo::Pending,
            origin: Some(Origin {
                bundle: "/srv/web".into(),
                terminal: true,
                overrides: ["--env", "A=1", "--memory", "64M", "--", "sh", "-c", "x=1"]
                    .map(String::from)
                    .to_vec(),
            }),
            config: Ok(spec()),
            untrusted: None,
        };
        let doc = assemble(sources.clone(), InspectOpts::default());
        assert_eq!(doc.bundle, Path::new("/srv/web"));
        assert_eq!(
            doc.runtime_bundle.as_deref(),
            Some(Path::new("/run/runc.ocictl/web/bundle"))
        );
        assert_eq!(
            doc.config,
            Path::new("/run/runc.ocictl/web/bundle/config.json")
        );
        assert_eq!(doc.pid, Some(43));
        let process = doc.process.as_ref().unwrap();
        assert_eq!(process.args, ["sh", "-c", "sleep 100"]);
        assert_eq!(process.env, ["PATH", "SECRET"]);
        assert_eq!(process.cwd, "/srv");
        assert_eq!(process.user.uid, 1000);
        assert_eq!(process.user.additional_gids, [10]);
        assert_eq!(doc.hostname.as_deref(), Some("box"));
        assert_eq!(doc.read_only_rootfs, Some(true));
        let mounts = doc.mounts.as_ref().unwrap();
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[1].options, ["rbind", "ro"]);
        assert_eq!(mounts[1].kind.as_deref(), Some("bind"));
        let r = doc.resources.as_ref().unwrap();
        assert_eq!(r.memory_limit, Some(64 << 20));
        assert_eq!(r.cpus, Some(0.5));
        assert_eq!(r.pids_limit, Some(20));
        assert_eq!(
            doc.monitor,
            Some(Monitor {
                pid: 42,
                alive: true,
                log: Some("/run/runc.ocictl/web/console.log".into()),
                attachable: true,
            })
        );
        assert_eq!(
            doc.overrides,
            [
                "--env",
                "A=<hidden>",
                "--memory",
                "64M",
                "--",
                "sh",
                "-c",
                "x=1"
            ]
        );
        assert!(doc.unavailable.is_empty());
        let shown = assemble(sources, InspectOpts { show_env: true });
        assert_eq!(shown.process.unwrap().env, ["PATH=/bin", "SECRET=hunter2"]);
        assert_eq!(shown.overrides[1], "A=1");
        let json = serde_json::to_string(&doc).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
    }

    #[test]
    fn a_stopped_one_unmonitored_and_without_a_config() {
        let stopped = Sources {
            container: container("/srv/web", 0, crate::runtime::Status::Stopped),
            meta: Some(meta(false)),
            monitor_alive: false,
            exit: ExitInfo::Known(ExitRecord {
                code: Some(3),
                signal: None,
                at: "2026-01-01T00:00:01Z".into(),
            }),
            origin: None,
            config: Err("cannot read /srv/web/config.json: gone".into()),
            untrusted: Some("it belongs to uid 1000".into()),
        };
        let doc = assemble(stopped, InspectOpts::default());
        assert_eq!(doc.pid, None);
        assert_eq!(doc.status, "stopped");
        assert_eq!(doc.bundle, Path::new("/srv/web"));
        assert_eq!(doc.runtime_bundle, None);
        assert!(doc.process.is_none() && doc.mounts.is_none() && doc.resources.is_none());
        assert_eq!(doc.unavailable.len(), 2);
        assert!(
            doc.unavailable[0].contains("uid 1000"),
            "{:?}",
            doc.unavailable
        );
        assert!(doc.unavailable[1].contains("gone"), "{:?}", doc.unavailable);
        let monitor = doc.monitor.unwrap();
        assert!(!monitor.alive && !monitor.attachable);
        assert!(matches!(doc.exit, ExitInfo::Known(ref r) if r.code == Some(3)));
        assert!(doc.overrides.is_empty());
    }

    #[test]
    fn no_limits_are_absent_not_invented() {
        let mut spec = spec();
        spec.set_linux(None);
        let doc = assemble(
            Sources {
                container: container("/b", 7, crate::runtime::Status::Running),
                meta: None,
                monitor_alive: false,
                exit: ExitInfo::NoMonitor,
                origin: None,
                config: Ok(spec),
                untrusted: None,
            },
            InspectOpts::default(),
        );
        assert_eq!(doc.resources, Some(Resources::default()));
        assert!(doc.monitor.is_none());
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["resources"], serde_json::json!({}));
        assert!(json.get("monitor").is_none() && json.get("exit").is_none());
    }

    #[test]
    fn override_values_are_hidden_in_every_spelling() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shown_overrides(
                &words(&[
                    "-e",
                    "K=v",
                    "--env=L=w",
                    "-v",
                    "/a:/b",
                    "--",
                    "--env",
                    "X=1"
                ]),
                false
            ),
            [
                "-e",
                "K=<hidden>",
                "--env=L=<hidden>",
                "-v",
                "/a:/b",
                "--",
                "--env",
                "X=1"
            ]
        );
        // A name alone (taken from ocictl's environment) has no value to hide.
        assert_eq!(
            shown_overrides(&words(&["--env", "K"]), false),
            ["--env", "K"]
        );
    }
}
