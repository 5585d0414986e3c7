//! A terminal container's output log in its state directory, capped:
//! `console.log` grows to a maximum size, then becomes `console.log.1`
//! (replacing the previous one) and a new `console.log` starts. At most
//! twice the maximum is ever kept — the state lives in /run, a tmpfs on
//! most hosts, and a chatty container (`yes`) must not fill it. `logs`
//! reads both files, so the tail survives a rotation.

use std::fs::File;
use std::io::{self, Read, Write};

use crate::secure_dir::SecureDir;
use crate::shim::layout;

/// The default size of each log file: two of them fit a small tmpfs.
pub const DEFAULT_MAX_SIZE: u64 = 4 << 20;
/// The smallest maximum accepted (smaller makes rotation constant).
pub const MIN_MAX_SIZE: u64 = 4 << 10;

/// Where a terminal's output goes.
pub enum LogSink {
    /// The state directory's rotated `console.log`.
    Rotating(ConsoleLog),
    /// A file the user chose (`--log-output`), appended to as it is.
    File(File),
}

impl LogSink {
    pub fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            LogSink::Rotating(log) => log.write_all(data),
            LogSink::File(f) => f.write_all(data),
        }
    }
}

/// The rotating writer.
pub struct ConsoleLog {
    dir: SecureDir,
    file: File,
    size: u64,
    max: u64,
}

impl ConsoleLog {
    /// Open (or create, 0600) `console.log` in `dir` for appending.
    pub fn open(dir: &SecureDir, max: u64) -> io::Result<ConsoleLog> {
        let file = dir.open_append(layout::CONSOLE_LOG, layout::FILE_MODE)?;
        let size = file.metadata()?.len();
        Ok(ConsoleLog {
            dir: dir.try_clone()?,
            file,
            size,
            max: max.max(MIN_MAX_SIZE),
        })
    }

    pub fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.size >= self.max {
                self.rotate()?;
            }
            let room = (self.max - self.size) as usize;
            let (now, rest) = data.split_at(room.min(data.len()));
            self.file.write_all(now)?;
            self.size += now.len() as u64;
            data = rest;
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.dir
            .rename(layout::CONSOLE_LOG, &self.dir, layout::CONSOLE_LOG_OLD)?;
        self.file = self
            .dir
            .create_new(layout::CONSOLE_LOG, layout::FILE_MODE)?;
        self.size = 0;
        Ok(())
    }
}

/// Everything kept, oldest first: `console.log.1` then `console.log`.
pub fn read_all(dir: &SecureDir) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for name in [layout::CONSOLE_LOG_OLD, layout::CONSOLE_LOG] {
        match dir.open_read(name) {
            Ok(f) => {
                // Twice the largest maximum anyone sensible sets; a bound all the same.
                f.take(1 << 32).read_to_end(&mut out)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_and_keeps_the_tail() {
        let t = tempfile::tempdir().unwrap();
        let dir = SecureDir::create_or_verify(&t.path().join("d"), 0o700).unwrap();
        let mut log = ConsoleLog::open(&dir, MIN_MAX_SIZE).unwrap();
        let line = b"0123456789abcde\n";
        for _ in 0..2000 {
            log.write_all(line).unwrap();
        }
        log.write_all(b"the end\n").unwrap();
        let cur = std::fs::metadata(dir.join(layout::CONSOLE_LOG))
            .unwrap()
            .len();
        let old = std::fs::metadata(dir.join(layout::CONSOLE_LOG_OLD))
            .unwrap()
            .len();
        assert!(cur <= MIN_MAX_SIZE && old <= MIN_MAX_SIZE, "{cur} {old}");
        let all = read_all(&dir).unwrap();
        assert!(all.ends_with(b"cde\nthe end\n"));
        assert!(all.len() as u64 > MIN_MAX_SIZE);
        // Reopened, it continues where it was.
        let mut again = ConsoleLog::open(&dir, MIN_MAX_SIZE).unwrap();
        again.write_all(b"more\n").unwrap();
        assert!(read_all(&dir).unwrap().ends_with(b"the end\nmore\n"));
    }
}
