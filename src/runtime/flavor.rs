//! Which runtime ocictl is talking to, and every way the runtimes differ, in
//! ONE table. The driver's operations ask the [`Flavor`] for argv and
//! parsers; nothing else in the crate compares runtime names.
//!
//! Detection costs nothing in the common case: the binary's file name
//! (`runc`, `crun`, `youki`, or a symlink to one of them) decides. Only an
//! unknown name is asked `--version`, once per process, and only by the
//! operations where the answer matters ([`Runtime::flavor`]); the others use
//! the free guess ([`Runtime::flavor_hint`]) and parsers that accept every
//! runtime's shape.
//!
//! | difference                  | runc / other        | crun 1.8.1          | youki 0.7.0                                   |
//! |-----------------------------|---------------------|---------------------|-----------------------------------------------|
//! | `list`                      | `--format json`     | `--format json`     | table only (ignores --format and -q): parsed |
//! | list columns                | —                   | NAME … OWNER        | ID PID STATUS BUNDLE CREATED CREATOR          |
//! | status spelling             | lower case          | lower case          | capitalised in `list`                         |
//! | `state.owner`               | string              | string              | uid number → user name                        |
//! | `state.rootfs`              | absolute path       | absolute path       | absent → read from the bundle's config.json   |
//! | stopped container's pid     | 0                   | 0                   | kept → 0                                      |
//! | `events --stats`            | `{type,id,data}`    | no `events`         | bare snake_case stats object → `Stats`        |
//! | `events` stream             | JSON lines          | no `events`         | pretty-printed objects, one after another     |
//! | `events --interval`         | Go duration `5s`    | —                   | whole seconds `5` (sub-second refused)        |
//! | CPU user/kernel time        | ns                  | —                   | clock ticks (cgroup v1), µs (v2) → ns         |
//! | errors                      | logrus / JSON log   | plain line          | `Error: msg` + `Caused by:` chain, backtraces |
//! | child environment           | unchanged           | unchanged           | `RUST_BACKTRACE=0`                            |
//! | `checkpoint` / `restore`    | yes                 | not in this build   | no (`checkpointt`, no restore)                |
//! | `features`                  | yes                 | no                  | yes                                           |
//! | global `--criu`             | yes                 | no                  | no                                            |
//! | global `--rootless`         | yes                 | yes                 | no                                            |

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::argv::Args;
use super::error::{Argv, Error, ErrorKind, Result, Termination};
use super::stats::Stats;
use super::types::{Container, Status, Version};
use super::Runtime;

/// A runtime family ocictl knows the differences of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    Runc,
    Crun,
    Youki,
    /// Any other runtime: assumed to speak runc's dialect.
    Other,
}

/// Something a runtime may lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Checkpoint,
    Restore,
    /// `events` (also behind `events --stats`, `stats`).
    Events,
    Features,
    /// The global `--criu PATH` flag.
    CriuFlag,
    /// The global `--rootless` flag.
    RootlessFlag,
}

impl Feature {
    /// How the feature is named in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Feature::Checkpoint => "the `checkpoint` command",
            Feature::Restore => "the `restore` command",
            Feature::Events => "the `events` command (events, events --stats and stats need it)",
            Feature::Features => "the `features` command",
            Feature::CriuFlag => "the global --criu flag",
            Feature::RootlessFlag => "the global --rootless flag",
        }
    }
}

/// How `events` frames its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One JSON event per line (runc).
    Lines,
    /// Pretty-printed bare stats objects, one after another (youki).
    Objects,
}

impl Flavor {
    /// The runtime's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Runc => "runc",
            Flavor::Crun => "crun",
            Flavor::Youki => "youki",
            Flavor::Other => "the runtime",
        }
    }

    /// From a runtime's own name (`runc`, `crun`, `youki`; `runc.amd64`,
    /// `youki-0.7` count too).
    pub fn from_name(name: &str) -> Flavor {
        let stem = name.split(['.', '-', '_']).next().unwrap_or(name);
        match stem {
            "runc" => Flavor::Runc,
            "crun" => Flavor::Crun,
            "youki" => Flavor::Youki,
            _ => Flavor::Other,
        }
    }

    /// From the binary's file name, following one level of symlink when the
    /// name says nothing. No process is started.
    pub fn from_binary(binary: &Path) -> Flavor {
        let by_name = |p: &Path| {
            p.file_name()
                .map(|n| Flavor::from_name(&n.to_string_lossy()))
                .unwrap_or(Flavor::Other)
        };
        match by_name(binary) {
            Flavor::Other if binary.components().count() > 1 => std::fs::read_link(binary)
                .map(|target| by_name(&target))
                .unwrap_or(Flavor::Other),
            known => known,
        }
    }

    /// From `--version`'s first line.
    pub fn from_version(v: &Version) -> Flavor {
        Flavor::from_name(&v.runtime.to_ascii_lowercase())
    }

    /// Whether the runtime has `feature`.
    pub fn supports(self, feature: Feature) -> bool {
        use Feature::*;
        match self {
            Flavor::Runc | Flavor::Other => true,
            Flavor::Crun => !matches!(feature, Checkpoint | Restore | Events | Features | CriuFlag),
            Flavor::Youki => !matches!(feature, Checkpoint | Restore | CriuFlag | RootlessFlag),
        }
    }

    /// What to do instead, for the message.
    fn instead(self, feature: Feature) -> &'static str {
        match (self, feature) {
            (_, Feature::Checkpoint | Feature::Restore | Feature::CriuFlag) => {
                "runc checkpoints and restores containers"
            }
            (_, Feature::Events) => "use runc for resource statistics",
            (_, Feature::RootlessFlag) => "leave --rootless out: the runtime decides by itself",
            (_, Feature::Features) => "see the runtime's own documentation",
        }
    }

    /// The error for a missing `feature`.
    pub fn unsupported(self, feature: Feature) -> Error {
        Error::Unsupported {
            runtime: self.name().to_string(),
            feature: feature.describe().to_string(),
            hint: self.instead(feature).to_string(),
        }
    }

    /// `list`'s argv.
    pub fn list_args(self) -> Args {
        let mut args = Args::subcommand("list");
        if self != Flavor::Youki {
            args.value("format", Some("json"));
        }
        args
    }

    /// `list`'s output: runc's JSON array (or `null`), or — from a runtime
    /// that ignores `--format json` — its table. Sorted by ID, as runc does.
    pub fn parse_list(self, out: &[u8]) -> std::result::Result<Vec<Container>, String> {
        let text = String::from_utf8_lossy(out);
        let trimmed = text.trim_start();
        // Empty output is runc's JSON gone wrong, not an empty table (youki
        // always prints the header).
        let mut list = if trimmed.is_empty()
            || trimmed.starts_with('[')
            || trimmed.starts_with('{')
            || trimmed.starts_with("null")
        {
            Container::parse_list(out).map_err(|e| e.to_string())?
        } else {
            super::youki::parse_list_table(&text)?
        };
        if self != Flavor::Runc {
            for c in &mut list {
                self.normalise(c);
            }
            list.sort_by(|a, b| a.id.cmp(&b.id));
        }
        Ok(list)
    }

    /// Whether a listed container's state must be read for the list to have
    /// what `state` has (youki's table lacks rootfs, annotations and
    /// sub-second creation times).
    pub fn list_needs_state(self) -> bool {
        self == Flavor::Youki
    }

    /// `state`'s output, normalised to runc's shape.
    pub fn parse_state(self, out: &[u8]) -> serde_json::Result<Container> {
        let mut c = Container::parse_state(out)?;
        if self != Flavor::Runc {
            self.normalise(&mut c);
        }
        Ok(c)
    }

    /// runc's conventions for what some runtimes leave out or keep: a
    /// stopped container has pid 0; rootfs is the absolute path of the
    /// bundle's root.
    fn normalise(self, c: &mut Container) {
        if c.status == Status::Stopped {
            c.pid = 0;
        }
        if c.rootfs.is_empty() && !c.bundle.is_empty() {
            if let Some(rootfs) = rootfs_of(Path::new(&c.bundle)) {
                c.rootfs = rootfs.to_string_lossy().into_owned();
            }
        }
    }

    /// `events --stats` output into the typed model: runc's envelope, or a
    /// bare stats object in youki's names.
    pub fn parse_stats(self, out: &[u8]) -> std::result::Result<Stats, String> {
        super::youki::parse_any_stats(out)
    }

    /// How `events` frames its stream.
    pub fn framing(self) -> Framing {
        match self {
            Flavor::Youki => Framing::Objects,
            _ => Framing::Lines,
        }
    }

    /// `events --interval`'s value.
    pub fn interval_arg(self, d: Duration) -> Result<String> {
        match self {
            Flavor::Youki => {
                if d.subsec_nanos() != 0 || d.as_secs() == 0 {
                    return Err(Error::Invalid(format!(
                        "youki's events --interval takes whole seconds: {} is not (use e.g. {}s)",
                        crate::duration::format_go_duration(d),
                        d.as_secs().max(1)
                    )));
                }
                Ok(d.as_secs().to_string())
            }
            _ => Ok(crate::duration::format_go_duration(d)),
        }
    }

    /// Environment the runtime child gets on top of ocictl's.
    pub fn child_env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            // A Rust runtime prints stack backtraces into its error
            // messages when RUST_BACKTRACE is set.
            Flavor::Youki | Flavor::Other => &[("RUST_BACKTRACE", "0")],
            Flavor::Runc | Flavor::Crun => &[],
        }
    }

    /// What a failure means, from the runtime's message and everything it
    /// wrote (youki puts the state in its log lines, not in the message).
    /// Checked against every runtime's fixtures (tests/fixtures/*/*.stderr).
    pub fn classify(self, message: &str, text: &str) -> ErrorKind {
        let m = message.to_ascii_lowercase();
        let all = text.to_ascii_lowercase();
        let has = |s: &str| m.contains(s) || all.contains(s);
        match self {
            Flavor::Youki => {
                if has("does not exist") {
                    ErrorKind::NotFound
                } else if has("already exists") {
                    ErrorKind::AlreadyExists
                } else if has("delete requires the container state to be stopped") {
                    ErrorKind::NotStopped
                } else if has("cannot resume container status=running") {
                    ErrorKind::NotPaused
                } else if has("cannot start container due to incorrect state status=running") {
                    ErrorKind::AlreadyRunning
                } else if has("cannot start container due to incorrect state status=stopped") {
                    ErrorKind::HasStopped
                } else if has("status=stopped") || has("is not running") {
                    ErrorKind::NotRunning
                } else if has("read-only file system") {
                    ErrorKind::ReadOnlyRoot
                } else {
                    ErrorKind::Other
                }
            }
            // runc's wording (libcontainer's errors); crun's where it
            // differs; another runtime in runc's dialect.
            Flavor::Runc | Flavor::Crun | Flavor::Other => {
                if m.contains("container does not exist")
                    || (m.contains("error opening file")
                        && m.ends_with("/status`: no such file or directory"))
                {
                    ErrorKind::NotFound
                } else if m.contains("container with id exists") || m.contains("already exists") {
                    ErrorKind::AlreadyExists
                } else if m.contains("that is not stopped") || m.contains("is not stopped") {
                    ErrorKind::NotStopped
                } else if m.contains("not paused") {
                    ErrorKind::NotPaused
                } else if m.contains("already running") {
                    ErrorKind::AlreadyRunning
                } else if m.contains("that has stopped") {
                    ErrorKind::HasStopped
                } else if m.contains("in the paused state") {
                    ErrorKind::IsPaused
                } else if m.contains("not running") {
                    ErrorKind::NotRunning
                } else if m.contains("read-only file system") {
                    ErrorKind::ReadOnlyRoot
                } else if m.starts_with("stat ") && m.ends_with("no such file or directory") {
                    ErrorKind::Vanished
                } else {
                    ErrorKind::Other
                }
            }
        }
    }

    /// The error for a runtime that ran and failed: its message out of
    /// `text` (stderr or log), classified.
    pub fn failure(self, argv: Argv, status: Termination, text: &str, stderr: String) -> Error {
        let message = self.error_message(text);
        let kind = self.classify(&message, text);
        Error::Failed {
            argv,
            status,
            kind,
            message,
            stderr,
        }
    }

    /// Whether a foreground process gets pipes of the runtime's own, which
    /// it copies to and from its stdio (runc's `setupProcessPipes`): then
    /// the runtime's stderr is not the process's, and ocictl may read it.
    pub fn pipes_foreground_stdio(self) -> bool {
        matches!(self, Flavor::Runc)
    }

    /// The runtime's own error message out of what it wrote (stderr or log).
    pub fn error_message(self, text: &str) -> String {
        match self {
            Flavor::Runc | Flavor::Crun => super::log::error_message(text),
            Flavor::Youki | Flavor::Other => {
                super::youki::error_message(text).unwrap_or_else(|| {
                    super::youki::strip_prefix(&super::log::error_message(text)).to_string()
                })
            }
        }
    }
}

/// The bundle's rootfs as runc reports it: `root.path` of config.json,
/// relative to the bundle.
fn rootfs_of(bundle: &Path) -> Option<PathBuf> {
    let config = crate::input_file::read_input_file(&bundle.join("config.json")).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&config).ok()?;
    let path = Path::new(value.get("root")?.get("path")?.as_str()?);
    Some(if path.is_absolute() {
        path.to_path_buf()
    } else {
        bundle.join(path)
    })
}

/// The flavor learnt from `--version`, for the one runtime binary a
/// process talks to.
static DETECTED: std::sync::OnceLock<(PathBuf, Flavor)> = std::sync::OnceLock::new();

impl Runtime {
    /// The flavor from the binary's name alone: free, and right for every
    /// runtime installed under its own name. `Other` when the name is unknown.
    pub fn flavor_hint(&self) -> Flavor {
        Flavor::from_binary(&self.binary)
    }

    /// The flavor for certain: the name when it is known, else the
    /// runtime's `--version` (asked once per binary per process). A runtime
    /// whose version cannot be read is `Other` (runc's dialect).
    pub fn flavor(&self) -> Flavor {
        let hint = self.flavor_hint();
        if hint != Flavor::Other {
            return hint;
        }
        if let Some((binary, flavor)) = DETECTED.get() {
            if *binary == self.binary {
                return *flavor;
            }
        }
        let detected = self
            .version()
            .map(|v| Flavor::from_version(&v))
            .unwrap_or(Flavor::Other);
        tracing::debug!(binary = %self.binary.display(), ?detected, "runtime detected from --version");
        let _ = DETECTED.set((self.binary.clone(), detected));
        detected
    }

    /// Fail, before anything runs, when the runtime lacks `feature`.
    pub fn require(&self, feature: Feature) -> Result<()> {
        let flavor = self.flavor();
        if flavor.supports(feature) {
            Ok(())
        } else {
            Err(flavor.unsupported(feature))
        }
    }

    /// Check the global flags this driver would pass, by the binary's name
    /// only (free; an unknown runtime is trusted with runc's flags).
    pub(crate) fn check_global_flags(&self) -> Result<()> {
        let flavor = self.flavor_hint();
        for (set, feature) in [
            (self.criu.is_some(), Feature::CriuFlag),
            (self.rootless.is_some(), Feature::RootlessFlag),
        ] {
            if set && !flavor.supports(feature) {
                return Err(flavor.unsupported(feature));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decide_without_running_anything() {
        assert_eq!(Flavor::from_binary(Path::new("runc")), Flavor::Runc);
        assert_eq!(
            Flavor::from_binary(Path::new("/usr/local/bin/youki")),
            Flavor::Youki
        );
        assert_eq!(
            Flavor::from_binary(Path::new("/usr/bin/crun")),
            Flavor::Crun
        );
        assert_eq!(Flavor::from_binary(Path::new("runc.amd64")), Flavor::Runc);
        assert_eq!(Flavor::from_binary(Path::new("fake-runc")), Flavor::Other);
    }

    #[test]
    fn one_symlink_level_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("oci-runtime");
        std::os::unix::fs::symlink("/usr/local/bin/youki", &link).unwrap();
        assert_eq!(Flavor::from_binary(&link), Flavor::Youki);
    }

    #[test]
    fn youki_intervals_are_whole_seconds() {
        let y = Flavor::Youki;
        assert_eq!(y.interval_arg(Duration::from_secs(5)).unwrap(), "5");
        let err = y
            .interval_arg(Duration::from_millis(500))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("youki") && err.contains("whole seconds"),
            "{err}"
        );
        assert!(y.interval_arg(Duration::from_millis(1500)).is_err());
        assert_eq!(
            Flavor::Runc
                .interval_arg(Duration::from_millis(500))
                .unwrap(),
            "500ms"
        );
    }

    #[test]
    fn unsupported_names_runtime_and_feature() {
        assert!(!Flavor::Youki.supports(Feature::Checkpoint));
        assert!(!Flavor::Crun.supports(Feature::Events));
        assert!(Flavor::Runc.supports(Feature::Checkpoint));
        let msg = Flavor::Youki.unsupported(Feature::Checkpoint).to_string();
        assert!(msg.contains("youki") && msg.contains("checkpoint"), "{msg}");
    }
}
