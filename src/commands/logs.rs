//! `ocictl logs`: what a monitored container wrote.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::Context as _;
use clap::Args;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use ocictl::runtime::ContainerId;
use ocictl::shim::attach;
use ocictl::shim::state::StateDir;

use super::{Context, Outcome};
use crate::output::Format;

/// Print what a detached container wrote.
///
/// A terminal container's output (its monitor logs the pty), or the stdout
/// and stderr of a container started with `--log-output FILE`.
///
/// With -f, keep printing new output until the container has exited. When
/// the monitor had to stop writing its log (disk full), the last 1 MiB it
/// kept in memory is printed instead, with a note on stderr.
///
/// With --format json: `{"id", "output"}` (lossy UTF-8); with -f one such
/// object per chunk, as JSON lines.
#[derive(Debug, Args)]
pub struct Logs {
    /// Keep printing new output until the container exits.
    #[arg(short, long)]
    pub follow: bool,

    /// Print only the last N lines (before following).
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,

    /// The container's ID.
    #[arg(add = crate::completion::with_logs())]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
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
                 with a terminal (`run -d -t`) or with --log-output FILE",
                self.id
            );
        };
        let mut out = Printer {
            json: ctx.format == Format::Json,
            id: &self.id,
        };
        let endpoint = dir.attach_path().zip(dir.attach_peer());
        if let (true, true, Some((path, peer))) = (meta.terminal, dir.monitor_alive(), endpoint) {
            if let Ok(Some(ring)) = attach::logs_request(&path, &peer) {
                eprintln!(
                    "ocictl: the log file {} stopped (disk full?); showing the last {} bytes \
                     the monitor kept",
                    log.display(),
                    ring.len()
                );
                out.print(tail(&ring, self.tail))?;
                return Ok(0);
            }
        }
        let cannot = || format!("cannot read the log {}", log.display());
        if meta.log_in_state_dir {
            // Both files of the rotation, so the tail survives one.
            let text = dir.console_log().with_context(cannot)?;
            out.print(tail(&text, self.tail))?;
            if self.follow {
                let state_dir = dir.dir().context("the state directory is gone")?;
                let mut file = state_dir
                    .open_read(ocictl::shim::layout::CONSOLE_LOG)
                    .with_context(cannot)?;
                use std::io::Seek;
                file.seek(std::io::SeekFrom::End(0)).with_context(cannot)?;
                let reopen = || state_dir.open_read(ocictl::shim::layout::CONSOLE_LOG);
                follow(&dir, state_dir.path(), &mut file, &mut out, Some(&reopen))?;
            }
            return Ok(0);
        }
        let mut file = std::fs::File::open(&log).with_context(cannot)?;
        let mut text = Vec::new();
        file.read_to_end(&mut text).with_context(cannot)?;
        out.print(tail(&text, self.tail))?;
        if self.follow {
            follow(&dir, &log, &mut file, &mut out, None)?;
        }
        Ok(0)
    }
}

struct Printer<'a> {
    json: bool,
    id: &'a ContainerId,
}

impl Printer<'_> {
    fn print(&mut self, data: &[u8]) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let chunk = crate::contract::LogChunk {
                id: self.id.to_string(),
                output: String::from_utf8_lossy(data).into_owned(),
            };
            serde_json::to_writer(&mut stdout, &chunk)?;
            writeln!(stdout)?;
        } else {
            stdout.write_all(data)?;
        }
        stdout.flush()
    }
}

/// The last `n` lines of `data` (all of it without `n`).
fn tail(data: &[u8], n: Option<usize>) -> &[u8] {
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
                n => out.print(&buf[..n])?,
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
    use super::tail;

    #[test]
    fn tail_takes_whole_lines_from_the_end() {
        assert_eq!(tail(b"a\nb\nc\n", Some(2)), b"b\nc\n");
        assert_eq!(tail(b"a\nb\nc", Some(1)), b"c");
        assert_eq!(tail(b"a\nb\n", Some(5)), b"a\nb\n");
        assert_eq!(tail(b"a\nb\n", Some(0)), b"");
        assert_eq!(tail(b"", Some(0)), b"");
        assert_eq!(tail(b"prompt$ ", Some(0)), b"");
        assert_eq!(tail(b"", Some(3)), b"");
        assert_eq!(tail(b"a\nb\n", None), b"a\nb\n");
    }
}
