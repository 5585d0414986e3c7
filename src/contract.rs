//! The JSON contract: every value ocictl prints with `--format json`, as
//! typed structs, in one place. Commands build these and print them; the
//! JSON Schemas in `schemas/` are generated from them (`generate-assets`),
//! so the published contract cannot drift from what is printed.
//!
//! Rules every struct here keeps:
//! - an action's result starts with `"id"` and `"action"`;
//! - signals are names (`"SIGKILL"`); signal 0, which only checks that the
//!   process exists, is `"SIG0"`;
//! - an optional key is absent when it has no value, never null (the
//!   schemas say so: such a key is not required, and not nullable), except
//!   where a runtime lacks a section (`stats`' `cpuset`): null there, so every
//!   runtime's output has the same keys;
//! - keys come in the order of the struct's fields.

use std::path::PathBuf;

use ocictl::runtime::{Container, Event, Stats, Termination, TopResults, Version};
use ocictl::shim::state::ExitInfo;
use ocictl::signal::Signal;
use schemars::JsonSchema;
use serde::Serialize;

/// The name a signal has in JSON: `SIGKILL`, `SIGRTMIN+3`; `SIG0` for 0.
pub fn signal_name(signal: Signal) -> String {
    match signal.number() {
        0 => "SIG0".into(),
        _ => signal.name(),
    }
}

/// The name of signal number `n`, when it is a signal.
pub fn signal_name_of(n: i32) -> Option<String> {
    Signal::from_number(n).map(signal_name)
}

/// `{"id","action"}`: start, pause, resume, delete.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Acted {
    pub id: String,
    pub action: String,
}

impl Acted {
    pub fn new(id: impl ToString, action: &str) -> Acted {
        Acted {
            id: id.to_string(),
            action: action.to_string(),
        }
    }
}

/// How a foreground process ended: its exit code (128+N for signal N),
/// and the signal's name when a signal killed it.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Ended {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i32")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub signal: Option<String>,
}

impl Ended {
    pub fn of(status: Termination) -> Ended {
        Ended {
            exit_code: Some(status.shell_code()),
            signal: match status {
                Termination::Signaled(sig) => signal_name_of(sig),
                Termination::Exited(_) => None,
            },
        }
    }
}

/// `create`: the monitor's pid when a monitor keeps the container.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Created {
    pub id: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i32")]
    pub monitor_pid: Option<i32>,
    /// The run-time override flags applied to ocictl's private copy of
    /// config.json, in their canonical argv form (`["--env", "A=1",
    /// "--memory", "64M", "--", "sh"]`); absent without any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
}

/// `run`: detached (with its monitor's pid), or how the process ended.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Ran {
    pub id: String,
    pub action: String,
    pub detached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i32")]
    pub monitor_pid: Option<i32>,
    /// The run-time override flags applied to ocictl's private copy of
    /// config.json, in their canonical argv form (`["--env", "A=1",
    /// "--memory", "64M", "--", "sh"]`); absent without any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    #[serde(flatten)]
    pub ended: Ended,
}

/// `exec`: detached (with the process's pid when --pid-file gave it), or
/// how the process ended.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Executed {
    pub id: String,
    pub action: String,
    pub detached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i32")]
    pub pid: Option<i32>,
    #[serde(flatten)]
    pub ended: Ended,
}

/// `kill`: the signal sent, by name.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Killed {
    pub id: String,
    pub action: String,
    pub signal: String,
}

/// `stop`: one per container (JSON lines). `signal` is the signal sent
/// first (absent when the container had stopped already); `escalated`
/// says SIGKILL followed after the grace period. `exit` is how its init
/// ended, known only from this instance's monitor: otherwise its code,
/// signal and at are null and `unknown` says why; `exit_code` (128+N for
/// signal N) only when it is known.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StopResult {
    pub id: String,
    pub action: String,
    pub already_stopped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub signal: Option<String>,
    pub escalated: bool,
    pub exit: Exit,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i32")]
    pub exit_code: Option<i32>,
}

impl StopResult {
    pub fn of(stopped: &ocictl::stop::Stopped) -> StopResult {
        let exit_code = match &stopped.exit {
            ExitInfo::Known(r) => Some(r.termination().shell_code()),
            _ => None,
        };
        StopResult {
            id: stopped.id.to_string(),
            action: "stop".into(),
            already_stopped: stopped.already_stopped,
            signal: stopped.signal.map(signal_name),
            escalated: stopped.escalated,
            exit: Exit::of(&stopped.exit).unwrap_or_else(|| Exit::unknown(NO_MONITOR)),
            exit_code,
        }
    }
}

/// Why a container without ocictl's monitor has no known exit status.
pub const NO_MONITOR: &str =
    "it has no monitor (started with --no-monitor, with --pid-file, or by the runtime itself)";

/// `update`: the OCI `LinuxResources` document handed to the runtime.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Updated {
    pub id: String,
    pub action: String,
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub resources: oci_spec::runtime::LinuxResources,
}

/// `checkpoint`: where the image went and what it cost.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Checkpointed {
    pub id: String,
    pub action: String,
    pub image_path: PathBuf,
    /// Bytes on disk.
    pub bytes: u64,
    /// Seconds, to the millisecond.
    pub duration: f64,
    pub left_running: bool,
    pub pre_dump: bool,
    pub criu_version: String,
    /// Old images `--keep` removed.
    pub pruned: Vec<PathBuf>,
    /// Partial images a crashed run had left, dealt with first.
    pub recovered: Vec<ocictl::checkpoint::Recovery>,
    /// A signal that arrived during the dump (ocictl waited for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted_by: Option<String>,
}

/// `restore`: the image restored; detached, or how the process ended.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Restored {
    pub id: String,
    pub action: String,
    pub image_path: PathBuf,
    pub detached: bool,
    /// A detached restore's monitor (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i32")]
    pub monitor_pid: Option<i32>,
    /// Entries `--latest` passed over because they are not images.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<ocictl::checkpoint::Skipped>,
    #[serde(flatten)]
    pub ended: Ended,
}

/// How a monitored container ended: the `"exit"` of `state`, `list` and
/// `wait`. code, signal and at are null when the status will never be
/// known, and `unknown` says why (only then present).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Exit {
    pub code: Option<i32>,
    /// The name of the signal that killed it.
    pub signal: Option<String>,
    /// When the monitor reaped it (RFC 3339).
    pub at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub unknown: Option<String>,
}

impl Exit {
    /// An exit status that is not known, and why.
    pub fn unknown(reason: &str) -> Exit {
        Exit {
            code: None,
            signal: None,
            at: None,
            unknown: Some(reason.to_string()),
        }
    }

    /// The `"exit"` field, when there is one to give (runc's shape otherwise).
    pub fn of(info: &ExitInfo) -> Option<Exit> {
        match info {
            ExitInfo::Known(r) => Some(Exit {
                code: r.code,
                signal: r.signal.and_then(signal_name_of),
                at: Some(r.at.clone()),
                unknown: None,
            }),
            ExitInfo::Unknown(reason) => Some(Exit {
                code: None,
                signal: None,
                at: None,
                unknown: Some(reason.clone()),
            }),
            ExitInfo::NoMonitor | ExitInfo::Pending => None,
        }
    }
}

/// `state` (and each entry of `list`): runc's object, in runc's order, plus
/// `"exit"` once ocictl's monitor knows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct State<'a> {
    #[serde(flatten)]
    pub container: std::borrow::Cow<'a, Container>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Exit")]
    pub exit: Option<Exit>,
}

/// `list`: state objects, or with `-q` the IDs alone.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Listed<'a> {
    Containers(Vec<State<'a>>),
    Ids(Vec<String>),
}

/// `ps`: the container's host pids.
pub type Pids = Vec<i32>;

/// `top`: ps's header names and one row per process.
pub type Top = TopResults;

/// One entry of `stats`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContainerStats<'a> {
    pub id: String,
    pub stats: &'a Stats,
}

/// `stats`: one entry per container (one array per line with --watch).
pub type StatsSample<'a> = Vec<ContainerStats<'a>>;

/// `wait`: how the container ended and the status `wait` exits with.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Waited {
    pub id: String,
    pub exit: Exit,
    pub exit_code: i32,
}

/// `logs`: one chunk of the container's output (lossy UTF-8). From
/// ocictl's own log, one per record (a line, or a part of one), with when
/// the monitor read it and its stream; from a `--log-output` file, one for
/// everything (with -f, one per read), without either.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogChunk {
    pub id: String,
    pub output: String,
    /// When the monitor read this output (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub timestamp: Option<chrono::DateTime<chrono::Utc>>,
    /// The container's stream it came from (a terminal's is `stdout`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "LogStream")]
    pub stream: Option<LogStream>,
}

/// `logs`: a container's output stream.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// `console`: the socket served and the pty received.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Console {
    pub socket: PathBuf,
    pub mode: String,
    pub pty: String,
}

/// `version`: ocictl's and the runtime's.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Versions {
    pub ocictl: String,
    pub runtime: Version,
}

/// `spec`: the config.json written.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SpecWritten {
    pub config: PathBuf,
}

/// `bundle`: the bundle made and its container's command.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BundleMade {
    pub bundle: PathBuf,
    pub args: Vec<String>,
}

/// `bundle`'s output: a busybox bundle, or what `--image` unpacked.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Bundled {
    Busybox(BundleMade),
    Image(ocictl::image::Report),
}

/// One entry of `inspect`: ocictl's document of the container, plus its
/// `"exit"` when the monitor recorded it for this instance (the same object
/// as `state`'s).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Inspected {
    #[serde(flatten)]
    pub container: ocictl::inspect::Inspection,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Exit")]
    pub exit: Option<Exit>,
}

impl Inspected {
    pub fn of(container: ocictl::inspect::Inspection) -> Inspected {
        Inspected {
            exit: Exit::of(&container.exit),
            container,
        }
    }
}

/// `inspect`: always an array, one entry per container found (as `docker
/// inspect`), also for one ID.
pub type Inspection = Vec<Inspected>;

/// `generate systemd`: the unit's file name and its text.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GeneratedUnit {
    pub id: String,
    pub name: String,
    pub unit: String,
}

/// `features`: the runtime's own features document, as it wrote it.
pub type Features = serde_json::Map<String, serde_json::Value>;

/// Any failure, on stderr: the message, its causes, a next step when one is
/// known (absent otherwise) and the exit code. A command given several
/// containers (`stop`, `delete`, `kill`) prints one per container that
/// failed, with its `id` (absent otherwise).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Failure {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub id: Option<String>,
    pub error: String,
    pub causes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub hint: Option<String>,
    pub exit_code: i32,
}

/// A published schema: its file stem (`schemas/<name>.schema.json`), the
/// action it fixes `"action"` to, and how to generate it.
pub struct Published {
    pub name: &'static str,
    pub action: Option<&'static str>,
    pub schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
}

macro_rules! published {
    (@action) => { None };
    (@action $action:literal) => { Some($action) };
    ($($name:literal $(action $action:literal)? => $ty:ty),* $(,)?) => {
        /// Every command's output, and the error object.
        pub const PUBLISHED: &[Published] = &[$(Published {
            name: $name,
            action: published!(@action $($action)?),
            schema: |g| g.root_schema_for::<$ty>(),
        }),*];
    };
}

published! {
    "create" action "create" => Created,
    "start" action "start" => Acted,
    "run" action "run" => Ran,
    "exec" action "exec" => Executed,
    "kill" action "kill" => Killed,
    "pause" action "pause" => Acted,
    "resume" action "resume" => Acted,
    "delete" action "delete" => Acted,
    "stop" action "stop" => StopResult,
    "state" => State<'static>,
    "list" => Listed<'static>,
    "ps" => Pids,
    "top" => Top,
    "stats" => StatsSample<'static>,
    "events" => Event,
    "update" action "update" => Updated,
    "logs" => LogChunk,
    "wait" => Waited,
    "inspect" => Inspection,
    "generate-systemd" => GeneratedUnit,
    "console" => Console,
    "checkpoint" action "checkpoint" => Checkpointed,
    "restore" action "restore" => Restored,
    "version" => Versions,
    "features" => Features,
    "spec" => SpecWritten,
    "bundle" => Bundled,
    "error" => Failure,
}

/// The schema of one published output as a JSON document: what the struct
/// says, with `"action"` fixed to the command's own.
pub fn schema_json(published: &Published) -> serde_json::Value {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let schema = (published.schema)(&mut generator);
    let mut value = schema.to_value();
    if let Some(action) = published.action {
        value["properties"]["action"] = serde_json::json!({ "const": action });
    }
    value
}

/// The text written to `schemas/<name>.schema.json`.
pub fn schema_text(published: &Published) -> String {
    let mut text = serde_json::to_string_pretty(&schema_json(published)).expect("a JSON value");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_zero_has_a_name() {
        assert_eq!(signal_name("0".parse().unwrap()), "SIG0");
        assert_eq!(signal_name(Signal::KILL), "SIGKILL");
    }

    #[test]
    fn every_schema_is_an_object_schema_or_an_array_schema() {
        for p in PUBLISHED {
            let v = schema_json(p);
            assert!(
                v.get("type").is_some() || v.get("anyOf").is_some() || v.get("oneOf").is_some(),
                "{}: {v}",
                p.name
            );
        }
    }
}
