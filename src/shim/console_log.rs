//! A container's output log in its state directory, capped:
//! `console.log` grows to a maximum size, then becomes `console.log.1`
//! (replacing the previous one) and a new `console.log` starts. At most
//! twice the maximum is ever kept — the state lives in /run, a tmpfs on
//! most hosts, and a chatty container (`yes`) must not fill it. `logs`
//! reads both files, so the tail survives a rotation. The files hold
//! [`log_record`] records (the time each line was read, its stream), and a
//! rotation happens only between records, so each file is at most the
//! maximum, record headers included.
//!
//! [`Logger`] is what the monitor's loops write through: it encodes, keeps
//! the last [`RING_SIZE`] bytes of the log in memory for when the file
//! stops (a full disk stops the log, not the container), and writes.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};

use chrono::Utc;

use crate::secure_dir::SecureDir;
use crate::shim::layout;
use crate::shim::log_record::{self, Stream};

/// The default size of each log file: two of them fit a small tmpfs.
pub const DEFAULT_MAX_SIZE: u64 = 4 << 20;
/// The smallest maximum accepted (smaller makes rotation constant).
pub const MIN_MAX_SIZE: u64 = 4 << 10;
/// How much of the recent log the monitor keeps in memory.
pub const RING_SIZE: usize = 1 << 20;

/// Where a container's output goes.
pub enum LogSink {
    /// The state directory's rotated `console.log`, as records.
    Rotating(ConsoleLog),
    /// A file the user chose (`--log-output`), appended to as it is.
    File(File),
}

/// The last [`RING_SIZE`] bytes of the log; grows only as output comes.
/// Holding records, it drops whole records only.
#[derive(Default)]
pub struct Ring {
    bytes: VecDeque<u8>,
    records: bool,
}

impl Ring {
    fn push(&mut self, data: &[u8]) {
        let data = &data[data.len().saturating_sub(RING_SIZE)..];
        let over = (self.bytes.len() + data.len()).saturating_sub(RING_SIZE);
        self.bytes.drain(..over);
        self.bytes.extend(data);
        if self.records && over > 0 {
            // The first record was cut: the rest of it goes too.
            match self.bytes.iter().position(|&b| b == b'\n') {
                Some(i) => drop(self.bytes.drain(..=i)),
                None => self.bytes.clear(),
            }
        }
    }

    /// Its contents, oldest first.
    pub fn to_vec(&self) -> Vec<u8> {
        let (a, b) = self.bytes.as_slices();
        [a, b].concat()
    }
}

/// The monitor's writer: records (or the raw bytes for a user's file) to
/// the sink and the ring.
pub struct Logger {
    sink: Option<LogSink>,
    ring: Ring,
    max_record: usize,
    failed: bool,
    scratch: Vec<u8>,
}

impl Logger {
    pub fn new(sink: Option<LogSink>) -> Logger {
        let (records, max_record) = match &sink {
            Some(LogSink::Rotating(log)) => (true, log.max as usize),
            _ => (false, 0),
        };
        Logger {
            sink,
            ring: Ring {
                records,
                ..Ring::default()
            },
            max_record,
            failed: false,
            scratch: Vec::new(),
        }
    }

    /// Log what was just read from `stream`.
    pub fn log(&mut self, stream: Stream, data: &[u8]) {
        let bytes = if self.ring.records {
            self.scratch.clear();
            log_record::encode(stream, Utc::now(), data, self.max_record, &mut self.scratch);
            &self.scratch[..]
        } else {
            data
        };
        self.ring.push(bytes);
        let written = match self.sink.as_mut() {
            Some(LogSink::Rotating(log)) => log.write_records(bytes),
            Some(LogSink::File(f)) => f.write_all(bytes),
            None => Ok(()),
        };
        if let Err(e) = written {
            // A full disk stops the log, not the container.
            tracing::debug!(error = %e, "the log stopped");
            self.sink = None;
            self.failed = true;
        }
    }

    /// The ring, once the log has stopped (`None` while the file is whole).
    pub fn ring_if_failed(&self) -> Option<&Ring> {
        self.failed.then_some(&self.ring)
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

    /// Write whole records (each at most the maximum), as many at once as
    /// fit, rotating between them.
    pub fn write_records(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let room = (self.max.saturating_sub(self.size) as usize).min(data.len());
            // The whole records that fit.
            let fit = match data[..room].iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if self.size == 0 => room.max(1),
                None => {
                    self.rotate()?;
                    continue;
                }
            };
            let (now, rest) = data.split_at(fit);
            self.file.write_all(now)?;
            self.size += now.len() as u64;
            data = rest;
        }
        Ok(())
    }

    /// The new file is made first and swapped in, so `console.log` is
    /// never missing for a reader (with a rotation every few reads of a
    /// chatty container, a gap would be hit).
    fn rotate(&mut self) -> io::Result<()> {
        let (cur, old, next) = (
            layout::CONSOLE_LOG,
            layout::CONSOLE_LOG_OLD,
            layout::CONSOLE_LOG_NEXT,
        );
        self.dir.remove_file(next)?;
        let file = self.dir.create_new(next, layout::FILE_MODE)?;
        match self.dir.exchange(next, cur) {
            Ok(()) => self.dir.rename(next, &self.dir, old)?,
            // A filesystem without RENAME_EXCHANGE: a moment without one.
            Err(_) => {
                self.dir.rename(cur, &self.dir, old)?;
                self.dir.rename(next, &self.dir, cur)?;
            }
        }
        self.file = file;
        self.size = 0;
        Ok(())
    }
}

/// Everything kept, oldest first: `console.log.1` then `console.log`,
/// each as its own bytes (a record never spans the two).
pub fn read_all(dir: &SecureDir) -> io::Result<[Vec<u8>; 2]> {
    let mut out = [Vec::new(), Vec::new()];
    for (name, buf) in [layout::CONSOLE_LOG_OLD, layout::CONSOLE_LOG]
        .into_iter()
        .zip(out.iter_mut())
    {
        match dir.open_read(name) {
            Ok(f) => {
                // Twice the largest maximum anyone sensible sets; a bound all the same.
                f.take(1 << 32).read_to_end(buf)?;
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
    use crate::shim::log_record::Decoder;

    fn logged(dir: &SecureDir) -> (Vec<u8>, usize) {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        for file in read_all(dir).unwrap() {
            d.finish();
            out.extend(d.feed(&file).into_iter().flat_map(|p| p.bytes));
        }
        (out, d.damaged)
    }

    #[test]
    fn the_log_rotates_between_records_and_keeps_the_tail() {
        let t = tempfile::tempdir().unwrap();
        let dir = SecureDir::create_or_verify(&t.path().join("d"), 0o700).unwrap();
        let mut log = Logger::new(Some(LogSink::Rotating(
            ConsoleLog::open(&dir, MIN_MAX_SIZE).unwrap(),
        )));
        for _ in 0..200 {
            log.log(Stream::Stdout, b"0123456789abcde\n");
        }
        // A line longer than a whole file.
        log.log(Stream::Stderr, &[b'z'; 10_000]);
        log.log(Stream::Stderr, b"\n");
        log.log(Stream::Stdout, b"the end\n");
        let size = |name| std::fs::metadata(dir.join(name)).unwrap().len();
        let (cur, old) = (size(layout::CONSOLE_LOG), size(layout::CONSOLE_LOG_OLD));
        assert!(cur <= MIN_MAX_SIZE && old <= MIN_MAX_SIZE, "{cur} {old}");
        let (all, damaged) = logged(&dir);
        assert_eq!(damaged, 0);
        assert!(all.ends_with(b"zzz\nthe end\n"));
        // Reopened, it continues where it was.
        let mut again = Logger::new(Some(LogSink::Rotating(
            ConsoleLog::open(&dir, MIN_MAX_SIZE).unwrap(),
        )));
        again.log(Stream::Stdout, b"more\n");
        assert!(logged(&dir).0.ends_with(b"the end\nmore\n"));
        assert!(again.ring_if_failed().is_none());
    }

    #[test]
    fn ring_keeps_the_last_mebibyte_of_whole_records() {
        let mut raw = Ring::default();
        raw.push(&vec![1u8; RING_SIZE - 10]);
        raw.push(&[2u8; 20]);
        assert_eq!(raw.bytes.len(), RING_SIZE);
        assert_eq!(raw.bytes.back(), Some(&2));
        raw.push(&vec![3u8; RING_SIZE + 5]);
        assert!(raw.bytes.len() == RING_SIZE && raw.bytes.iter().all(|&b| b == 3));
        let mut records = Ring {
            records: true,
            ..Ring::default()
        };
        let mut data = Vec::new();
        for _ in 0..(RING_SIZE / 4096 + 2) {
            log_record::encode(Stream::Stdout, Utc::now(), &[b'r'; 3000], 4096, &mut data);
        }
        records.push(&data);
        let kept = records.to_vec();
        assert!(kept.len() <= RING_SIZE);
        let mut d = Decoder::default();
        assert!(!d.feed(&kept).is_empty());
        assert_eq!(d.damaged, 0);
    }
}
