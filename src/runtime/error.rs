//! The driver's one error type: what ran, how it ended, and what the runtime
//! said — never reduced to a bare "exit status 1".

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The exact argv of one runtime invocation, kept for errors and `--debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv(pub Vec<OsString>);

impl Argv {
    /// The program and subcommand, e.g. `runc state`: short enough for a
    /// one-line message. Global flags are skipped.
    pub fn short(&self) -> String {
        let program = self
            .0
            .first()
            .map(|p| {
                let p = std::path::Path::new(p);
                p.file_name()
                    .unwrap_or(p.as_os_str())
                    .to_string_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        let mut words = self.0.iter().skip(1);
        // Global flags come first; the first bare word is the subcommand.
        let mut takes_value = false;
        for w in words.by_ref() {
            let w = w.to_string_lossy();
            if takes_value {
                takes_value = false;
                continue;
            }
            if let Some(flag) = w.strip_prefix("--") {
                takes_value = !flag.contains('=') && super::GLOBAL_FLAGS_WITH_VALUE.contains(&flag);
                continue;
            }
            return format!("{program} {w}");
        }
        program
    }
}

impl fmt::Display for Argv {
    /// Shell-quoted, so it can be pasted into a shell to reproduce.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut secret_next = false;
        for (i, word) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let word = word.to_string_lossy();
            // Environment values may be secrets: show the name only.
            let word = if std::mem::take(&mut secret_next) {
                redact_env(&word).into()
            } else if let Some(value) = word.strip_prefix("--env=") {
                format!("--env={}", redact_env(value)).into()
            } else {
                secret_next = word == "--env" || word == "-e";
                word
            };
            f.write_str(&shell_word(&word))?;
        }
        Ok(())
    }
}

/// `word` as a POSIX shell reads it back: as it is when plain, else in
/// single quotes.
pub fn shell_word(word: &str) -> std::borrow::Cow<'_, str> {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.into()
    } else {
        format!("'{}'", word.replace('\'', r"'\''")).into()
    }
}

fn redact_env(assignment: &str) -> String {
    match assignment.split_once('=') {
        Some((name, _)) => format!("{name}=***"),
        None => assignment.to_string(),
    }
}

/// How a runtime process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    Exited(i32),
    Signaled(i32),
}

impl Termination {
    pub fn from_status(status: std::process::ExitStatus) -> Termination {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Termination::Exited(code),
            (None, Some(sig)) => Termination::Signaled(sig),
            (None, None) => Termination::Exited(255),
        }
    }

    /// How a process reaped with waitpid ended; `None` for a stop or a
    /// continue, which are not an end.
    pub fn from_wait_status(status: nix::sys::wait::WaitStatus) -> Option<Termination> {
        use nix::sys::wait::WaitStatus;
        match status {
            WaitStatus::Exited(_, code) => Some(Termination::Exited(code)),
            WaitStatus::Signaled(_, sig, _) => Some(Termination::Signaled(sig as i32)),
            _ => None,
        }
    }

    /// The shell's convention: the exit code, or 128+N for signal N.
    pub fn shell_code(self) -> i32 {
        match self {
            Termination::Exited(code) => code,
            Termination::Signaled(sig) => 128 + sig,
        }
    }

    pub fn success(self) -> bool {
        self == Termination::Exited(0)
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Termination::Exited(code) => write!(f, "exit status {code}"),
            Termination::Signaled(sig) => match crate::signal::Signal::from_number(sig) {
                Some(s) => write!(f, "killed by {s}"),
                None => write!(f, "killed by signal {sig}"),
            },
        }
    }
}

/// What a runtime's failure means, whichever runtime said it: callers
/// decide on kinds (a hint, a retry, "already gone is fine"), never on the
/// runtime's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No container has that ID.
    NotFound,
    /// A container with that ID exists already.
    AlreadyExists,
    /// The operation needs a stopped container (delete of a live one).
    NotStopped,
    /// The operation needs a running container (pause, kill, exec…).
    NotRunning,
    /// `start` of a container whose process has ended.
    HasStopped,
    /// The operation cannot be done to a paused container (`start`).
    IsPaused,
    /// The operation needs a paused container (resume).
    NotPaused,
    /// `start` of a container that runs already.
    AlreadyRunning,
    /// The runtime's state root is on a read-only file system.
    ReadOnlyRoot,
    /// A container was deleted while the runtime read the root (a listing
    /// race, worth another try).
    Vanished,
    /// Anything else: the message says what.
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The runtime binary is not on PATH or does not exist.
    #[error("runtime {binary:?} not found")]
    RuntimeNotFound { binary: PathBuf },

    /// The runtime binary exists but cannot be executed.
    #[error("runtime {binary:?} cannot be executed ({source})")]
    RuntimeNotExecutable {
        binary: PathBuf,
        source: std::io::Error,
    },

    /// The runtime could not be started for another reason.
    #[error("could not start `{argv}`: {source}")]
    Spawn { argv: Argv, source: std::io::Error },

    /// The runtime ran and failed.
    #[error("{} failed ({status}): {}", argv.short(), message_or_placeholder(argv, .message))]
    Failed {
        argv: Argv,
        status: Termination,
        /// What the failure means, classified once from the runtime's words
        /// ([`super::Flavor::classify`]).
        kind: ErrorKind,
        /// The runtime's own error message, extracted from its log or stderr.
        message: String,
        /// Everything the runtime wrote to stderr, unmodified.
        stderr: String,
    },

    /// The runtime did not answer in time and was killed.
    #[error("{} did not finish within {after:?} and was killed: the runtime may be hung", argv.short())]
    TimedOut { argv: Argv, after: Duration },

    /// The runtime succeeded but printed something that is not what it owes.
    #[error("{} printed {what} that could not be read: {detail}{}", argv.short(), raw_excerpt(.raw))]
    BadOutput {
        argv: Argv,
        what: &'static str,
        detail: String,
        raw: String,
    },

    /// A file the driver reads or writes (pid file, process spec, log…).
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },

    /// The runtime lacks a command or flag: known before anything ran.
    #[error("{runtime} does not support {feature}: {hint}")]
    Unsupported {
        runtime: String,
        feature: String,
        hint: String,
    },

    /// A file had the wrong content (empty pid file, invalid process spec…).
    #[error("{0}")]
    Invalid(String),
}

/// The runtime's message, without the `runc run failed: ` runc puts in
/// front of some of them (ocictl already says which command failed).
fn message_or_placeholder<'a>(argv: &Argv, message: &'a str) -> &'a str {
    let prefix = format!("{} failed: ", argv.short());
    let message = message.strip_prefix(prefix.as_str()).unwrap_or(message);
    if message.is_empty() {
        "the runtime printed no error message"
    } else {
        message
    }
}

fn raw_excerpt(raw: &str) -> String {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return " (it printed nothing)".into();
    }
    let mut excerpt: String = trimmed.chars().take(120).collect();
    if excerpt.len() < trimmed.len() {
        excerpt.push('…');
    }
    format!(" (it printed {excerpt:?})")
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The runtime's own message when it ran and failed (for showing).
    pub fn runtime_message(&self) -> Option<&str> {
        match self {
            Error::Failed { message, .. } => Some(message),
            _ => None,
        }
    }

    /// What the runtime's failure means; `None` when the runtime did not
    /// run and fail (not found, timed out, bad output…).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Failed { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Argv {
        Argv(words.iter().map(OsString::from).collect())
    }

    #[test]
    fn display_quotes_for_a_shell_and_hides_env_values() {
        let a = argv(&[
            "runc",
            "--root",
            "/run/x y",
            "exec",
            "--env",
            "TOKEN=s3cret",
            "-e",
            "A=b",
            "--env=K=v",
            "id",
            "sh",
        ]);
        let shown = a.to_string();
        assert_eq!(
            shown,
            "runc --root '/run/x y' exec --env 'TOKEN=***' -e 'A=***' '--env=K=***' id sh"
        );
        assert!(!shown.contains("s3cret"));
    }

    #[test]
    fn the_command_is_named_once() {
        let e = Error::Failed {
            argv: argv(&["runc", "--root", "/r", "run", "x"]),
            status: Termination::Exited(1),
            kind: ErrorKind::ReadOnlyRoot,
            message: "runc run failed: mkdir /r/x: read-only file system".into(),
            stderr: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "runc run failed (exit status 1): mkdir /r/x: read-only file system"
        );
    }

    #[test]
    fn short_names_the_subcommand() {
        assert_eq!(
            argv(&["/usr/sbin/runc", "--root", "/r", "--debug", "state", "x"]).short(),
            "runc state"
        );
        assert_eq!(
            argv(&["runc", "--rootless=true", "list"]).short(),
            "runc list"
        );
    }
}
