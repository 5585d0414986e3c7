//! The command line: global options (go-runc's `Runtime` struct plus ocictl's
//! own) and the subcommands. Doc comments here are the `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, FromArgMatches, Parser};

use crate::commands::Command;
use crate::output::Format;
use ocictl::runtime::{LogFormat, Runtime};
use ocictl::signal::Signal;

/// The whole command line, as help, completions and man pages show it.
#[derive(Debug, Parser)]
#[command(
    name = "ocictl",
    version,
    max_term_width = 100,
    about = ROOT_ABOUT,
    long_about = ROOT_LONG_ABOUT,
    after_help = ROOT_AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,

    #[command(subcommand)]
    pub command: Command,
}

/// A parsed command line: the typed value, plus the two facts about it
/// that the typed value cannot tell.
#[derive(Debug)]
pub struct Parsed {
    pub cli: Cli,
    /// The subcommand's own name (`list` for `ls`).
    pub subcommand: String,
    /// Which of the options that the environment can also give were on the
    /// command line.
    pub given: Given,
}

/// The global options that were given on the command line (not defaulted):
/// those OCICTL_* can set, which the environment must not override, and
/// `--format`, whose being chosen changes what `events` prints.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Given {
    pub runtime: bool,
    pub root: bool,
    pub timeout: bool,
    pub monitor: bool,
    pub format: bool,
}

impl Cli {
    /// Parse the process's arguments, then take the environment's values
    /// for the options the command line did not give.
    ///
    /// The common shape of a hot command (`state ID`, `kill ID 9`, `list`,
    /// `-v`, with runc callers' global flags) is parsed by hand
    /// ([`crate::hand_parser`]); anything else, and anything the hand parser
    /// is not sure of, by clap ([`parse_with_clap`]). A property test checks
    /// that whenever the hand parser answers, clap gives the same value.
    pub fn parse() -> Result<Parsed, clap::Error> {
        let args = bare_rootless_means_true(std::env::args_os().collect());
        let mut parsed = match crate::hand_parser::parse(&args) {
            Some(parsed) => parsed,
            None => parse_with_clap(args)?,
        };
        parsed.cli.global.apply_environment(&parsed.given)?;
        Ok(parsed)
    }
}

/// Parse `args` (after [`bare_rootless_means_true`]) with clap, which is
/// the authority: help, errors and every spelling the hand parser leaves.
///
/// Parsing uses a command line whose subcommands are built only when
/// used (clap's `defer`): a call pays for the definitions of its own
/// subcommand, not all 28. `Cli::command()` (help, completions, man pages)
/// builds everything; a test checks that both describe the same command
/// line.
///
/// runc's spellings (`-pid-file`, `-v`) are rewritten first
/// ([`crate::long_flags`]), from the root's flags and those of the one
/// subcommand named, which is then parsed already built.
pub fn parse_with_clap(args: Vec<std::ffi::OsString>) -> Result<Parsed, clap::Error> {
    let root = GlobalOpts::augment_args(clap::Command::new("ocictl"));
    let (args, built) = runc_spellings(args, &root);
    // With the subcommand known, parse with it alone: clap copies every
    // global option into every subcommand it holds, deferred or not.
    let built = built.or_else(|| {
        let index = subcommand_named(&args, &root)?;
        let sub = &crate::commands::SUBCOMMANDS[index];
        Some((index, (sub.build)(clap::Command::new(sub.name))))
    });
    let only_built = built.is_some();
    let matches = match parsing_command_with(root, built, only_built).try_get_matches_from(&args) {
        Ok(matches) => matches,
        // Help and usage errors list the subcommands with their
        // summaries, which only the full definition has: parse again
        // with it (a rare path, so its cost does not matter). A word
        // taken for the subcommand that was not one ends here too.
        Err(_) => full_command().try_get_matches_from(&args)?,
    };
    let cli = Cli::from_arg_matches(&matches)?;
    let on_command_line =
        |id: &str| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    let given = Given {
        runtime: on_command_line("runtime"),
        root: on_command_line("root"),
        timeout: on_command_line("timeout"),
        monitor: on_command_line("monitor"),
        format: on_command_line("format"),
    };
    Ok(Parsed {
        cli,
        subcommand: matches.subcommand_name().unwrap_or_default().to_string(),
        given,
    })
}

/// `args` with runc's spellings rewritten (`root` has the global flags),
/// and the subcommand it names, built (its flags were needed for that).
fn runc_spellings(
    args: Vec<std::ffi::OsString>,
    root: &clap::Command,
) -> (Vec<std::ffi::OsString>, Option<(usize, clap::Command)>) {
    use crate::long_flags::{needs_rewrite, rewrite, FlagSet};
    // Most calls (`state ID`, `kill ID 9`, `list`) have nothing to rewrite:
    // skip the flag tables then (clap builds the subcommand itself).
    if !needs_rewrite(&args) {
        return (args, None);
    }
    let mut globals = FlagSet::default();
    globals.add(root);
    let mut built = None;
    let rewritten = rewrite(args, &globals, |word| {
        let index = crate::commands::SUBCOMMANDS
            .iter()
            .position(|s| s.name == word || s.aliases.contains(&word))?;
        let cmd = (crate::commands::SUBCOMMANDS[index].build)(clap::Command::new(
            crate::commands::SUBCOMMANDS[index].name,
        ));
        let mut flags = FlagSet::default();
        flags.add(&cmd);
        built = Some((index, cmd));
        Some(flags)
    });
    (rewritten.args, built)
}

/// The subcommand `args` name, found the way clap finds it: the first word
/// that is not a global flag or its value. `None` (parse with all of them)
/// for anything unusual: a short flag or `--` first, an unknown word.
fn subcommand_named(args: &[std::ffi::OsString], root: &clap::Command) -> Option<usize> {
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        let Some(long) = word.strip_prefix("--") else {
            if word.starts_with('-') {
                return None;
            }
            return crate::commands::SUBCOMMANDS
                .iter()
                .position(|s| s.name == word || s.aliases.contains(&word));
        };
        if long.is_empty() {
            return None;
        }
        if long.contains('=') {
            continue;
        }
        let arg = root.get_arguments().find(|a| {
            a.get_long() == Some(long) || a.get_all_aliases().is_some_and(|all| all.contains(&long))
        })?;
        let needs_value = arg.get_action().takes_values()
            && arg.get_num_args().is_none_or(|n| n.min_values() > 0);
        if needs_value {
            words.next();
        }
    }
    None
}

/// The whole command line with the help that teaches (examples, notes):
/// for rendering help and man pages, never on the parsing path.
pub fn full_command() -> clap::Command {
    crate::help::teach(<Cli as clap::CommandFactory>::command())
}

/// `--rootless` takes an optional value (runc spells it `--rootless
/// false`), so clap would take the next word for it: `ocictl --rootless
/// list` means `--rootless=true list`. Only words before the subcommand's
/// first operand are looked at, so a container's own argv is never touched.
pub fn bare_rootless_means_true(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut words_seen = 0;
    let mut i = 1;
    while i < args.len() {
        let word = args[i].to_string_lossy();
        if word == "--" {
            break;
        }
        if word == "--rootless" {
            let next = args.get(i + 1).map(|a| a.to_string_lossy().into_owned());
            if next.is_some_and(|n| {
                !n.starts_with('-') && !["true", "false", "auto"].contains(&n.as_str())
            }) {
                args[i] = "--rootless=true".into();
            }
        } else if !word.starts_with('-') {
            // The subcommand's name (or a global flag's value), then its
            // first operand: stop there.
            words_seen += 1;
            if words_seen == 2 {
                break;
            }
        }
        i += 1;
    }
    args
}

/// The command line with deferred subcommands (see [`Cli::parse_with_matches`]).
#[cfg(test)]
pub fn parsing_command() -> clap::Command {
    parsing_command_with(
        GlobalOpts::augment_args(clap::Command::new("ocictl")),
        None,
        false,
    )
}

/// The same from `root` (the global flags only), with subcommand number
/// `built.0` given already built; with `only_built`, that one alone.
fn parsing_command_with(
    root: clap::Command,
    mut built: Option<(usize, clap::Command)>,
    only_built: bool,
) -> clap::Command {
    let full_root_settings = |cmd: clap::Command| {
        cmd.version(env!("CARGO_PKG_VERSION"))
            .max_term_width(100)
            .subcommand_required(true)
            .arg_required_else_help(true)
            .about(ROOT_ABOUT)
            .long_about(ROOT_LONG_ABOUT)
            .after_help(ROOT_AFTER_HELP)
    };
    let mut root = full_root_settings(root);
    for (index, sub) in crate::commands::SUBCOMMANDS.iter().enumerate() {
        let mut cmd = match built.take_if(|(i, _)| *i == index) {
            Some((_, cmd)) => cmd,
            None if only_built => continue,
            None => clap::Command::new(sub.name).defer(sub.build),
        };
        for alias in sub.aliases {
            // A subcommand built already may name it itself.
            if !cmd.get_all_aliases().any(|a| a == *alias) {
                cmd = cmd.visible_alias(*alias);
            }
        }
        root = root.subcommand(cmd.hide(sub.hidden));
    }
    root
}

const ROOT_ABOUT: &str = "An operator's front end for runc-compatible OCI runtimes.";
const ROOT_LONG_ABOUT: &str = "An operator's front end for runc-compatible OCI runtimes.

Every runc operation is a subcommand with runc's own flags, so `alias runc=ocictl` keeps scripts \
working. ocictl adds human tables, `--format json` on every command, terminals that just work \
(`-t`), and checkpoints that are safe to run from cron.";
const ROOT_AFTER_HELP: &str = "Run `ocictl COMMAND --help` for a command's flags. Exit codes and the JSON contract are in the README and `man ocictl`.";

/// Options every command takes, before or after the subcommand's name.
///
/// Four of them also come from the environment (OCICTL_RUNTIME,
/// OCICTL_ROOT, OCICTL_TIMEOUT, OCICTL_FORMAT), read after parsing rather
/// than by clap's `env`: clap shows a value from the environment in usage
/// lines as if it had been typed (`Usage: ocictl kill --root <DIR> <ID>`),
/// and its errors would name the flag, not the variable.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalOpts {
    /// The runtime binary: a name looked up on PATH, or a path [env:
    /// OCICTL_RUNTIME].
    #[arg(long, global = true, default_value = DEFAULT_RUNTIME, value_name = "NAME|PATH")]
    pub runtime: PathBuf,

    /// Root directory for the runtime's container state (runc's default:
    /// /run/runc). It must be a directory, or not exist yet [env:
    /// OCICTL_ROOT].
    #[arg(long, global = true, value_name = "DIR", value_parser = parse_root_arg)]
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

    /// Whether detached containers get ocictl's monitor (wait, logs,
    /// attach) [env: OCICTL_MONITOR].
    ///
    /// auto: yes, unless --pid-file is given — a caller that passes
    /// --pid-file (containerd's shim, conmon) is a supervisor that reaps the
    /// container itself, so the process tree, argv and stdio stay exactly
    /// runc's. always, never: regardless of --pid-file (a command's
    /// --no-monitor means never). For `create`, `run -d` and `restore -d`.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "auto|always|never",
        hide_possible_values = true
    )]
    pub monitor: MonitorMode,

    /// Kill a runtime call that owes a prompt answer (state, list, kill,
    /// pause, …) after this long, so ocictl never hangs on a hung runtime.
    /// `run`, `create`, `exec`, `restore`, `checkpoint` and `events` are
    /// never timed out [env: OCICTL_TIMEOUT].
    #[arg(
        long,
        global = true,
        default_value = DEFAULT_TIMEOUT,
        value_parser = parse_timeout_arg,
        allow_hyphen_values = true,
        value_name = "DURATION"
    )]
    pub timeout: Duration,

    /// Output format: table (for people) or json (one JSON value, for
    /// scripts) [env: OCICTL_FORMAT].
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "table",
        value_name = "table|json"
    )]
    pub format: Format,

    /// Whether the format came from OCICTL_FORMAT (a choice, as the flag is).
    #[arg(skip)]
    pub format_from_env: bool,
}

/// The runtime a bare `ocictl` call drives.
pub const DEFAULT_RUNTIME: &str = "runc";

impl GlobalOpts {
    /// The options when none is given: clap's defaults (the hand parser
    /// starts from these; its property test checks they are clap's).
    pub fn defaults() -> GlobalOpts {
        GlobalOpts {
            runtime: DEFAULT_RUNTIME.into(),
            root: None,
            debug: false,
            log: None,
            log_format: None,
            systemd_cgroup: false,
            rootless: None,
            criu: None,
            pdeath_signal: None,
            setpgid: false,
            monitor: MonitorMode::Auto,
            timeout: parse_timeout_arg(DEFAULT_TIMEOUT).expect("the default timeout parses"),
            format: Format::Table,
            format_from_env: false,
        }
    }

    /// Take OCICTL_RUNTIME, OCICTL_ROOT, OCICTL_TIMEOUT and OCICTL_FORMAT
    /// for the options the command line did not give. A bad value is a
    /// usage error that names the variable.
    fn apply_environment(&mut self, given: &Given) -> Result<(), clap::Error> {
        let from_env = |given: bool, var: &str| -> Option<String> {
            if given {
                return None;
            }
            std::env::var(var).ok().filter(|v| !v.is_empty())
        };
        let invalid = |var: &str, value: &str, why: String| {
            let flag = var.trim_start_matches("OCICTL_").to_ascii_lowercase();
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!(
                    "invalid value {value:?} in the environment variable {var} (--{flag}): {why}\n"
                ),
            )
        };
        if let Some(v) = from_env(given.runtime, "OCICTL_RUNTIME") {
            self.runtime = v.into();
        }
        if let Some(v) = from_env(given.root, "OCICTL_ROOT") {
            self.root = Some(parse_root_arg(&v).map_err(|why| invalid("OCICTL_ROOT", &v, why))?);
        }
        if let Some(v) = from_env(given.timeout, "OCICTL_TIMEOUT") {
            self.timeout =
                parse_timeout_arg(&v).map_err(|why| invalid("OCICTL_TIMEOUT", &v, why))?;
        }
        if let Some(v) = from_env(given.monitor, "OCICTL_MONITOR") {
            self.monitor = <MonitorMode as clap::ValueEnum>::from_str(&v, true).map_err(|_| {
                invalid(
                    "OCICTL_MONITOR",
                    &v,
                    "it must be auto, always or never".into(),
                )
            })?;
        }
        if let Some(v) = from_env(given.format, "OCICTL_FORMAT") {
            self.format = <Format as clap::ValueEnum>::from_str(&v, true)
                .map_err(|_| invalid("OCICTL_FORMAT", &v, "it must be table or json".into()))?;
            self.format_from_env = true;
        }
        Ok(())
    }
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
    if s.is_empty() {
        return Err("an empty --root names no directory: give the directory that holds the runtime's container state (e.g. /run/runc)".into());
    }
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

/// When a detached container gets ocictl's monitor (see `--monitor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MonitorMode {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Rootless {
    True,
    False,
    Auto,
}

impl GlobalOpts {
    /// The driver configured from these options; an error when the runtime
    /// named on PATH is only ocictl itself.
    pub fn runc(&self) -> Result<Runtime, String> {
        Ok(Runtime {
            binary: runtime_binary(&self.runtime)?,
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
        })
    }
}

/// The runtime for a bare name (`runc`): the first match on PATH that is not
/// this very executable. Installed as `runc` ahead of the real one (so that
/// podman and containerd pick it by default), ocictl would otherwise run
/// itself, forever. A path, or a name found nowhere, is left as given.
fn runtime_binary(name: &std::path::Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    if name.components().count() != 1 || name.to_str().is_some_and(|n| n.contains('/')) {
        return Ok(name.to_path_buf());
    }
    // Which file this executable is: looked up once, and only when PATH
    // has a candidate to compare with it.
    let mut this: Option<Option<(u64, u64)>> = None;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut found_self = None;
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if !meta.is_file() || meta.mode() & 0o111 == 0 {
            continue;
        }
        let this = this.get_or_insert_with(|| {
            std::fs::metadata("/proc/self/exe")
                .ok()
                .map(|t| (t.dev(), t.ino()))
        });
        if *this == Some((meta.dev(), meta.ino())) {
            found_self.get_or_insert(candidate);
            continue;
        }
        return Ok(if found_self.is_some() {
            candidate
        } else {
            name.to_path_buf()
        });
    }
    match found_self {
        Some(me) => Err(format!(
            "the runtime {} is ocictl itself ({} on PATH) and no other {} is on PATH: \
             install the runtime, or give its path with --runtime (or OCICTL_RUNTIME)",
            name.display(),
            me.display(),
            name.display()
        )),
        None => Ok(name.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_subcommand_is_found_past_global_flags_and_their_values() {
        let root = GlobalOpts::augment_args(clap::Command::new("ocictl"));
        let named = |words: &[&str]| {
            let args: Vec<std::ffi::OsString> = words.iter().map(Into::into).collect();
            subcommand_named(&args, &root).map(|i| crate::commands::SUBCOMMANDS[i].name)
        };
        assert_eq!(named(&["o", "state", "c"]), Some("state"));
        assert_eq!(named(&["o", "--root", "list", "state", "c"]), Some("state"));
        assert_eq!(
            named(&["o", "--root=/r", "--debug", "kill", "c"]),
            Some("kill")
        );
        assert_eq!(named(&["o", "--help"]), None);
        assert_eq!(named(&["o", "--", "state"]), None);
        assert_eq!(named(&["o", "nope", "state"]), None);
        assert_eq!(named(&["o"]), None);
    }

    #[test]
    fn the_full_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The deferred command line parses exactly what the full one describes:
    /// same subcommands in the same order, same aliases and visibility, and
    /// once built, the same help for every subcommand.
    #[test]
    fn the_parsing_command_line_matches_the_full_one() {
        let mut full = Cli::command();
        full.build();
        let mut deferred = parsing_command();
        deferred.build();
        let describe = |c: &clap::Command| {
            c.get_subcommands()
                .map(|s| {
                    (
                        s.get_name().to_string(),
                        {
                            // The parsing line names an alias before the
                            // deferred build adds it again: compare sets.
                            let mut a: Vec<_> =
                                s.get_visible_aliases().map(str::to_string).collect();
                            a.dedup();
                            a
                        },
                        s.is_hide_set(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(describe(&full), describe(&deferred));
        assert_eq!(
            full.get_about().map(|a| a.to_string()),
            deferred.get_about().map(|a| a.to_string())
        );
        for sub in full.get_subcommands() {
            let name = sub.get_name();
            let render = |root: clap::Command| {
                let err = root
                    .try_get_matches_from(["ocictl", name, "--help"])
                    .expect_err("--help stops parsing");
                err.render().to_string()
            };
            assert_eq!(
                render(Cli::command()),
                render(parsing_command()),
                "{name} --help"
            );
        }
    }
}

/// clap takes container IDs through this parser (`value_parser =
/// ContainerIdParser` on every ID argument): the reason an ID is refused is the message, not clap's
/// generic "invalid UTF-8", and a huge ID is not echoed back whole.
#[derive(Clone, Copy, Debug, Default)]
pub struct ContainerIdParser;

impl clap::builder::TypedValueParser for ContainerIdParser {
    type Value = ocictl::runtime::ContainerId;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<ocictl::runtime::ContainerId, clap::Error> {
        ocictl::runtime::ContainerId::from_os_str(value).map_err(|e| {
            let name = arg
                .map(|a| match a.get_value_names().and_then(|v| v.first()) {
                    Some(n) => n.to_string(),
                    None => a.get_id().as_str().to_uppercase(),
                })
                .unwrap_or_else(|| "ID".into());
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for '<{name}>': {e}\n"),
            )
            .with_cmd(cmd)
        })
    }
}
