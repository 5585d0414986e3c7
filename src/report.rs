//! Turning a command's failure into what the operator sees: `error: …` with
//! its causes and a hint, or one JSON object on stderr with --format json;
//! and into the exit code the README documents.

use std::io::Write;

use ocictl::runc::{self, exit_code};

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
        if let Some(e) = cause.downcast_ref::<runc::Error>() {
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
        .find_map(|c| c.downcast_ref::<runc::Error>())
        .and_then(runc::Error::runtime_message)?;
    if message.contains("does not exist") {
        Some("`ocictl list` shows the containers under this --root")
    } else if message.contains("not paused") {
        Some("the container is not paused; `ocictl state ID` shows its status")
    } else if message.contains("not running") || message.contains("that has stopped") {
        Some("the container is not running; `ocictl state ID` shows its status")
    } else if message.contains("already running") {
        Some("the container is already running")
    } else if message.contains("exists") {
        Some("choose another ID, or `ocictl delete ID` the old container first")
    } else {
        None
    }
}

/// Print the error to stderr in the chosen format.
pub fn print_error(err: &anyhow::Error, format: Format, code: i32) {
    let mut stderr = std::io::stderr().lock();
    let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
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
