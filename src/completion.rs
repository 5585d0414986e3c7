//! Dynamic shell completion (clap_complete's engine): the shell script calls
//! `ocictl` back with OCICTL_COMPLETE set, and ocictl answers with flags,
//! values and — read from the runtime at that moment — container IDs,
//! filtered by the state a command needs (`start` offers created ones), by
//! what ocictl's monitor keeps for them (`attach` offers those it holds a
//! terminal for, `logs` those with a log), or read from an image root
//! (`restore --image-root D --latest` offers the IDs under D). Flags already
//! on the command line are not offered again.

use std::ffi::OsStr;
use std::time::Duration;

use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use ocictl::runtime::{Runtime, Status};

/// The environment variable that switches ocictl into completion mode.
pub const ENV_VAR: &str = "OCICTL_COMPLETE";

/// Answer a completion request and exit, if this is one.
pub fn complete_if_asked() {
    if std::env::var_os(ENV_VAR).is_none() {
        return;
    }
    clap_complete::CompleteEnv::with_factory(command_for_completion)
        .var(ENV_VAR)
        .completer("ocictl")
        .complete();
}

/// The command line, with the flags already typed hidden (clap_complete
/// offers every flag that is not hidden, present or not). Flags that may
/// be repeated (`exec -e`) stay.
fn command_for_completion() -> clap::Command {
    use clap::CommandFactory;
    let mut words = words_being_completed();
    // The word under the cursor is being typed, not typed.
    let current = std::env::var("_CLAP_COMPLETE_INDEX")
        .ok()
        .and_then(|i| i.parse::<usize>().ok())
        .unwrap_or(words.len().saturating_sub(1));
    words.truncate(current);
    let mut cmd = crate::cli::Cli::command();
    let sub = words.iter().skip(1).find_map(|w| {
        cmd.get_subcommands()
            .find(|s| s.get_name() == w.as_str() || s.get_all_aliases().any(|a| a == w.as_str()))
            .map(|s| s.get_name().to_string())
    });
    let typed: Vec<&str> = words
        .iter()
        .skip(1)
        .map(String::as_str)
        .take_while(|w| *w != "--")
        .collect();
    cmd = hide_typed(cmd, &typed);
    if let Some(sub) = sub {
        cmd = cmd.mut_subcommand(sub, |s| hide_typed(s, &typed));
    }
    cmd
}

/// `cmd` with its single-use flags that appear in `typed` hidden.
fn hide_typed(mut cmd: clap::Command, typed: &[&str]) -> clap::Command {
    let single_use = |a: &clap::Arg| {
        matches!(
            a.get_action(),
            clap::ArgAction::Set | clap::ArgAction::SetTrue | clap::ArgAction::SetFalse
        )
    };
    let present: Vec<String> = cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && single_use(a))
        .filter(|a| {
            typed.iter().any(|w| {
                let long = w
                    .strip_prefix("--")
                    .map(|l| l.split('=').next().unwrap_or(l));
                let short = w
                    .strip_prefix('-')
                    .filter(|s| !s.starts_with('-') && !s.is_empty());
                long.is_some_and(|l| a.get_long() == Some(l))
                    || short.is_some_and(|s| a.get_short().is_some_and(|c| s.contains(c)))
            })
        })
        .map(|a| a.get_id().to_string())
        .collect();
    for id in present {
        cmd = cmd.mut_arg(id, |a| a.hide(true));
    }
    cmd
}

/// The words of the command line being completed (after the `--` the
/// shell script passes), the program's name first.
fn words_being_completed() -> Vec<String> {
    std::env::args_os()
        .skip_while(|a| a != "--")
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// The registration script for `shell` (bash, zsh, fish, elvish, powershell).
pub fn registration_script(shell: &str) -> Option<Vec<u8>> {
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells.completer(shell)?;
    let mut buf = Vec::new();
    completer
        .write_registration(ENV_VAR, "ocictl", "ocictl", "ocictl", &mut buf)
        .ok()?;
    if shell == "zsh" {
        buf = zsh_autoloadable(buf)?;
    }
    Some(buf)
}

/// zsh autoloads `_ocictl` from fpath on the first TAB and runs it: that
/// run must complete too, not only register the completer (which made the
/// first TAB do nothing). Sourced, the script registers as before.
fn zsh_autoloadable(script: Vec<u8>) -> Option<Vec<u8>> {
    const REGISTER: &str = "compdef _clap_dynamic_completer_ocictl ocictl\n";
    let text = String::from_utf8(script).ok()?;
    if !text.contains(REGISTER) {
        return None;
    }
    Some(
        text.replace(
            REGISTER,
            "if [[ \"${funcstack[1]}\" == \"_ocictl\" ]]; then\n    # Autoloaded from fpath by this TAB: complete it now.\n    _clap_dynamic_completer_ocictl \"$@\"\nelse\n    compdef _clap_dynamic_completer_ocictl ocictl\nfi\n",
        )
        .into_bytes(),
    )
}

/// The shells ocictl ships completion scripts for, with their file names.
pub const SHELL_FILES: &[(&str, &str)] = &[
    ("bash", "ocictl.bash"),
    ("zsh", "_ocictl"),
    ("fish", "ocictl.fish"),
    ("elvish", "ocictl.elv"),
    ("powershell", "_ocictl.ps1"),
];

pub const CREATED: &[Status] = &[Status::Created];
pub const RUNNING: &[Status] = &[Status::Running];
pub const PAUSED: &[Status] = &[Status::Paused];
pub const LIVE: &[Status] = &[Status::Created, Status::Running, Status::Paused];

/// IDs of containers in any state.
pub fn any_container() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| candidates(current, &[]))
}

/// IDs of containers in one of `states`.
pub fn containers_in(states: &'static [Status]) -> ArgValueCompleter {
    ArgValueCompleter::new(move |current: &OsStr| candidates(current, states))
}

/// Signal names, for `stop -s <TAB>` and `kill -s <TAB>`.
pub fn signals() -> ArgValueCompleter {
    ArgValueCompleter::new(signal_candidates)
}

fn signal_candidates(current: &OsStr) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy().to_ascii_uppercase();
    ocictl::signal::Signal::names()
        .filter(|n| {
            n.starts_with(current.as_str()) || format!("SIG{n}").starts_with(current.as_str())
        })
        .map(CompletionCandidate::new)
        .collect()
}

/// `kill`'s positionals: live containers; after the first, signal names
/// too (the last positional is the signal unless `-s` gave it).
pub fn containers_then_signals() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let mut found = candidates(current, LIVE);
        let words = words_being_completed();
        let after: Vec<&String> = words.iter().skip_while(|w| *w != "kill").skip(1).collect();
        let positionals = after.iter().filter(|w| !w.starts_with('-')).count();
        let signal_flag = after
            .iter()
            .any(|w| *w == "-s" || w.starts_with("--signal"));
        if positionals >= 2 && !signal_flag {
            found.extend(signal_candidates(current));
        }
        found
    })
}

/// Capability names, for `--cap-add NET_<TAB>` (also after `CAP_`).
pub fn capabilities() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let current = current.to_string_lossy().to_ascii_uppercase();
        let bare = current.strip_prefix("CAP_").unwrap_or(&current).to_string();
        std::iter::once("ALL")
            .chain(ocictl::overrides::capability_names())
            .filter(|n| n.starts_with(bare.as_str()))
            .map(CompletionCandidate::new)
            .collect()
    })
}

/// One of a flag's fixed `choices` (`--net host|none`).
pub fn choices(choices: &'static [&'static str]) -> ArgValueCompleter {
    ArgValueCompleter::new(move |current: &OsStr| {
        let current = current.to_string_lossy();
        choices
            .iter()
            .filter(|c| c.starts_with(current.as_ref()))
            .map(CompletionCandidate::new)
            .collect()
    })
}

/// IDs of live containers whose monitor holds their terminal (`attach`).
pub fn attachable() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| filtered(current, LIVE, |meta| meta.terminal))
}

/// IDs of containers whose monitor keeps a log (`logs`).
pub fn with_logs() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| filtered(current, &[], |meta| meta.log.is_some()))
}

/// For `restore`: with `--image-root D` on the command line, the IDs that
/// have images under D; otherwise any container's.
pub fn restorable() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let Some(root) = flag_on_command_line("image-root") else {
            return candidates(current, &[]);
        };
        let current = current.to_string_lossy();
        let Ok(entries) = std::fs::read_dir(&root) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.') && name.starts_with(current.as_ref()))
            .collect();
        ids.sort();
        ids.into_iter()
            .map(|id| CompletionCandidate::new(id).help(Some("has images".into())))
            .collect()
    })
}

/// Containers in `states` whose monitor state passes `keep` (read through
/// the shim's state directory: `StateDir::of` and `meta()` only).
fn filtered(
    current: &OsStr,
    states: &[Status],
    keep: impl Fn(&ocictl::shim::state::Meta) -> bool,
) -> Vec<CompletionCandidate> {
    let runc = runc_from_command_line();
    candidates(current, states)
        .into_iter()
        .filter(|c| {
            c.get_value()
                .to_str()
                .and_then(|id| id.parse().ok())
                .and_then(|id| ocictl::shim::state::StateDir::of(&runc, &id).meta())
                .is_some_and(|meta| keep(&meta))
        })
        .collect()
}

fn candidates(current: &OsStr, states: &[Status]) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    let runc = runc_from_command_line();
    let Ok(containers) = runc.list() else {
        return Vec::new();
    };
    containers
        .into_iter()
        .filter(|c| states.is_empty() || states.contains(&c.status))
        .filter(|c| c.id.starts_with(current.as_ref()))
        .map(|c| CompletionCandidate::new(c.id).help(Some(c.status.to_string().into())))
        .collect()
}

/// The value of `--NAME V` or `--NAME=V` on the command line being completed.
fn flag_on_command_line(name: &str) -> Option<String> {
    let words = words_being_completed();
    let long = format!("--{name}");
    let with_eq = format!("--{name}=");
    words.iter().enumerate().find_map(|(i, w)| {
        if *w == long {
            words.get(i + 1).cloned()
        } else {
            w.strip_prefix(&with_eq).map(str::to_string)
        }
    })
}

/// The runtime and root the command line being completed names, else the
/// environment's, else runc's.
fn runc_from_command_line() -> Runtime {
    let flag = flag_on_command_line;
    let mut runc = Runtime::default();
    if let Some(runtime) = flag("runtime").or_else(|| std::env::var("OCICTL_RUNTIME").ok()) {
        runc.binary = runtime.into();
    }
    runc.root = flag("root")
        .or_else(|| std::env::var("OCICTL_ROOT").ok())
        .map(Into::into);
    // A completion must never hang the shell.
    runc.timeout = Some(Duration::from_secs(2));
    runc
}
