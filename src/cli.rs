//! The command line: global options (go-runc's `Runc` struct plus ocictl's
//! own) and the subcommands. Doc comments here are the `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser};

use crate::commands::Command;
use crate::output::Format;
use ocictl::runc::{LogFormat, Runc};
use ocictl::signal::Signal;

/// An operator's front end for runc-compatible OCI runtimes.
///
/// Every runc operation is a subcommand with runc's own flags, so
/// `alias runc=ocictl` keeps scripts working. ocictl adds human tables,
/// `--format json` on every command, terminals that just work (`-t`),
/// and checkpoints that are safe to run from cron.
#[derive(Debug, Parser)]
#[command(
    name = "ocictl",
    version,
    max_term_width = 100,
    disable_help_subcommand = true
)]
#[command(
    after_help = "Run `ocictl COMMAND --help` for a command's flags. Exit codes and the JSON contract are in the README and `man ocictl`."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after the subcommand's name.
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// The runtime binary: a name looked up on PATH, or a path.
    #[arg(
        long,
        global = true,
        env = "OCICTL_RUNTIME",
        default_value = "runc",
        value_name = "NAME|PATH"
    )]
    pub runtime: PathBuf,

    /// Root directory for the runtime's container state (runc's default:
    /// /run/runc). It must be a directory, or not exist yet.
    #[arg(long, global = true, env = "OCICTL_ROOT", value_name = "DIR", value_parser = parse_root_arg)]
    pub root: Option<PathBuf>,

    /// Pass --debug to the runtime and show the exact argv ocictl runs.
    #[arg(long, global = true)]
    pub debug: bool,

    /// The runtime's log file (runc's default: stderr).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// The runtime's log format.
    #[arg(long, global = true, value_enum, value_name = "text|json")]
    pub log_format: Option<LogFormatArg>,

    /// Let the runtime manage cgroups through systemd.
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,

    /// Rootless mode: true, false or auto (the runtime decides). A bare
    /// `--rootless` means true; after `spec` it is spec's own flag (write a
    /// rootless config.json).
    // One argument serves both: clap cannot have a global `--rootless VALUE`
    // and a subcommand's `--rootless` flag side by side.
    #[arg(
        long,
        global = true,
        value_enum,
        num_args = 0..=1,
        default_missing_value = "true",
        value_name = "true|false|auto"
    )]
    pub rootless: Option<Rootless>,

    /// Path of the criu binary for checkpoint and restore.
    #[arg(long, global = true, value_name = "PATH")]
    pub criu: Option<PathBuf>,

    /// Signal the runtime gets if ocictl dies first (e.g. KILL).
    #[arg(long, global = true, value_name = "SIGNAL")]
    pub pdeath_signal: Option<Signal>,

    /// Start the runtime in a process group of its own.
    #[arg(long, global = true)]
    pub setpgid: bool,

    /// Kill a runtime call that owes a prompt answer (state, list, kill,
    /// pause, …) after this long, so ocictl never hangs on a hung runtime.
    /// `run`, `create`, `exec`, `restore`, `checkpoint` and `events` are
    /// never timed out.
    #[arg(
        long,
        global = true,
        env = "OCICTL_TIMEOUT",
        default_value = DEFAULT_TIMEOUT,
        value_parser = parse_timeout_arg,
        allow_hyphen_values = true,
        value_name = "DURATION"
    )]
    pub timeout: Duration,

    /// Output format: table (for people) or json (one JSON value, for scripts).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "OCICTL_FORMAT",
        default_value = "table",
        value_name = "table|json"
    )]
    pub format: Format,
}

pub fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    ocictl::duration::parse_duration(s).map_err(|e| e.to_string())
}

/// How long a prompt runtime call may take unless --timeout says otherwise:
/// far longer than any healthy runtime needs for state, list or kill, short
/// enough that a cron job on a hung runtime (a stuck cgroup freezer, a dead
/// storage mount) fails instead of piling up.
pub const DEFAULT_TIMEOUT: &str = "60s";

/// A duration above zero: a zero timeout would kill every runtime call at once.
pub fn parse_timeout_arg(s: &str) -> Result<Duration, String> {
    match parse_duration_arg(s)? {
        d if d.is_zero() => Err(format!(
            "a timeout of {s:?} would kill the runtime before it answers: give a longer one, e.g. 10s (the default is {DEFAULT_TIMEOUT})"
        )),
        d => Ok(d),
    }
}

/// `--root` must be a directory, or a path the runtime can create one at.
/// (Whether it is writable is the runtime's to find out: `list` and `state`
/// work on a read-only root.)
pub fn parse_root_arg(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    match std::fs::metadata(&path) {
        Ok(meta) if !meta.is_dir() => Err(format!(
            "{s} is not a directory: --root names the directory that holds the runtime's container state (it is created if missing)"
        )),
        _ => Ok(path),
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Rootless {
    True,
    False,
    Auto,
}

impl GlobalOpts {
    /// The driver configured from these options.
    pub fn runc(&self) -> Runc {
        Runc {
            binary: self.runtime.clone(),
            root: self.root.clone(),
            debug: self.debug,
            log: self.log.clone(),
            log_format: self.log_format.map(|f| match f {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            }),
            systemd_cgroup: self.systemd_cgroup,
            rootless: match self.rootless {
                Some(Rootless::True) => Some(true),
                Some(Rootless::False) => Some(false),
                Some(Rootless::Auto) | None => None,
            },
            criu: self.criu.clone(),
            pdeath_signal: self.pdeath_signal,
            setpgid: self.setpgid,
            cwd: None,
            extra_args: Vec::new(),
            timeout: Some(self.timeout),
        }
    }
}
