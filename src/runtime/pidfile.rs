//! Pid files written by `--pid-file`: trimmed, and a clear error for a
//! missing, empty or non-numeric file (go-runc forgot to trim).

use std::path::Path;

use super::error::{Error, Result};

/// Read a pid from `path`.
pub fn read_pid_file(path: &Path) -> Result<i32> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let cannot = |e| Error::io(format!("cannot read pid file {}", path.display()), e);
    // Never follow a symlink planted where the pid file should be, and never
    // block opening a FIFO planted there (O_NONBLOCK; only regular files are read).
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(cannot)?;
    if !file.metadata().map_err(cannot)?.is_file() {
        return Err(Error::Invalid(format!(
            "pid file {} is not a regular file: give --pid-file a path to a file",
            path.display()
        )));
    }
    // A pid is a few bytes: read no more than a page of whatever is there.
    let mut bytes = Vec::new();
    file.take(4096).read_to_end(&mut bytes).map_err(cannot)?;
    let text = String::from_utf8_lossy(&bytes);
    parse_pid(&text).map_err(|why| Error::Invalid(format!("pid file {} {why}", path.display())))
}

/// Parse a pid file's content; the error says what is wrong with it.
pub fn parse_pid(text: &str) -> std::result::Result<i32, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("is empty".into());
    }
    match trimmed.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => {
            let excerpt: String = trimmed.chars().take(40).collect();
            Err(format!("does not hold a process ID (it holds {excerpt:?})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_validates() {
        assert_eq!(parse_pid("1234\n"), Ok(1234));
        assert_eq!(parse_pid("  42  "), Ok(42));
        assert!(parse_pid("").unwrap_err().contains("empty"));
        assert!(parse_pid("\n").unwrap_err().contains("empty"));
        assert!(parse_pid("abc").is_err());
        assert!(parse_pid("0").is_err());
        assert!(parse_pid("-5").is_err());
        assert!(parse_pid("12 34").is_err());
    }

    #[test]
    fn symlinked_pid_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real"), "42").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        assert_eq!(read_pid_file(&dir.path().join("real")).unwrap(), 42);
        assert!(read_pid_file(&dir.path().join("link")).is_err());
    }

    #[test]
    fn missing_file_names_it() {
        let err = read_pid_file(Path::new("/nonexistent/x.pid")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.pid"), "{err}");
    }
}
