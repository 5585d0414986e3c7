//! The records of ocictl's own container log (`console.log` and
//! `console.log.1`), in the style of conmon's k8s-file log: one text line
//! per record,
//!
//! ```text
//! 2026-12-02T07:00:00.123456789Z stdout F hello
//! 2026-12-02T07:00:00.123460000Z stderr P a line without its newline yet
//! ```
//!
//! the time the monitor read the bytes (RFC 3339, nanoseconds, UTC), the
//! stream (a terminal's output is `stdout`), `F` when the record ends a
//! line (its newline is not written: it is the record's end) or `P` for a
//! part of one, and the bytes as the container wrote them. Plain `logs`
//! puts the parts back together byte for byte; a line longer than a record
//! may be (the file's cap) is split into `P` records, as is output read
//! before its newline came. A line that is not a record (a damaged or
//! truncated file) is counted and skipped, never fatal.
//!
//! The reading side turns records into [`Piece`]s that know when their
//! line began, so `--timestamps`, `--since` and `--tail` work on lines.

use chrono::{DateTime, SecondsFormat, Utc};

/// The header's length: the time (30 bytes until the year 10000), a
/// space, the longest stream name, a space, the tag, a space.
pub const HEADER_LEN: usize = 30 + 1 + 6 + 1 + 1 + 1;

/// Which of the container's streams a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A time as records and `--timestamps` write it.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Append the records for `data`, read from `stream` at `time`, to `out`;
/// no record is longer than `max_record` bytes (at least
/// [`HEADER_LEN`] + 1). Each ends with `\n`.
pub fn encode(
    stream: Stream,
    time: DateTime<Utc>,
    data: &[u8],
    max_record: usize,
    out: &mut Vec<u8>,
) {
    let header = format_time(time);
    let room = max_record.saturating_sub(HEADER_LEN + 1).max(1);
    let mut push = |content: &[u8], tag: &str| {
        out.extend_from_slice(header.as_bytes());
        out.push(b' ');
        out.extend_from_slice(stream.name().as_bytes());
        out.push(b' ');
        out.extend_from_slice(tag.as_bytes());
        out.push(b' ');
        out.extend_from_slice(content);
        out.push(b'\n');
    };
    for segment in data.split_inclusive(|&b| b == b'\n') {
        let (body, ends) = match segment.strip_suffix(b"\n") {
            Some(body) => (body, true),
            None => (segment, false),
        };
        let mut parts = body.chunks(room).peekable();
        if body.is_empty() {
            push(b"", if ends { "F" } else { "P" });
        }
        while let Some(part) = parts.next() {
            let last = parts.peek().is_none();
            push(part, if last && ends { "F" } else { "P" });
        }
    }
}

/// One record, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub time: DateTime<Utc>,
    pub stream: Stream,
    /// `F`: the record ends a line.
    pub ends_line: bool,
    pub content: &'a [u8],
}

/// One line of a log file (without its `\n`) as a record; `None` when it
/// is not one.
pub fn parse(line: &[u8]) -> Option<Record<'_>> {
    let mut fields = line.splitn(4, |&b| b == b' ');
    let time = std::str::from_utf8(fields.next()?).ok()?;
    let time = DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc);
    let stream = match fields.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let ends_line = match fields.next()? {
        b"F" => true,
        b"P" => false,
        _ => return None,
    };
    Some(Record {
        time,
        stream,
        ends_line,
        content: fields.next()?,
    })
}

/// A record as `logs` prints it: its bytes (the newline back on when it
/// ends a line), and when its line began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub stream: Stream,
    /// When the monitor read this record.
    pub time: DateTime<Utc>,
    /// When the monitor read the first part of this record's line.
    pub line_time: DateTime<Utc>,
    pub starts_line: bool,
    pub ends_line: bool,
    pub bytes: Vec<u8>,
}

/// Records in, pieces out, across reads of any size: an incomplete last
/// line waits for the rest of it; lines that are not records are counted.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
    /// Per stream: when the line in progress (after a `P`) began.
    open: [Option<DateTime<Utc>>; 2],
    /// Lines skipped because they were no record.
    pub damaged: usize,
}

impl Decoder {
    /// The pieces of the complete records in `data` (after what came before).
    pub fn feed(&mut self, data: &[u8]) -> Vec<Piece> {
        self.pending.extend_from_slice(data);
        let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let rest = self.pending.split_off(end + 1);
        let whole = std::mem::replace(&mut self.pending, rest);
        let mut pieces = Vec::new();
        for line in whole[..end].split(|&b| b == b'\n') {
            match parse(line) {
                Some(r) => pieces.push(self.piece(r)),
                None => self.damaged += 1,
            }
        }
        pieces
    }

    /// The end of a file: bytes of a record not complete yet (a file cut
    /// short) are counted as damaged. A line in progress goes on in the
    /// next file (a rotation falls between records, not between the parts
    /// of a line).
    pub fn finish(&mut self) {
        if !std::mem::take(&mut self.pending).is_empty() {
            self.damaged += 1;
        }
    }

    fn piece(&mut self, r: Record<'_>) -> Piece {
        let open = &mut self.open[r.stream.index()];
        let starts_line = open.is_none();
        let line_time = open.unwrap_or(r.time);
        *open = (!r.ends_line).then_some(line_time);
        let mut bytes = r.content.to_vec();
        if r.ends_line {
            bytes.push(b'\n');
        }
        Piece {
            stream: r.stream,
            time: r.time,
            line_time,
            starts_line,
            ends_line: r.ends_line,
            bytes,
        }
    }
}

/// The lines to print: read at or after `since` and before `until`, by
/// when each line began.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Window {
    pub fn keeps(&self, p: &Piece) -> bool {
        self.since.is_none_or(|s| p.line_time >= s) && self.until.is_none_or(|u| p.line_time < u)
    }
}

/// The pieces of the last `n` lines (a line still in progress counts).
pub fn tail(pieces: &[Piece], n: Option<usize>) -> &[Piece] {
    let Some(n) = n else { return pieces };
    if n == 0 {
        return &pieces[pieces.len()..];
    }
    let mut seen = 0;
    for (i, p) in pieces.iter().enumerate().rev() {
        if p.starts_line {
            seen += 1;
            if seen == n {
                return &pieces[i..];
            }
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn bytes(pieces: &[Piece], stream: Stream) -> Vec<u8> {
        pieces
            .iter()
            .filter(|p| p.stream == stream)
            .flat_map(|p| p.bytes.clone())
            .collect()
    }

    #[test]
    fn records_give_back_every_byte_and_split_long_lines() {
        let t = at("2026-12-02T07:00:00.000000001Z");
        let mut log = Vec::new();
        encode(Stream::Stdout, t, b"one\ntwo\r\n\nthree", 64, &mut log);
        encode(Stream::Stderr, t, b"oops\n", 64, &mut log);
        let long = vec![b'x'; 100];
        encode(Stream::Stdout, t, &long, 64, &mut log);
        encode(Stream::Stdout, t, b" \xff end\n", 64, &mut log);
        assert!(log.split(|&b| b == b'\n').all(|l| l.len() < 64));
        let text = String::from_utf8_lossy(&log);
        assert!(text.starts_with("2026-12-02T07:00:00.000000001Z stdout F one\n"));
        assert!(text.contains(" stdout P three\n"), "{text}");
        let mut d = Decoder::default();
        let pieces = d.feed(&log);
        assert_eq!(d.damaged, 0);
        let mut want = b"one\ntwo\r\n\nthree".to_vec();
        want.extend_from_slice(&long);
        want.extend_from_slice(b" \xff end\n");
        assert_eq!(bytes(&pieces, Stream::Stdout), want);
        assert_eq!(bytes(&pieces, Stream::Stderr), b"oops\n");
    }

    #[test]
    fn a_line_read_in_parts_keeps_the_time_of_its_first_part() {
        let (t1, t2) = (at("2026-12-02T07:00:00Z"), at("2026-12-02T07:00:05Z"));
        let mut log = Vec::new();
        encode(Stream::Stdout, t1, b"$ ", 4096, &mut log);
        encode(Stream::Stderr, t1, b"err\n", 4096, &mut log);
        encode(Stream::Stdout, t2, b"ls\nnext\n", 4096, &mut log);
        let pieces = Decoder::default().feed(&log);
        let starts: Vec<_> = pieces
            .iter()
            .map(|p| (p.starts_line, p.line_time == t1))
            .collect();
        assert_eq!(
            starts,
            [(true, true), (true, true), (false, true), (true, false)]
        );
        let late = Window {
            since: Some(t2),
            until: None,
        };
        let kept: Vec<_> = pieces.iter().filter(|p| late.keeps(p)).collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].bytes, b"next\n");
        let early = Window {
            since: None,
            until: Some(t2),
        };
        assert_eq!(pieces.iter().filter(|p| early.keeps(p)).count(), 3);
    }

    #[test]
    fn records_cut_anywhere_come_out_whole() {
        let t = at("2026-12-02T07:00:00Z");
        let mut log = Vec::new();
        encode(Stream::Stdout, t, b"alpha\nbeta\ngamma\n", 4096, &mut log);
        for cut in 0..log.len() {
            let mut d = Decoder::default();
            let mut pieces = d.feed(&log[..cut]);
            pieces.extend(d.feed(&log[cut..]));
            assert_eq!(bytes(&pieces, Stream::Stdout), b"alpha\nbeta\ngamma\n");
            assert_eq!(d.damaged, 0);
        }
    }

    #[test]
    fn damaged_and_truncated_records_are_skipped_and_counted() {
        let t = at("2026-12-02T07:00:00Z");
        let mut log = Vec::new();
        encode(Stream::Stdout, t, b"good\n", 4096, &mut log);
        log.extend_from_slice(b"garbage\n\n2026-13-40T00:00:00Z stdout F x\n");
        log.extend_from_slice(b"2026-12-02T07:00:00Z stdin F x\n");
        log.extend_from_slice(b"2026-12-02T07:00:00Z stdout Q x\n");
        log.extend_from_slice(b"2026-12-02T07:00:00Z stdout F\n");
        log.extend_from_slice(&[0u8; 40]);
        log.push(b'\n');
        encode(Stream::Stdout, t, b"also good\n", 4096, &mut log);
        log.extend_from_slice(b"2026-12-02T07:00:00Z stdout F cut sh");
        let mut d = Decoder::default();
        let pieces = d.feed(&log);
        assert_eq!(bytes(&pieces, Stream::Stdout), b"good\nalso good\n");
        assert_eq!(d.damaged, 7);
        d.finish();
        assert_eq!(d.damaged, 8);
    }

    #[test]
    fn a_line_goes_on_across_a_rotation() {
        let (t1, t2) = (at("2026-12-02T07:00:00Z"), at("2026-12-02T07:00:01Z"));
        let (mut old, mut new) = (Vec::new(), Vec::new());
        encode(Stream::Stdout, t1, b"begun ", 4096, &mut old);
        encode(Stream::Stdout, t2, b"and ended\n", 4096, &mut new);
        let mut d = Decoder::default();
        let mut pieces = d.feed(&old);
        d.finish();
        pieces.extend(d.feed(&new));
        assert_eq!(d.damaged, 0);
        assert!(!pieces[1].starts_line && pieces[1].line_time == t1);
    }

    #[test]
    fn tail_counts_lines_not_records() {
        let t = at("2026-12-02T07:00:00Z");
        let mut log = Vec::new();
        encode(Stream::Stdout, t, b"a\nb", 4096, &mut log);
        encode(Stream::Stdout, t, b"b\nc\nprompt$ ", 4096, &mut log);
        let pieces = Decoder::default().feed(&log);
        let text = |p: &[Piece]| bytes(p, Stream::Stdout);
        assert_eq!(text(tail(&pieces, Some(1))), b"prompt$ ");
        assert_eq!(text(tail(&pieces, Some(3))), b"bb\nc\nprompt$ ");
        assert_eq!(text(tail(&pieces, Some(9))), text(&pieces));
        assert_eq!(text(tail(&pieces, Some(0))), b"");
        assert_eq!(text(tail(&pieces, None)), text(&pieces));
        assert!(tail(&[], Some(2)).is_empty());
    }
}
