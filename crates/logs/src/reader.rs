//! The streaming API: bytes of a file or a socket in, events out. Framing (newline or
//! RFC 6587 octet counting) feeds a [`LineParser`]; nothing here does I/O.

use crate::format::Format;
use crate::framing::{Framer, Framing, DEFAULT_MAX_LINE};
use crate::parser::LineParser;
use crate::stats::ParseStats;
use crate::time::TimeContext;
use crate::LogEvent;
use rampart_model::Timestamp;

/// Push chunks, poll events until `None`, push again; call `finish` at the end of input.
///
/// ```
/// use rampart_logs::{Format, LogReader, TimeContext, Timestamp};
/// let mut r = LogReader::new(Format::Syslog, TimeContext::new(Timestamp::from_secs(1_780_272_000), 0));
/// r.push(b"Feb 12 14:10:21 h sshd[7]: Invalid user bob from 192.0.2.9 port 4000\n");
/// let e = r.poll_event().unwrap();
/// assert_eq!(e.as_auth().unwrap().user.as_deref(), Some("bob"));
/// ```
#[derive(Debug)]
pub struct LogReader {
    framer: Framer,
    parser: LineParser,
    finished: bool,
}

impl LogReader {
    /// A reader of newline-framed lines of at most [`DEFAULT_MAX_LINE`] bytes.
    pub fn new(format: Format, time: TimeContext) -> Self {
        Self::with_framing(format, time, Framing::Newline, DEFAULT_MAX_LINE)
    }

    pub fn with_framing(
        format: Format,
        time: TimeContext,
        framing: Framing,
        max_line: usize,
    ) -> Self {
        LogReader {
            framer: Framer::new(framing, max_line),
            parser: LineParser::new(format, time),
            finished: false,
        }
    }

    /// Adds bytes. Poll every event before pushing more: a chunk is held until then.
    pub fn push(&mut self, data: &[u8]) {
        self.framer.push(data);
    }

    /// The next event of the lines pushed so far.
    pub fn poll_event(&mut self) -> Option<LogEvent> {
        loop {
            if let Some(e) = self.parser.poll_event() {
                return Some(e);
            }
            let line = self.framer.next_line()?;
            self.parser.feed(line);
        }
    }

    /// The input has ended: the lines left, the last one without a newline, are parsed and
    /// held events let out. Poll again afterwards.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        while let Some(line) = self.framer.next_line() {
            self.parser.feed(line);
        }
        if let Some(line) = self.framer.finish() {
            self.parser.feed(line);
        }
        self.parser.finish();
    }

    /// Convenience: all events of a whole text, `finish` included.
    pub fn read_all(format: Format, time: TimeContext, text: &[u8]) -> (Vec<LogEvent>, ParseStats) {
        let mut r = LogReader::new(format, time);
        let mut out = Vec::new();
        r.push(text);
        while let Some(e) = r.poll_event() {
            out.push(e);
        }
        r.finish();
        while let Some(e) = r.poll_event() {
            out.push(e);
        }
        (out, r.stats())
    }

    pub fn set_reference(&mut self, reference: Timestamp) {
        self.parser.set_reference(reference);
    }

    /// The parser's counters plus the framer's (lines over the limit never reach the
    /// parser, so `lines` leaves them out).
    pub fn stats(&self) -> ParseStats {
        let mut s = self.parser.stats();
        s.too_long += self.framer.stats.too_long;
        s
    }

    /// Bytes held by the framer (at most one line and one pushed chunk).
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }

    pub fn parser(&self) -> &LineParser {
        &self.parser
    }
}
