//! CRIU as runc uses it: finding the binary runc will run, its version, the
//! kernel features an option needs, and the lines of its own log that say
//! why a dump or restore failed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::{Error, Result};

/// The oldest CRIU runc 1.1 works with (it refuses anything before 3.0).
pub const MIN_VERSION: (u32, u32) = (3, 0);

/// The log line CRIU writes into every dump.log on this kind of machine;
/// harmless, so never reported as the cause of a failure.
const HARMLESS: &[&str] = &["Can't setup RLIMIT_NOFILE"];

/// A CRIU binary that exists, and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criu {
    pub path: PathBuf,
    /// As CRIU prints it, e.g. `4.1.1`.
    pub version: String,
}

impl Criu {
    /// Find the CRIU runc will run (`explicit`, from `--criu`, else `criu`
    /// on PATH) and check its version is one runc can use.
    pub fn locate(explicit: Option<&Path>) -> Result<Criu> {
        let path = find(explicit)?;
        let out = Command::new(&path)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io(format!("cannot run CRIU ({})", path.display()), e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = parse_version(&text).ok_or_else(|| {
            Error::Invalid(format!(
                "{} --version did not print a CRIU version (it printed {:?}): is it CRIU?",
                path.display(),
                text.trim()
            ))
        })?;
        let (major, minor) = numeric(&version);
        if (major, minor) < MIN_VERSION {
            return Err(Error::Invalid(format!(
                "CRIU {version} at {} is too old: runc needs CRIU {}.{} or newer",
                path.display(),
                MIN_VERSION.0,
                MIN_VERSION.1
            )));
        }
        Ok(Criu { path, version })
    }

    /// `criu check --feature NAME`: Ok when the kernel has it, else CRIU's
    /// own explanation (its last output line).
    pub fn check_feature(&self, feature: &str) -> std::result::Result<(), String> {
        let out = Command::new(&self.path)
            .args(["check", "--feature", feature])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.path.display()))?;
        if out.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        let last = text
            .lines()
            .map(strip_log_prefix)
            .rfind(|l| !l.is_empty())
            .unwrap_or("no explanation");
        // `Warn  (criu/cr-check.c:824): Dirty tracking is OFF…` -> the words.
        Err(last
            .split_once("): ")
            .map_or(last, |(_, words)| words)
            .to_string())
    }

    /// Fail unless this kernel can track dirty memory pages, which
    /// `--pre-dump` needs.
    pub fn require_memory_tracking(&self) -> Result<()> {
        self.check_feature("mem_dirty_track").map_err(|why| {
            Error::Invalid(format!(
                "--pre-dump is impossible here: this kernel has no memory (dirty page) tracking, \
                 which a pre-dump needs (`criu check --feature mem_dirty_track` says: \"{why}\"); \
                 take full checkpoints instead"
            ))
        })
    }
}

/// The CRIU binary runc will run: `explicit` (from `--criu`), else `criu`
/// on PATH. Only checks that it exists.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf> {
    match explicit {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => Err(Error::Invalid(format!(
            "CRIU is missing: --criu {} does not exist",
            p.display()
        ))),
        None => find_on_path("criu").ok_or_else(|| {
            Error::Invalid(
                "CRIU is missing: no `criu` on PATH, and checkpoint/restore needs it. \
                 Install CRIU 3.0 or newer (on Debian 12: `scripts/install-criu`), \
                 or name the binary with --criu PATH"
                    .into(),
            )
        }),
    }
}

/// `Version: 4.1.1` (CRIU's --version) -> `4.1.1`.
pub fn parse_version(text: &str) -> Option<String> {
    let v = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))?
        .trim();
    v.chars()
        .next()
        .filter(char::is_ascii_digit)
        .map(|_| v.to_string())
}

fn numeric(version: &str) -> (u32, u32) {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `(00.012345) Error (criu/x.c:12): msg` -> `Error (criu/x.c:12): msg`.
fn strip_log_prefix(line: &str) -> &str {
    let line = line.trim();
    match line.strip_prefix('(') {
        Some(rest) => rest.split_once(')').map_or(line, |(stamp, tail)| {
            if stamp.trim().chars().all(|c| c.is_ascii_digit() || c == '.') {
                tail.trim()
            } else {
                line
            }
        }),
        None => line,
    }
}

/// The last `max` error lines of a CRIU log (`dump.log`, `restore.log`),
/// without the harmless ones; the last lines of any kind when it has no
/// error line. Empty when the log cannot be read.
pub fn log_excerpt(log: &Path, max: usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(log) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(strip_log_prefix)
        .filter(|l| !l.is_empty() && !HARMLESS.iter().any(|h| l.contains(h)))
        .collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("Error") || l.contains("Error ("))
        .collect();
    let chosen = if errors.is_empty() { &lines } else { &errors };
    chosen[chosen.len().saturating_sub(max)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("Version: 4.1.1\n").as_deref(), Some("4.1.1"));
        assert_eq!(
            parse_version("Version: 3.17\nGitID: v3.17\n").as_deref(),
            Some("3.17")
        );
        assert_eq!(parse_version("nope"), None);
        assert_eq!(numeric("3.17"), (3, 17));
        assert!(numeric("2.9") < MIN_VERSION);
    }

    #[test]
    fn excerpt_skips_the_harmless_rlimit_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("dump.log");
        std::fs::write(
            &log,
            "(00.000001) Version: 4.1.1\n\
             (00.000100) Error (criu/util.c:1): Can't setup RLIMIT_NOFILE for self\n\
             (00.002000) Dumping\n\
             (00.003000) Error (criu/files-reg.c:2): Can't lookup mount=0 for fd=1\n",
        )
        .unwrap();
        assert_eq!(
            log_excerpt(&log, 5),
            ["Error (criu/files-reg.c:2): Can't lookup mount=0 for fd=1"]
        );
        std::fs::write(
            &log,
            "(00.1) Error (a): Can't setup RLIMIT_NOFILE\n(00.2) done\n",
        )
        .unwrap();
        assert_eq!(log_excerpt(&log, 5), ["done"]);
        assert!(log_excerpt(&dir.path().join("none"), 5).is_empty());
    }
}
