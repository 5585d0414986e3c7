//! Bounds on what ocictl keeps of the runtime's output, so a runtime that
//! floods stdout or stderr (a bug, a debug build, a hostile binary) cannot
//! grow ocictl's memory: stdout is kept up to [`STDOUT_CAP`] (an answer
//! larger than that is refused, not parsed); of stderr, and of a log file,
//! the first and last [`STDERR_HEAD`]/[`STDERR_TAIL`] bytes are kept — where
//! a runtime's error message is — with a line saying how much was cut.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};

/// The most of a runtime's stdout ocictl reads (16 MiB: `list` of ten
/// thousand containers is about 3 MiB).
pub const STDOUT_CAP: usize = 16 << 20;
/// The head of stderr kept when it is longer than head + tail.
pub const STDERR_HEAD: usize = 16 << 10;
/// The tail of stderr kept when it is longer than head + tail.
pub const STDERR_TAIL: usize = 16 << 10;

/// Output kept up to a head and a tail, the middle counted and dropped.
#[derive(Debug)]
pub(crate) struct BoundedOutput {
    head: Vec<u8>,
    head_cap: usize,
    tail: VecDeque<u8>,
    tail_cap: usize,
    cut: u64,
}

impl BoundedOutput {
    /// For stdout: the first [`STDOUT_CAP`] bytes, nothing after.
    pub fn stdout() -> BoundedOutput {
        BoundedOutput::new(STDOUT_CAP, 0)
    }

    /// For stderr and logs: head and tail.
    pub fn stderr() -> BoundedOutput {
        BoundedOutput::new(STDERR_HEAD, STDERR_TAIL)
    }

    fn new(head_cap: usize, tail_cap: usize) -> BoundedOutput {
        BoundedOutput {
            head: Vec::new(),
            head_cap,
            tail: VecDeque::new(),
            tail_cap,
            cut: 0,
        }
    }

    pub fn push(&mut self, mut data: &[u8]) {
        let room = self.head_cap - self.head.len();
        let take = room.min(data.len());
        self.head.extend_from_slice(&data[..take]);
        data = &data[take..];
        if data.len() >= self.tail_cap {
            self.cut += (self.tail.len() + data.len() - self.tail_cap) as u64;
            self.tail.clear();
            self.tail.extend(&data[data.len() - self.tail_cap..]);
            return;
        }
        let overflow = (self.tail.len() + data.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.cut += overflow as u64;
        self.tail.extend(data);
    }

    /// How many bytes were dropped.
    pub fn cut(&self) -> u64 {
        self.cut
    }

    /// What was kept; when something was cut, a line in the middle says how
    /// much.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut out = self.head;
        if self.cut > 0 {
            out.extend_from_slice(cut_line(self.cut).as_bytes());
        }
        out.extend(self.tail);
        out
    }

    /// A whole file (the runtime's private log or stderr file), read from
    /// its start with the same bounds.
    pub fn of_file(file: &mut std::fs::File) -> std::io::Result<BoundedOutput> {
        let mut kept = BoundedOutput::stderr();
        let len = file.seek(SeekFrom::End(0))?;
        file.rewind()?;
        let mut head = Vec::new();
        file.by_ref()
            .take(kept.head_cap as u64)
            .read_to_end(&mut head)?;
        kept.push(&head);
        let tail_from = len
            .saturating_sub(kept.tail_cap as u64)
            .max(head.len() as u64);
        kept.cut = tail_from - head.len() as u64;
        file.seek(SeekFrom::Start(tail_from))?;
        let mut tail = Vec::new();
        file.take(kept.tail_cap as u64).read_to_end(&mut tail)?;
        kept.tail.extend(tail);
        Ok(kept)
    }
}

fn cut_line(cut: u64) -> String {
    format!(
        "\n[ocictl cut {} of the runtime's output here]\n",
        human(cut)
    )
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

/// The note added to a runtime's error message when its stderr was cut.
pub(crate) fn cut_note(cut: u64) -> String {
    format!(
        " (the runtime wrote {} more to stderr than ocictl keeps: the first and last {} KiB are kept)",
        human(cut),
        STDERR_HEAD >> 10
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        let mut b = BoundedOutput::stderr();
        b.push(b"one\n");
        b.push(b"two\n");
        assert_eq!(b.cut(), 0);
        assert_eq!(b.into_bytes(), b"one\ntwo\n");
    }

    #[test]
    fn a_flood_keeps_head_and_tail_and_says_so() {
        let mut b = BoundedOutput::stderr();
        b.push(b"first line\n");
        for _ in 0..10_000 {
            b.push(&[b'x'; 1000]);
        }
        b.push(b"\nlast line\n");
        let total = 11 + 10_000 * 1000 + 11;
        assert_eq!(b.cut(), (total - STDERR_HEAD - STDERR_TAIL) as u64);
        let text = String::from_utf8(b.into_bytes()).unwrap();
        assert!(text.starts_with("first line\n"));
        assert!(text.ends_with("\nlast line\n"));
        assert!(text.contains("ocictl cut"), "{}", &text[..100]);
        assert!(text.len() < STDERR_HEAD + STDERR_TAIL + 100);
    }

    #[test]
    fn stdout_is_cut_after_its_cap() {
        let mut b = BoundedOutput::new(4, 0);
        b.push(b"abcdef");
        b.push(b"gh");
        assert_eq!(b.cut(), 4);
        assert!(b.into_bytes().starts_with(b"abcd\n[ocictl cut"));
    }

    #[test]
    fn files_are_read_by_head_and_tail() {
        use std::io::Write;
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"start\n").unwrap();
        f.write_all(&vec![b'y'; 1 << 20]).unwrap();
        f.write_all(b"\nend\n").unwrap();
        let kept = BoundedOutput::of_file(&mut f).unwrap();
        assert_eq!(
            kept.cut(),
            (6 + (1 << 20) + 5 - STDERR_HEAD - STDERR_TAIL) as u64
        );
        let text = String::from_utf8(kept.into_bytes()).unwrap();
        assert!(text.starts_with("start\n") && text.ends_with("\nend\n"));

        let mut small = tempfile::tempfile().unwrap();
        small.write_all(b"only\n").unwrap();
        let kept = BoundedOutput::of_file(&mut small).unwrap();
        assert_eq!(kept.cut(), 0);
        assert_eq!(kept.into_bytes(), b"only\n");
    }
}
