//! Turning a command's failure into what the operator sees: `error: …` with
//! its causes and a hint, or one JSON object on stderr with --format json;
//! and into the exit code the README documents.

use std::io::Write;

use ocictl::runtime::{self, exit_code};

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
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<runtime::Error>() {
            return e.exit_code();
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

/// A next step for errors with a well-known cause.
fn hint(err: &anyhow::Error) -> Option<&'static str> {
    let message = err
        .chain()
        .find_map(|c| c.downcast_ref::<runtime::Error>())
        .and_then(runtime::Error::runtime_message)?;
    if message.contains("does not exist") {
        Some("`ocictl list` shows the containers under this --root")
    } else if message.contains("not stopped") {
        Some("stop it first (`ocictl kill ID KILL`), or use `ocictl delete --force ID`")
    } else if message.contains("not paused") {
        Some("the container is not paused; `ocictl state ID` shows its status")
    } else if message.contains("not running") || message.contains("that has stopped") {
        Some("the container is not running; `ocictl state ID` shows its status")
    } else if message.contains("already running") {
        Some("the container is already running")
    } else if message.contains("read-only file system") {
        Some("the path above is on a read-only file system; the runtime keeps container state under --root (default /run/runc), which must be writable")
    } else if message.contains("container with id exists") || message.contains("already exists") {
        Some("choose another ID, or `ocictl delete ID` the old container first")
    } else {
        None
    }
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
pub fn print_error(err: &anyhow::Error, format: Format, code: i32) {
    let mut stderr = std::io::stderr().lock();
    let causes = causes(err);
    let hint = hint(err);
    let _ = match format {
        Format::Json => {
            let value = serde_json::json!({
                "error": err.to_string(),
                "causes": causes,
                "hint": hint,
                "exit_code": code,
            });
            writeln!(stderr, "{value}")
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
    let value = serde_json::json!({
        "error": error,
        "causes": [],
        "hint": hint,
        "exit_code": exit_code::USAGE,
    });
    let _ = writeln!(std::io::stderr().lock(), "{value}");
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
