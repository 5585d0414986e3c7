//! What can go wrong with an image store and the checkpoint and restore runs
//! on it, typed: the CLI picks exit codes and hints by variant, and the
//! runtime's own error stays the `source` (with the argv the driver ran).

use std::path::PathBuf;

use super::store::Skipped;
use crate::runtime;
use crate::secure_dir::DirError;

/// Failures of the image store and of the checkpoint/restore runs on it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A directory of the image root another user could change, or a link.
    #[error("{0}; nothing was checkpointed or restored (use a directory only root can write, e.g. /var/lib/ocictl/checkpoints)")]
    Untrusted(#[source] DirError),

    /// Another run holds this container's checkpoint lock.
    #[error("another checkpoint of container {id} is still running{} (lock {}); this run did nothing", holder.map(|p| format!(" (pid {p})")).unwrap_or_default(), lock.display())]
    Locked {
        id: String,
        lock: PathBuf,
        holder: Option<u32>,
    },

    /// CRIU is missing, too old, hung, or the kernel lacks what an option needs.
    #[error("{}", preflight_message(.0))]
    Preflight(#[source] Box<runtime::Error>),

    /// No image to restore.
    #[error("{message}{}", skipped_report(.skipped))]
    NoImage {
        message: String,
        /// Entries of the container's directory that are not images.
        skipped: Vec<Skipped>,
    },

    /// The bundle wants a terminal and nothing will receive its pty.
    #[error("the checkpoint is of a terminal container ({bundle}/config.json sets process.terminal): restoring it detached needs --console-socket PATH to hand the pty to (start a receiver with `ocictl console PATH`), or restore it in the foreground")]
    TerminalNeeded { bundle: PathBuf },

    /// A signal asked ocictl to stop before runc started: nothing was written.
    #[error("interrupted by {} before the checkpoint started: nothing was written", crate::signal::Signal::from_number(*.signal).map(|s| s.name()).unwrap_or_else(|| format!("signal {signal}")))]
    Interrupted { signal: i32 },

    /// runc (or CRIU under it) failed.
    #[error("{0}")]
    Runtime(#[source] Box<RuntimeFailure>),

    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl StoreError {
    pub(crate) fn untrusted(e: DirError) -> StoreError {
        StoreError::Untrusted(e)
    }

    /// The runtime's (or CRIU's) error under this one, if any.
    pub fn runtime_error(&self) -> Option<&runtime::Error> {
        match self {
            StoreError::Preflight(e) => Some(e),
            StoreError::Runtime(f) => Some(&f.source),
            _ => None,
        }
    }
}

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

fn preflight_message(e: &runtime::Error) -> String {
    match e {
        runtime::Error::TimedOut { argv, after } => format!(
            "CRIU did not answer `{argv}` within {after:?} and was killed: it may be hung \
             (nothing was checkpointed, and the checkpoint lock is released)"
        ),
        other => other.to_string(),
    }
}

fn skipped_report(skipped: &[Skipped]) -> String {
    skipped
        .iter()
        .map(|s| format!("\n  skipped {} ({})", s.path.display(), s.reason))
        .collect()
}

/// A failed runc checkpoint/restore, with CRIU's own words.
#[derive(Debug, thiserror::Error)]
#[error("{source}{}", criu_report(.log, .excerpt, .aftermath))]
pub struct RuntimeFailure {
    pub source: runtime::Error,
    /// CRIU's dump.log or restore.log, where it is now.
    pub log: Option<PathBuf>,
    /// Its last error lines (the harmless RLIMIT_NOFILE one skipped).
    pub excerpt: Vec<String>,
    /// What became of the container and the image.
    pub aftermath: Vec<String>,
}

impl RuntimeFailure {
    /// The failure of `source`; runc's "log file: dump.log" hint (relative
    /// to a directory it does not name) gives way to the log's full path.
    pub(crate) fn error(
        source: runtime::Error,
        log: Option<(PathBuf, String)>,
        aftermath: Vec<String>,
    ) -> StoreError {
        let (log, excerpt) = match log {
            Some((path, text)) => (
                Some(std::path::absolute(&path).unwrap_or(path)),
                crate::runtime::criu::excerpt_of(&text, EXCERPT_LINES),
            ),
            None => (None, Vec::new()),
        };
        StoreError::Runtime(Box::new(RuntimeFailure {
            source: without_log_hint(source),
            log,
            excerpt,
            aftermath,
        }))
    }
}

/// How many of CRIU's log lines a failure report shows.
const EXCERPT_LINES: usize = 6;

fn without_log_hint(err: runtime::Error) -> runtime::Error {
    match err {
        runtime::Error::Failed {
            argv,
            status,
            kind,
            message,
            stderr,
        } => runtime::Error::Failed {
            argv,
            status,
            kind,
            message: message
                .lines()
                .filter(|l| !l.trim_start().starts_with("log file:"))
                .collect::<Vec<_>>()
                .join("\n"),
            stderr,
        },
        other => other,
    }
}

fn criu_report(log: &Option<PathBuf>, excerpt: &[String], aftermath: &[String]) -> String {
    let mut text = String::new();
    if let Some(log) = log {
        if excerpt.is_empty() {
            text.push_str(&format!("\n  CRIU's log: {}", log.display()));
        } else {
            text.push_str(&format!("\n  CRIU's log {} ends with:", log.display()));
            for line in excerpt {
                text.push_str(&format!("\n    {line}"));
            }
        }
    }
    for after in aftermath {
        text.push_str(&format!("\n  {after}"));
    }
    text
}
