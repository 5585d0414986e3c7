//! Dynamic shell completion (clap_complete's engine): the shell script calls
//! `ocictl` back with OCICTL_COMPLETE set, and ocictl answers with flags,
//! values and — read from the runtime at that moment — container IDs,
//! filtered by the state a command needs (`start` offers created ones).

use std::ffi::OsStr;
use std::time::Duration;

use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use ocictl::runtime::{Runtime, Status};

/// The environment variable that switches ocictl into completion mode.
pub const ENV_VAR: &str = "OCICTL_COMPLETE";

/// Answer a completion request and exit, if this is one.
pub fn complete_if_asked() {
    use clap::CommandFactory;
    clap_complete::CompleteEnv::with_factory(crate::cli::Cli::command)
        .var(ENV_VAR)
        .completer("ocictl")
        .complete();
}

/// The registration script for `shell` (bash, zsh, fish, elvish, powershell).
pub fn registration_script(shell: &str) -> Option<Vec<u8>> {
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells.completer(shell)?;
    let mut buf = Vec::new();
    completer
        .write_registration(ENV_VAR, "ocictl", "ocictl", "ocictl", &mut buf)
        .ok()?;
    Some(buf)
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

/// Signal names, for `kill ID <TAB>`.
pub fn signals() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let current = current.to_string_lossy().to_ascii_uppercase();
        ocictl::signal::Signal::names()
            .filter(|n| {
                n.starts_with(current.as_str()) || format!("SIG{n}").starts_with(current.as_str())
            })
            .map(CompletionCandidate::new)
            .collect()
    })
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

/// The runtime and root the command line being completed names (after the
/// `--` the shell script passes), else the environment's, else runc's.
fn runc_from_command_line() -> Runtime {
    let words: Vec<String> = std::env::args_os()
        .skip_while(|a| a != "--")
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let flag = |name: &str| -> Option<String> {
        let long = format!("--{name}");
        let with_eq = format!("--{name}=");
        words.iter().enumerate().find_map(|(i, w)| {
            if *w == long {
                words.get(i + 1).cloned()
            } else {
                w.strip_prefix(&with_eq).map(str::to_string)
            }
        })
    };
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
