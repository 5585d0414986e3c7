//! Turning a command's failure into what the operator sees: `error: …` with
//! its causes and a hint, or one JSON object on stderr with --format json;
//! and into the exit code the README documents.

use std::io::Write;

use ocictl::runtime;

use crate::exit_code;

use crate::output::Format;

/// A failure the user can fix by changing the command line (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A failure that carries its own exit code (e.g. the checkpoint lock).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CodedError {
    pub code: i32,
    pub message: String,
}

/// Whether the error is only a closed stdout (`ocictl list | head -1`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The exit code for an error, per the README's table.
pub fn exit_code_of(err: &anyhow::Error) -> i32 {
    // A code given as context (`err.context(CodedError {…})`) decides.
    if let Some(e) = err.downcast_ref::<CodedError>() {
        return e.code;
    }
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<runtime::Error>() {
            return exit_code::of_runtime_error(e);
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return exit_code::USAGE;
        }
        if let Some(e) = cause.downcast_ref::<CodedError>() {
            return e.code;
        }
    }
    exit_code::FAILURE
}

/// What the failed command was about, for hints that name it.
#[derive(Debug, Default)]
pub struct About {
    /// The subcommand (`start`, `pause`, …).
    pub command: String,
    /// The container it named, if any.
    pub container: Option<String>,
}

/// A well-known cause of a runtime failure, from the driver's
/// [`runtime::ErrorKind`] (never from the runtime's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    NoSuchContainer,
    NotStopped,
    NotPaused,
    NotRunning,
    HasStopped,
    IsPaused,
    AlreadyRunning,
    ReadOnlyRoot,
    AlreadyExists,
}

fn classify(kind: runtime::ErrorKind) -> Option<Cause> {
    use runtime::ErrorKind as K;
    Some(match kind {
        K::NotFound => Cause::NoSuchContainer,
        K::NotStopped => Cause::NotStopped,
        K::NotPaused => Cause::NotPaused,
        K::NotRunning => Cause::NotRunning,
        K::HasStopped => Cause::HasStopped,
        K::IsPaused => Cause::IsPaused,
        K::AlreadyRunning => Cause::AlreadyRunning,
        K::ReadOnlyRoot => Cause::ReadOnlyRoot,
        K::AlreadyExists => Cause::AlreadyExists,
        K::Vanished | K::Other => return None,
    })
}

/// Every hint's text, in one place: a next step, naming the container.
fn hint_text(cause: Cause, about: &About) -> String {
    let id = about.container.as_deref().unwrap_or("ID");
    match (cause, about.command.as_str()) {
        (Cause::NoSuchContainer, _) => "`ocictl list` shows the containers under this --root".into(),
        (Cause::NotStopped, _) => format!("stop it first (`ocictl kill {id} KILL`), or use `ocictl delete --force {id}`"),
        (Cause::NotPaused, _) => format!("the container is not paused; `ocictl state {id}` shows its status"),
        (Cause::NotRunning, "pause") => format!("only a running container can be paused: if it is paused already, `ocictl resume {id}` resumes it; `ocictl state {id}` shows its status"),
        (Cause::NotRunning, _) => format!("the container is not running; `ocictl state {id}` shows its status"),
        (Cause::HasStopped, "start") => format!("a stopped container cannot be started again: `ocictl delete {id}`, then create it anew (or `ocictl run` it)"),
        (Cause::HasStopped, _) => format!("the container has stopped; `ocictl delete {id}` removes it"),
        (Cause::IsPaused, _) => format!("the container is paused: `ocictl resume {id}` resumes it"),
        (Cause::AlreadyRunning, _) => format!("the container is already running; `ocictl state {id}` shows it"),
        (Cause::ReadOnlyRoot, _) => "the path above is on a read-only file system; the runtime keeps container state under --root (default /run/runc), which must be writable".into(),
        (Cause::AlreadyExists, _) => format!("choose another ID, or `ocictl delete {id}` the old container first"),
    }
}

/// A next step for errors with a well-known cause.
fn hint(err: &anyhow::Error, about: &About) -> Option<String> {
    let e = err
        .chain()
        .find_map(|c| c.downcast_ref::<runtime::Error>())?;
    // What the driver cannot say: the flags and variables that fix it.
    match e {
        runtime::Error::RuntimeNotFound { .. } => {
            return Some(
                "install it (e.g. `apt-get install runc`) or name another with --runtime or \
                 OCICTL_RUNTIME"
                    .into(),
            )
        }
        runtime::Error::RuntimeNotExecutable { .. } => {
            return Some("check its permissions, or name another with --runtime".into())
        }
        runtime::Error::TimedOut { .. } => {
            return Some("raise --timeout (or OCICTL_TIMEOUT) if the runtime is just slow".into())
        }
        _ => {}
    }
    classify(e.kind()?).map(|cause| hint_text(cause, about))
}

/// The causes below the top message, each said once: an error that shows
/// its source in its own message (`cannot read X: Permission denied`) would
/// otherwise repeat it as the next cause.
fn causes(err: &anyhow::Error) -> Vec<String> {
    let mut previous = err.to_string();
    let mut causes = Vec::new();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !previous.contains(&text) {
            causes.push(text.clone());
        }
        previous = text;
    }
    causes
}

/// Print the error to stderr in the chosen format.
pub fn print_error(err: &anyhow::Error, format: Format, code: i32, about: &About) {
    print_failure(err, format, code, about, None);
}

/// Print the failure of one of several containers a command was given
/// (`stop a b c`): as [`print_error`], its JSON object naming the container
/// in `"id"`.
pub fn print_error_of(err: &anyhow::Error, format: Format, code: i32, about: &About) {
    print_failure(err, format, code, about, about.container.clone());
}

fn print_failure(
    err: &anyhow::Error,
    format: Format,
    code: i32,
    about: &About,
    id: Option<String>,
) {
    let mut stderr = std::io::stderr().lock();
    let causes = causes(err);
    let hint = hint(err, about);
    let _ = match format {
        Format::Json => {
            let failure = crate::contract::Failure {
                id,
                error: err.to_string(),
                causes,
                hint: hint.clone(),
                exit_code: code,
            };
            writeln!(
                stderr,
                "{}",
                serde_json::to_string(&failure).unwrap_or_default()
            )
        }
        Format::Table => {
            let mut text = format!("ocictl: error: {err}\n");
            for cause in &causes {
                text.push_str(&format!("  caused by: {cause}\n"));
            }
            if let Some(hint) = hint {
                text.push_str(&format!("  hint: {hint}\n"));
            }
            stderr.write_all(text.as_bytes())
        }
    };
}

/// Report a command line clap could not parse, and exit 2. With
/// `--format json` (or OCICTL_FORMAT=json) the error is one JSON object on
/// stderr like every other error; help and version go out as clap prints them.
pub fn exit_on_usage_error(err: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // `ocictl` alone prints the help on stdout and exits 0, as runc does.
        let _ = std::io::stdout().write_all(err.render().to_string().as_bytes());
        std::process::exit(0);
    }
    let informational = matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if let Some(flag) = missing_value_flag(&err) {
        // runc's words for it, which callers probe for: podman decides
        // whether a runtime can restore into a pod by running `RUNTIME
        // restore --lsm-mount-context` and looking for them.
        let _ = writeln!(std::io::stderr().lock(), "flag needs an argument: {flag}");
    }
    if informational || !json_requested() {
        err.exit();
    }
    let text = err.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let error = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_string();
    let hint = lines
        .find_map(|l| l.strip_prefix("tip: "))
        .map(str::to_string);
    let failure = crate::contract::Failure {
        id: None,
        error,
        causes: Vec::new(),
        hint,
        exit_code: exit_code::USAGE,
    };
    let text = serde_json::to_string(&failure).unwrap_or_default();
    let _ = writeln!(std::io::stderr().lock(), "{text}");
    std::process::exit(exit_code::USAGE);
}

/// The flag (`--name`) a usage error says was given without its value.
fn missing_value_flag(err: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if err.kind() != ErrorKind::InvalidValue {
        return None;
    }
    match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) if value.is_empty() => {}
        _ => return None,
    }
    match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.split_whitespace().next().map(str::to_string),
        _ => None,
    }
}

/// Whether the command line or the environment asks for JSON, read without
/// clap (which just failed): `--format json`, `--format=json` before any `--`.
fn json_requested() -> bool {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .take_while(|a| a != "--")
        .collect();
    let mut format = std::env::var("OCICTL_FORMAT").ok();
    for (i, arg) in args.iter().enumerate() {
        if arg == "--format" {
            format = args.get(i + 1).cloned();
        } else if let Some(value) = arg.strip_prefix("--format=") {
            format = Some(value.to_string());
        }
    }
    format.as_deref() == Some("json")
}
