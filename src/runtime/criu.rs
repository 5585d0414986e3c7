//! CRIU as runc uses it: finding the binary runc will run (PATH, then the
//! sbin directories cron's PATH lacks), the PATH CRIU needs for its helpers,
//! its version, the kernel features an option needs (each question bounded
//! by a timeout), and the lines of its own log that say why a dump or
//! restore failed.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::error::{Argv, Error, Result};

/// The oldest CRIU runc 1.1 works with (it refuses anything before 3.0).
pub const MIN_VERSION: (u32, u32) = (3, 0);

/// The log line CRIU writes into every dump.log on this kind of machine;
/// harmless, so never reported as the cause of a failure.
const HARMLESS: &[&str] = &["Can't setup RLIMIT_NOFILE"];

/// Where CRIU and its helpers (`iptables-restore`, `ip`) are installed when
/// they are not on PATH: cron runs jobs with `PATH=/usr/bin:/bin`, while
/// CRIU lives in /usr/local/sbin or /usr/sbin, as runc's users expect.
pub const SBIN_DIRS: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// How much of the end of a CRIU log is read to explain a failure (a
/// dump.log of a large container runs to megabytes; its verdict is at the end).
const LOG_TAIL_BYTES: u64 = 256 * 1024;

/// A CRIU binary that exists, and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criu {
    pub path: PathBuf,
    /// As CRIU prints it, e.g. `4.1.1`.
    pub version: String,
}

impl Criu {
    /// Find the CRIU runc will run (`explicit`, from `--criu`, else `criu`
    /// on PATH or in [`SBIN_DIRS`]) and check its version is one runc can
    /// use. `criu --version` is killed after `timeout`
    /// ([`Error::TimedOut`]): a hung CRIU must not hang a cron job.
    pub fn locate(explicit: Option<&Path>, timeout: Option<Duration>) -> Result<Criu> {
        let path = find(explicit)?;
        let out = run_bounded(&path, &["--version"], timeout)?;
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

    /// `criu check --feature NAME`: `Ok(Ok(()))` when the kernel has it,
    /// `Ok(Err(why))` with CRIU's own explanation (its last output line)
    /// when not; `Err` when CRIU could not be asked (or hung past `timeout`).
    pub fn check_feature(
        &self,
        feature: &str,
        timeout: Option<Duration>,
    ) -> Result<std::result::Result<(), String>> {
        let out = run_bounded(&self.path, &["check", "--feature", feature], timeout)?;
        if out.status.success() {
            return Ok(Ok(()));
        }
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        let last = text
            .lines()
            .map(strip_log_prefix)
            .rfind(|l| !l.is_empty())
            .unwrap_or("no explanation");
        // `Warn  (criu/cr-check.c:824): Dirty tracking is OFF…` -> the words.
        Ok(Err(last
            .split_once("): ")
            .map_or(last, |(_, words)| words)
            .to_string()))
    }

    /// Fail unless this kernel can track dirty memory pages, which
    /// `--pre-dump` needs.
    pub fn require_memory_tracking(&self, timeout: Option<Duration>) -> Result<()> {
        self.check_feature("mem_dirty_track", timeout)?
            .map_err(|why| {
                Error::Invalid(format!(
                "--pre-dump is impossible here: this kernel has no memory (dirty page) tracking, \
                 which a pre-dump needs (`criu check --feature mem_dirty_track` says: \"{why}\"); \
                 take full checkpoints instead"
            ))
            })
    }
}

/// Ask CRIU one question, its output captured, killed after `timeout`.
fn run_bounded(
    path: &Path,
    args: &[&str],
    timeout: Option<Duration>,
) -> Result<super::process::Captured> {
    let mut words: Vec<OsString> = vec![path.as_os_str().to_owned()];
    words.extend(args.iter().map(OsString::from));
    let argv = Argv(words);
    let mut cmd = Command::new(path);
    cmd.args(args);
    super::process::wire_captured(&mut cmd, None);
    let launched = super::process::Launched {
        child: super::process::spawn(cmd, &argv, path)?,
        argv,
    };
    super::process::capture(launched, None, timeout, false, false).map_err(|e| match e {
        Error::RuntimeNotFound { .. }
        | Error::RuntimeNotExecutable { .. }
        | Error::Spawn { .. } => {
            Error::Invalid(format!("cannot run CRIU ({}): {e}", path.display()))
        }
        other => other,
    })
}

/// The PATH runc and CRIU get: `current` with the [`SBIN_DIRS`] it lacks
/// appended (the caller's own directories keep their precedence), so
/// `criu` and the `iptables-restore` it runs are found under cron's
/// `PATH=/usr/bin:/bin`.
pub fn helper_path(current: Option<&OsStr>) -> OsString {
    let mut dirs: Vec<PathBuf> = current
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    for sbin in SBIN_DIRS {
        if !dirs.iter().any(|d| d == Path::new(sbin)) {
            dirs.push(PathBuf::from(sbin));
        }
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| current.unwrap_or_default().to_owned())
}

/// The CRIU binary runc will run: `explicit` (from `--criu`), else `criu`
/// on PATH, else in [`SBIN_DIRS`]. Only checks that it exists.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf> {
    match explicit {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => Err(Error::Invalid(format!(
            "CRIU is missing: --criu {} does not exist",
            p.display()
        ))),
        None => find_on_path("criu", std::env::var_os("PATH").as_deref()).ok_or_else(|| {
            Error::Invalid(format!(
                "CRIU is missing: no `criu` on PATH or in {}, and checkpoint/restore needs it. \
                 Install CRIU 3.0 or newer (on Debian 12: `scripts/install-criu`), \
                 or name the binary with --criu PATH",
                SBIN_DIRS.join(", ")
            ))
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

/// `name` in the directories of `path`, then in [`SBIN_DIRS`].
fn find_on_path(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&helper_path(path))
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

/// The end of a CRIU log (at most [`LOG_TAIL_BYTES`]), as text. A FIFO or a
/// device planted at the log's path is not read.
pub fn log_tail(file: &mut std::fs::File) -> String {
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return String::new();
    }
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = file.take(LOG_TAIL_BYTES).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if start > 0 {
        // The first line was cut in the middle.
        text.split_once('\n')
            .map(|(_, rest)| rest.to_string())
            .unwrap_or_default()
    } else {
        text
    }
}

/// Whether a dump.log records a dump CRIU finished: its last words after
/// writing every image file are "Dumping finished successfully".
pub fn dump_succeeded(log_tail: &str) -> bool {
    log_tail
        .lines()
        .map(strip_log_prefix)
        .any(|l| l == "Dumping finished successfully")
}

/// The last `max` error lines of a CRIU log (`dump.log`, `restore.log`),
/// without the harmless ones; the last lines of any kind when it has no
/// error line. Empty when the log cannot be read.
pub fn log_excerpt(log: &Path, max: usize) -> Vec<String> {
    read_log_tail(log)
        .map(|text| excerpt_of(&text, max))
        .unwrap_or_default()
}

/// The end of the log at `log` ([`log_tail`]); `None` when it cannot be
/// opened. Never blocks on a FIFO.
pub fn read_log_tail(log: &Path) -> Option<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(log)
        .ok()?;
    Some(log_tail(&mut file))
}

/// [`log_excerpt`] of a log's text.
pub fn excerpt_of(text: &str, max: usize) -> Vec<String> {
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

    #[test]
    fn cron_path_gains_the_sbin_dirs_after_its_own() {
        let p = helper_path(Some(OsStr::new("/usr/bin:/bin")));
        assert_eq!(p, "/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin");
        let p = helper_path(Some(OsStr::new("/usr/sbin:/usr/bin")));
        assert_eq!(p, "/usr/sbin:/usr/bin:/usr/local/sbin:/sbin");
        assert_eq!(helper_path(None), "/usr/local/sbin:/usr/sbin:/sbin");
    }

    #[test]
    fn a_dump_is_complete_only_with_criu_s_last_words() {
        assert!(dump_succeeded(
            "(00.1) Writing image inventory (version 1)\n(00.2) Dumping finished successfully\n"
        ));
        assert!(!dump_succeeded("(00.1) Dumping FAILED.\n"));
        assert!(!dump_succeeded("(00.1) Writing image inventory\n"));
    }

    #[test]
    fn log_tail_reads_only_the_end_of_a_huge_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("dump.log");
        let mut text = "(00.1) noise line\n".repeat(100_000);
        text.push_str("(00.2) Error (x.c:1): the real cause\n");
        std::fs::write(&log, &text).unwrap();
        let tail = log_tail(&mut std::fs::File::open(&log).unwrap());
        assert!(tail.len() as u64 <= LOG_TAIL_BYTES);
        assert!(tail.starts_with("(00.1) noise line"));
        assert_eq!(log_excerpt(&log, 2), ["Error (x.c:1): the real cause"]);
    }
}
