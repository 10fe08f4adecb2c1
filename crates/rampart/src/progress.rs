//! A one-line progress bar on standard error for long reads: shown only when standard error
//! is a terminal and the file is large, redrawn at most five times a second.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Files smaller than this read in about a second: no bar.
const MIN_BYTES: u64 = 256 << 20;
const REDRAW: Duration = Duration::from_millis(200);
const WIDTH: usize = 30;

#[derive(Debug)]
pub struct Progress {
    name: String,
    total: u64,
    started: Instant,
    last_draw: Option<Instant>,
    enabled: bool,
}

impl Progress {
    pub fn new(name: &str, total: u64) -> Self {
        Progress {
            name: name.to_string(),
            total,
            started: Instant::now(),
            last_draw: None,
            enabled: shown(total, std::io::stderr().is_terminal()),
        }
    }

    pub fn update(&mut self, done: u64) {
        if !self.enabled || self.last_draw.is_some_and(|t| t.elapsed() < REDRAW) {
            return;
        }
        self.last_draw = Some(Instant::now());
        let _ = write!(std::io::stderr(), "{}", self.line(done));
    }

    /// The bar for `done` bytes of the total, from the start of a terminal line.
    fn line(&self, done: u64) -> String {
        let fraction = (done as f64 / self.total.max(1) as f64).min(1.0);
        let filled = (fraction * WIDTH as f64) as usize;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs / 1e6;
        let eta = if done > 0 {
            (self.total.saturating_sub(done)) as f64 / (done as f64 / secs)
        } else {
            0.0
        };
        format!(
            "\r{} [{}{}] {:>3.0}% {rate:.0} MB/s, {eta:.0} s left ",
            self.name,
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            fraction * 100.0,
        )
    }

    /// Clears the bar's line so that the report starts clean.
    pub fn finish(&mut self) {
        if self.enabled && self.last_draw.is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

/// A bar only on a terminal, and only for a file that takes more than a moment to read.
fn shown(total: u64, terminal: bool) -> bool {
    terminal && total >= MIN_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_only_for_large_files_on_a_terminal() {
        assert!(shown(MIN_BYTES, true));
        assert!(!shown(MIN_BYTES - 1, true));
        assert!(!shown(u64::MAX, false));
    }

    #[test]
    fn the_bar_fills_with_the_bytes_read() {
        let p = Progress::new("big.pcap", 1_000);
        let half = p.line(500);
        assert!(half.starts_with("\rbig.pcap ["), "{half:?}");
        assert!(
            half.contains(&format!("[{}{}]  50%", "#".repeat(15), " ".repeat(15))),
            "{half:?}"
        );
        assert!(half.ends_with(" s left "), "{half:?}");
        let done = p.line(2_000);
        assert!(
            done.contains(&format!("[{}] 100%", "#".repeat(WIDTH))),
            "{done:?}"
        );
    }
}
