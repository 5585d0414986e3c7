//! A progress bar on stderr for `ocictl bundle --image`: one bar per layer
//! larger than a few MiB, only when stderr is a terminal (nothing on a pipe
//! or in a log), cleared when the layer is done.

use std::cell::RefCell;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ocictl::image::{Digest, Progress};

/// Layers smaller than this finish before a bar would help.
const MIN_BAR: u64 = 4 << 20;

pub struct LayerBars {
    bar: RefCell<Option<ProgressBar>>,
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
        if size < MIN_BAR {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
        ) {
            bar.set_style(style);
        }
        let short = &digest.hex()[..12];
        bar.set_prefix(format!("layer {}/{count} {short}", index + 1));
        *self.bar.borrow_mut() = Some(bar);
    }

    fn advanced(&self, bytes: u64) {
        if let Some(bar) = self.bar.borrow().as_ref() {
            bar.inc(bytes);
        }
    }

    fn layer_done(&self) {
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for LayerBars {
    fn drop(&mut self) {
        self.layer_done();
    }
}
