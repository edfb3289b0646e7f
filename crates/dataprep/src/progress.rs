//! The progress bar on stderr: bytes read, documents per second, MB/s, kept and removed so far.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of a run; hidden when not asked for (tests, non-interactive use).
pub struct Progress {
    bar: ProgressBar,
    visible: bool,
    started: Instant,
    docs: AtomicU64,
    kept: AtomicU64,
    removed: AtomicU64,
}

impl Progress {
    pub fn new(visible: bool, total_bytes: u64) -> Self {
        let bar = if visible {
            ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr_with_hz(5))
        } else {
            ProgressBar::hidden()
        };
        let style = ProgressStyle::with_template(
            "scan  [{elapsed_precise}] {bar:25} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
        );
        if let Ok(style) = style {
            bar.set_style(style);
        }
        Self {
            bar,
            visible,
            started: Instant::now(),
            docs: AtomicU64::new(0),
            kept: AtomicU64::new(0),
            removed: AtomicU64::new(0),
        }
    }

    /// A batch was read: `lines` lines from `bytes` bytes on disk.
    pub fn scanned(&self, lines: u64, bytes: u64, kept: u64, removed: u64) {
        let docs = self.docs.fetch_add(lines, Ordering::Relaxed) + lines;
        let kept = self.kept.fetch_add(kept, Ordering::Relaxed) + kept;
        let removed = self.removed.fetch_add(removed, Ordering::Relaxed) + removed;
        self.bar.inc(bytes);
        if self.visible {
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            self.bar.set_message(format!(
                "{docs} docs ({:.0}/s, {:.1} MB/s) kept {kept} removed {removed}",
                docs as f64 / secs,
                self.bar.position() as f64 / 1e6 / secs
            ));
        }
    }

    /// Bytes that need no reading (a file finished by an earlier run, or the rest of a file).
    pub fn skip(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    pub fn finish_scan(&self) {
        self.bar.finish_and_clear();
    }

    /// A bar for phase 3, counting documents written.
    pub fn writing(&self, documents: u64) -> ProgressBar {
        if !self.visible {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(documents), ProgressDrawTarget::stderr_with_hz(5));
        if let Ok(style) = ProgressStyle::with_template("write [{elapsed_precise}] {bar:25} {pos}/{len} docs {per_sec}")
        {
            bar.set_style(style);
        }
        bar
    }
}
