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
            enabled: total >= MIN_BYTES && std::io::stderr().is_terminal(),
        }
    }

    pub fn update(&mut self, done: u64) {
        if !self.enabled || self.last_draw.is_some_and(|t| t.elapsed() < REDRAW) {
            return;
        }
        self.last_draw = Some(Instant::now());
        let fraction = (done as f64 / self.total.max(1) as f64).min(1.0);
        let filled = (fraction * WIDTH as f64) as usize;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs / 1e6;
        let eta = if done > 0 {
            (self.total.saturating_sub(done)) as f64 / (done as f64 / secs)
        } else {
            0.0
        };
        let _ = write!(
            std::io::stderr(),
            "\r{} [{}{}] {:>3.0}% {rate:.0} MB/s, {eta:.0} s left ",
            self.name,
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            fraction * 100.0,
        );
    }

    /// Clears the bar's line so that the report starts clean.
    pub fn finish(&mut self) {
        if self.enabled && self.last_draw.is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}
