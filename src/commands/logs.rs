//! `ocictl logs`: what a monitored container wrote.
//!
//! ocictl's own log (a terminal's output, or `--capture`'s stdout and
//! stderr) is timed records ([`ocictl::shim::log_record`]): printed as
//! the container wrote them, each stream to its own (stdout lines to
//! stdout, stderr lines to stderr, as docker does), and filtered by when
//! each line was read. A `--log-output` file is printed as it is.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Args;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use ocictl::runtime::ContainerId;
use ocictl::shim::attach;
use ocictl::shim::layout;
use ocictl::shim::log_record::{self, Decoder, Piece, Stream, Window};
use ocictl::shim::state::StateDir;

use super::{Context, Outcome};
use crate::contract::{LogChunk, LogStream};
use crate::output::Format;

/// Print what a detached container wrote.
///
/// A terminal container's output (its monitor logs the pty), the stdout and
/// stderr of a container started with --capture (stdout lines go to stdout,
/// stderr lines to stderr), or the file of one started with --log-output
/// FILE (printed as it is: no times, so no -t, --since or --until).
///
/// With -f, keep printing new output until the container has exited. When
/// the monitor had to stop writing its log (disk full), the last 1 MiB it
/// kept in memory is printed instead, with a note on stderr.
///
/// With --format json: JSON lines, `{"id", "output", "timestamp",
/// "stream"}` per record of ocictl's log (a line, or a part of one; lossy
/// UTF-8); one `{"id", "output"}` for a --log-output file (with -f, one
/// per chunk).
#[derive(Debug, Args)]
pub struct Logs {
    /// Keep printing new output until the container exits.
    #[arg(short, long)]
    pub follow: bool,

    /// Print only the last N lines (before following); `all` for every line.
    #[arg(short = 'n', long, value_name = "N", value_parser = parse_tail)]
    pub tail: Option<Tail>,

    /// Begin each line with the time the monitor read it (RFC 3339 in UTC,
    /// nanoseconds), as `docker logs -t` does.
    #[arg(short, long)]
    pub timestamps: bool,

    /// Only lines read at or after TIME: a duration before now (10m,
    /// 1h30m), an RFC 3339 time (2026-12-02T07:00:00Z; without the zone,
    /// local time; or a date, 2026-12-02) or Unix seconds (1764658800,
    /// fractions allowed), as docker takes them.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,

    /// Only lines read before TIME (the forms of --since).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,

    /// The container's ID.
    #[arg(add = crate::completion::with_logs())]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

/// `--tail`: a number of lines, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail(Option<usize>);

fn parse_tail(s: &str) -> Result<Tail, String> {
    if s.trim().eq_ignore_ascii_case("all") {
        return Ok(Tail(None));
    }
    s.trim()
        .parse()
        .map(|n| Tail(Some(n)))
        .map_err(|_| format!("{s:?} is not a number of lines (or `all`)"))
}

/// `--since`/`--until`: a time, loose on input.
fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let epoch = match t.split_once('.') {
        Some((secs, frac)) => digits(secs) && digits(frac),
        None => digits(t),
    };
    if epoch {
        let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
        let nanos = format!("{frac:0<9}")[..9].parse::<u32>().unwrap_or(0);
        return secs
            .parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, nanos))
            .ok_or_else(|| format!("{s:?} is too far off as Unix seconds"));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    // Without a zone, local time (as docker takes it): to the second or
    // finer, to the minute, or a day's start.
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(t, f).ok())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        });
    if let Some(naive) = naive {
        use chrono::TimeZone as _;
        return chrono::Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
            .ok_or_else(|| format!("{s:?} does not exist in the local time zone"));
    }
    match ocictl::duration::parse_duration(t) {
        Ok(d) => chrono::Duration::from_std(d)
            .ok()
            .and_then(|d| Utc::now().checked_sub_signed(d))
            .ok_or_else(|| format!("{s:?} is too long ago")),
        Err(_) => Err(format!(
            "{s:?} is no time: give a duration before now (10m, 1h30m), an RFC 3339 time \
             (2026-12-02T07:00:00Z; local without the zone, or a date: 2026-12-02) or Unix \
             seconds (1764658800)"
        )),
    }
}

/// The monitor state of `id`, or an error saying why there is none.
pub fn monitored(ctx: &Context, id: &ContainerId) -> anyhow::Result<StateDir> {
    let dir = StateDir::of(&ctx.runc, id);
    if let Some(e) = dir.untrusted() {
        anyhow::bail!("container {id}: ocictl will not read its state directory: {e}");
    }
    if dir.exists() {
        // A record of an earlier container with this ID says nothing of
        // this one (the runtime's answer tells which instance it is).
        if let Ok(container) = ctx.runc.state(id) {
            if dir.is_stale_for(&container) {
                dir.remove_stale();
                anyhow::bail!(
                    "container {id} has no monitor: the state ocictl had is of an earlier \
                     container with the same ID (removed now)"
                );
            }
        }
        return Ok(dir);
    }
    // The runtime's own error when the container does not exist at all.
    ctx.runc
        .state(id)
        .with_context(|| format!("container {id} has no monitor"))?;
    anyhow::bail!(
        "container {id} has no monitor: it was started with --no-monitor or by the runtime \
         itself, so ocictl knows nothing of its exit or output"
    )
}

impl Logs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let dir = monitored(ctx, &self.id)?;
        let meta = dir
            .meta()
            .with_context(|| format!("container {} is still starting", self.id))?;
        let Some(log) = meta.log.clone() else {
            anyhow::bail!(
                "container {} keeps no log: its output goes where runc sends it; start it \
                 with a terminal (`run -d -t`), with --capture, or with --log-output FILE",
                self.id
            );
        };
        let records = meta.log_in_state_dir && meta.log_records;
        let timed = self.timestamps || self.since.is_some() || self.until.is_some();
        if timed && !records {
            anyhow::bail!(
                "container {}'s log {} holds its output as it was written, without times: \
                 -t, --since and --until need ocictl's own log (start the container with \
                 --capture, or a terminal, and without --log-output)",
                self.id,
                log.display()
            );
        }
        let mut out = Printer {
            json: ctx.format == Format::Json,
            id: &self.id,
            timestamps: self.timestamps,
            window: Window {
                since: self.since,
                until: self.until,
            },
            decoder: Decoder::default(),
        };
        let tail = self.tail.and_then(|t| t.0);
        let endpoint = dir.attach_path().zip(dir.attach_peer());
        // A monitor with an attach socket (a terminal, or captured output)
        // keeps the ring.
        let ring_kept = meta.terminal || meta.log_in_state_dir;
        if let (true, true, Some((path, peer))) = (ring_kept, dir.monitor_alive(), endpoint) {
            if let Ok(Some(ring)) = attach::logs_request(&path, &peer) {
                eprintln!(
                    "ocictl: the log file {} stopped (disk full?); showing the last {} bytes \
                     the monitor kept",
                    log.display(),
                    ring.len()
                );
                if records {
                    let pieces = out.decoder.feed(&ring);
                    out.pieces(&pieces, tail)?;
                } else {
                    out.raw(tail_of(&ring, tail))?;
                }
                return Ok(0);
            }
        }
        let cannot = || format!("cannot read the log {}", log.display());
        if meta.log_in_state_dir {
            let state_dir = dir.dir().context("the state directory is gone")?;
            // The current file first, read to its end through the same
            // fd that -f goes on with: nothing is missed in between.
            let mut file = match state_dir.open_read(layout::CONSOLE_LOG) {
                Ok(f) => Some(f),
                // Not written yet: nothing to print so far.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.follow => None,
                Err(e) => return Err(e).with_context(cannot),
            };
            let mut old = Vec::new();
            match state_dir.open_read(layout::CONSOLE_LOG_OLD) {
                Ok(f) => drop(f.take(1 << 32).read_to_end(&mut old).with_context(cannot)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(cannot),
            }
            let mut current = Vec::new();
            if let Some(file) = file.as_mut() {
                file.take(1 << 32)
                    .read_to_end(&mut current)
                    .with_context(cannot)?;
            }
            if records {
                let mut pieces = out.decoder.feed(&old);
                out.decoder.finish();
                pieces.extend(out.decoder.feed(&current));
                out.pieces(&pieces, tail)?;
            } else {
                old.extend_from_slice(&current);
                out.raw(tail_of(&old, tail))?;
            }
            if let (true, Some(file)) = (self.follow, file.as_mut()) {
                let reopen = || state_dir.open_read(layout::CONSOLE_LOG);
                follow(
                    &dir,
                    state_dir.path(),
                    file,
                    &mut out,
                    records,
                    Some(&reopen),
                )?;
            }
            out.note_damaged();
            return Ok(0);
        }
        let mut file = std::fs::File::open(&log).with_context(cannot)?;
        let mut text = Vec::new();
        file.read_to_end(&mut text).with_context(cannot)?;
        out.raw(tail_of(&text, tail))?;
        if self.follow {
            follow(&dir, &log, &mut file, &mut out, false, None)?;
        }
        Ok(0)
    }
}

/// Prints what was read, raw or as records.
struct Printer<'a> {
    json: bool,
    id: &'a ContainerId,
    timestamps: bool,
    window: Window,
    decoder: Decoder,
}

impl Printer<'_> {
    /// Bytes from a `--log-output` file (or a log from before records).
    fn raw(&mut self, data: &[u8]) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let chunk = LogChunk {
                id: self.id.to_string(),
                output: String::from_utf8_lossy(data).into_owned(),
                timestamp: None,
                stream: None,
            };
            serde_json::to_writer(&mut stdout, &chunk)?;
            writeln!(stdout)?;
        } else {
            stdout.write_all(data)?;
        }
        stdout.flush()
    }

    /// The pieces the window keeps, the last `tail` lines of them: each
    /// stream to its own, a line's time before it with -t.
    fn pieces(&mut self, pieces: &[Piece], tail: Option<usize>) -> std::io::Result<()> {
        let kept: Vec<Piece> = pieces
            .iter()
            .filter(|p| self.window.keeps(p))
            .cloned()
            .collect();
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        let mut stderr = std::io::BufWriter::new(std::io::stderr().lock());
        let mut last = Stream::Stdout;
        for p in log_record::tail(&kept, tail) {
            if self.json {
                let chunk = LogChunk {
                    id: self.id.to_string(),
                    output: String::from_utf8_lossy(&p.bytes).into_owned(),
                    timestamp: Some(p.time),
                    stream: Some(match p.stream {
                        Stream::Stdout => LogStream::Stdout,
                        Stream::Stderr => LogStream::Stderr,
                    }),
                };
                serde_json::to_writer(&mut stdout, &chunk)?;
                writeln!(stdout)?;
                continue;
            }
            // The two in the order they were read, when they share a file.
            if p.stream != last {
                stdout.flush()?;
                stderr.flush()?;
                last = p.stream;
            }
            let w: &mut dyn Write = match p.stream {
                Stream::Stdout => &mut stdout,
                Stream::Stderr => &mut stderr,
            };
            if self.timestamps && p.starts_line {
                write!(w, "{} ", log_record::format_time(p.line_time))?;
            }
            w.write_all(&p.bytes)?;
        }
        stdout.flush()?;
        stderr.flush()
    }

    /// Bytes read on from ocictl's log, when following.
    fn records(&mut self, data: &[u8]) -> std::io::Result<()> {
        let pieces = self.decoder.feed(data);
        self.pieces(&pieces, None)
    }

    /// Say so when lines of the log were no records (a damaged file).
    fn note_damaged(&mut self) {
        self.decoder.finish();
        if self.decoder.damaged > 0 {
            eprintln!(
                "ocictl: skipped {} damaged line(s) of container {}'s log",
                self.decoder.damaged, self.id
            );
        }
    }
}

/// The last `n` lines of `data` (all of it without `n`).
fn tail_of(data: &[u8], n: Option<usize>) -> &[u8] {
    let Some(n) = n else { return data };
    if n == 0 {
        return &data[data.len()..];
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut start = body.len();
    for _ in 0..n {
        match body[..start].iter().rposition(|&b| b == b'\n') {
            Some(i) => start = i,
            None => return data,
        }
    }
    &data[(start + 1).min(data.len())..]
}

/// The reopening of a rotated log (its name now holds a new file).
type Reopen<'a> = &'a dyn Fn() -> std::io::Result<std::fs::File>;

/// Print what is appended to `watched` (the log, or with `reopen` the
/// directory of a log that rotates) until the monitor ends: inotify for
/// the file, a thread blocked on the monitor's lock for the end.
fn follow(
    dir: &StateDir,
    watched: &Path,
    file: &mut std::fs::File,
    out: &mut Printer<'_>,
    records: bool,
    reopen: Option<Reopen<'_>>,
) -> anyhow::Result<()> {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    use std::os::unix::fs::MetadataExt;
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
        .context("cannot watch the log")?;
    let mask = if reopen.is_some() {
        AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO
    } else {
        AddWatchFlags::IN_MODIFY
    };
    inotify
        .add_watch(watched, mask)
        .context("cannot watch the log")?;
    let (ended_rx, ended_tx) = std::os::unix::net::UnixStream::pair()?;
    let waiter = dir.clone();
    std::thread::spawn(move || {
        let _ = waiter.wait();
        drop(ended_tx);
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut copy = |file: &mut std::fs::File, out: &mut Printer<'_>| -> anyhow::Result<()> {
        loop {
            match file.read(&mut buf)? {
                0 => return Ok(()),
                n if records => out.records(&buf[..n])?,
                n => out.raw(&buf[..n])?,
            }
        }
    };
    // Output written between the first read and the watch.
    copy(file, out)?;
    loop {
        let mut fds = [
            PollFd::new(inotify.as_fd(), PollFlags::POLLIN),
            PollFd::new(ended_rx.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ended = fds[1].revents().is_some_and(|r| !r.is_empty());
        let _ = inotify.read_events();
        copy(file, out)?;
        // Rotated: the rest of the old file is read, then the new one.
        if let Some(reopen) = reopen {
            if let (Ok(new), Ok(old)) = (reopen(), file.metadata()) {
                if new.metadata().is_ok_and(|m| m.ino() != old.ino()) {
                    *file = new;
                    out.decoder.finish();
                    copy(file, out)?;
                }
            }
        }
        if ended {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_of_takes_whole_lines_from_the_end() {
        assert_eq!(tail_of(b"a\nb\nc\n", Some(2)), b"b\nc\n");
        assert_eq!(tail_of(b"a\nb\nc", Some(1)), b"c");
        assert_eq!(tail_of(b"a\nb\n", Some(5)), b"a\nb\n");
        assert_eq!(tail_of(b"a\nb\n", Some(0)), b"");
        assert_eq!(tail_of(b"", Some(0)), b"");
        assert_eq!(tail_of(b"prompt$ ", Some(0)), b"");
        assert_eq!(tail_of(b"", Some(3)), b"");
        assert_eq!(tail_of(b"a\nb\n", None), b"a\nb\n");
    }

    #[test]
    fn times_are_loose_on_input() {
        let at = |s| parse_time(s).unwrap();
        assert_eq!(at("1764658800").timestamp(), 1_764_658_800);
        assert_eq!(at("1764658800.25").timestamp_subsec_millis(), 250);
        assert_eq!(
            at("2026-12-02T07:00:00+01:00"),
            at("2026-12-02T06:00:00.000Z")
        );
        let before = Utc::now();
        let t = at("10m");
        assert!(before - t <= chrono::Duration::minutes(10));
        assert!(Utc::now() - t >= chrono::Duration::minutes(10));
        let t = at("1h30m");
        assert!(Utc::now() - t >= chrono::Duration::minutes(90));
        // Local time without a zone, as docker.
        let local = |s| {
            use chrono::TimeZone as _;
            let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").unwrap();
            chrono::Local
                .from_local_datetime(&naive)
                .earliest()
                .unwrap()
        };
        assert_eq!(at("2026-12-02T07:00:00.5"), local("2026-12-02T07:00:00.5"));
        assert_eq!(at("2026-12-02T07:00"), local("2026-12-02T07:00:00"));
        assert_eq!(at("2026-12-02"), local("2026-12-02T00:00:00"));
        for bad in [
            "",
            "yesterday",
            "-5m",
            "12:00",
            "1.2.3",
            "2026-13-02",
            "2026-12-02T25:00",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert!(parse_time("tea").unwrap_err().contains("RFC 3339"));
        assert_eq!(parse_tail("all"), Ok(Tail(None)));
        assert_eq!(parse_tail(" 3"), Ok(Tail(Some(3))));
        assert!(parse_tail("-1").is_err());
    }
}
