//! A progress line on stderr for `ocictl bundle --image`: one line per layer
//! larger than a few MiB, only when stderr is a terminal (nothing on a pipe
//! or in a log), redrawn in place at most ten times a second and cleared
//! when the layer is done.
//!
//! Hand-written rather than a progress-bar crate: the one bar ocictl draws
//! needs a few lines, and the crate (with its terminal and float-math
//! dependencies, libm among them) was loaded by every ocictl call, `state`
//! and `kill` too (docs/BENCHMARKS.md, issue 17).

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use ocictl::image::{Digest, Progress};

use crate::output::human_bytes;

/// Layers smaller than this finish before a bar would help.
const MIN_BAR: u64 = 4 << 20;
/// How often the line is redrawn, at most.
const REDRAW: Duration = Duration::from_millis(100);
/// The bar's width in cells, between its brackets.
const BAR_CELLS: u64 = 30;

pub struct LayerBars {
    bar: RefCell<Option<Bar>>,
}

/// The layer being shown.
struct Bar {
    prefix: String,
    total: u64,
    done: u64,
    started: Instant,
    drawn: Option<Instant>,
}

impl LayerBars {
    /// Bars if stderr is a terminal; None otherwise.
    pub fn on_terminal() -> Option<LayerBars> {
        std::io::stderr().is_terminal().then(|| LayerBars {
            bar: RefCell::new(None),
        })
    }
}

impl Progress for LayerBars {
    fn layer_started(&self, index: usize, count: usize, digest: &Digest, size: u64) {
        self.layer_done();
        if size < MIN_BAR {
            return;
        }
        let short = &digest.hex()[..12];
        let bar = Bar {
            prefix: format!("layer {}/{count} {short}", index + 1),
            total: size,
            done: 0,
            started: Instant::now(),
            drawn: None,
        };
        bar.draw();
        *self.bar.borrow_mut() = Some(bar);
    }

    fn advanced(&self, bytes: u64) {
        if let Some(bar) = self.bar.borrow_mut().as_mut() {
            bar.done = bar.done.saturating_add(bytes).min(bar.total);
            if bar.drawn.is_none_or(|at| at.elapsed() >= REDRAW) {
                bar.drawn = Some(Instant::now());
                bar.draw();
            }
        }
    }

    fn layer_done(&self) {
        if self.bar.borrow_mut().take().is_some() {
            // Back to the line's start and erase it.
            let _ = std::io::stderr().write_all(b"\r\x1b[K");
        }
    }
}

impl Drop for LayerBars {
    fn drop(&mut self) {
        self.layer_done();
    }
}

impl Bar {
    /// Redraw the line in place, cut to the terminal's width (a line that
    /// wrapped could not be redrawn with a carriage return).
    fn draw(&self) {
        let line = self.line(self.started.elapsed());
        let stderr = std::io::stderr();
        let width =
            ocictl::tty::window_size(stderr.as_fd()).map_or(80, |ws| usize::from(ws.ws_col).max(1));
        let shown: String = line.chars().take(width - 1).collect();
        let _ = write!(stderr.lock(), "\r{shown}\x1b[K");
    }

    /// `layer 1/3 0123456789ab [=====>      ] 12.5MiB/40MiB 5MiB/s 6s left`
    fn line(&self, elapsed: Duration) -> String {
        // Integer arithmetic only: float rounding (ceil) would bring libm back.
        let total = u128::from(self.total.max(1));
        let done = u128::from(self.done);
        let cells = BAR_CELLS as usize;
        let filled = ((done * u128::from(BAR_CELLS) / total) as usize).min(cells);
        let mut bar = "=".repeat(filled);
        if filled < cells {
            bar.push('>');
            bar.push_str(&" ".repeat(cells - filled - 1));
        }
        let mut line = format!(
            "{} [{bar}] {}/{}",
            self.prefix,
            human_bytes(self.done),
            human_bytes(self.total)
        );
        let millis = elapsed.as_millis();
        if millis >= 500 && done > 0 {
            let rate = (done * 1000 / millis).max(1);
            let left = (total.saturating_sub(done)).div_ceil(rate);
            let rate = u64::try_from(rate).unwrap_or(u64::MAX);
            line.push_str(&format!(" {}/s {left}s left", human_bytes(rate)));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(done: u64, total: u64) -> Bar {
        Bar {
            prefix: "layer 1/2 0123456789ab".into(),
            total,
            done,
            started: Instant::now(),
            drawn: None,
        }
    }

    #[test]
    fn the_line_shows_the_share_done_the_sizes_and_what_is_left() {
        let mib = 1 << 20;
        assert_eq!(
            bar(0, 40 * mib).line(Duration::ZERO),
            format!("layer 1/2 0123456789ab [>{}] 0B/40MiB", " ".repeat(29))
        );
        assert_eq!(
            bar(20 * mib, 40 * mib).line(Duration::from_secs(4)),
            format!(
                "layer 1/2 0123456789ab [{}>{}] 20MiB/40MiB 5MiB/s 4s left",
                "=".repeat(15),
                " ".repeat(14)
            )
        );
        assert_eq!(
            bar(40 * mib, 40 * mib).line(Duration::from_secs(8)),
            format!(
                "layer 1/2 0123456789ab [{}] 40MiB/40MiB 5MiB/s 0s left",
                "=".repeat(30)
            )
        );
    }

    #[test]
    fn sizes_at_the_edges_do_not_overflow() {
        let line = bar(u64::MAX, u64::MAX).line(Duration::from_secs(1));
        assert!(line.contains(&"=".repeat(30)), "{line}");
        let line = bar(1, 1).line(Duration::from_nanos(1));
        assert!(line.ends_with("1B/1B"), "{line}");
    }
}
