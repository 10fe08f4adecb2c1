//! Byte stream to lines: newline framing for files and UDP/TCP syslog, and RFC 6587 octet
//! counting ("LEN SP MSG") for TCP syslog, each frame told apart at its start. A line longer
//! than the limit is counted and skipped up to the next newline without being held whole.

use memchr::memchr;

/// How a stream is cut into lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Framing {
    /// One line per newline (files, UDP datagrams).
    #[default]
    Newline,
    /// TCP syslog: a frame starting with "LEN SP <" is octet-counted (RFC 6587 3.4.1),
    /// any other is newline-terminated (3.4.2); senders mix both.
    Syslog,
}

/// Default longest line: 64 KiB.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// What the framer dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    pub too_long: u64,
}

/// Holds at most one partial line (up to the limit) plus the last chunk pushed.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes.
    start: usize,
    /// Where the newline search resumes (bytes before it hold none).
    scan: usize,
    max_line: usize,
    framing: Framing,
    /// Inside an over-long newline-framed line: drop bytes up to the next newline.
    skipping: bool,
    /// Bytes of an over-long octet-counted frame still to drop.
    skip_octets: usize,
    pub stats: FrameStats,
}

impl Framer {
    pub fn new(framing: Framing, max_line: usize) -> Self {
        Framer {
            buf: Vec::new(),
            start: 0,
            scan: 0,
            max_line: max_line.max(1),
            framing,
            skipping: false,
            skip_octets: 0,
            stats: FrameStats::default(),
        }
    }

    /// Adds bytes. Take every line with [`Framer::next_line`] before pushing more, so that
    /// at most one chunk is held.
    pub fn push(&mut self, mut data: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.scan -= self.start;
            self.start = 0;
        }
        if self.skip_octets > 0 && self.buf.is_empty() {
            let n = self.skip_octets.min(data.len());
            self.skip_octets -= n;
            data = &data[n..];
        }
        if self.skipping && self.buf.is_empty() {
            match memchr(b'\n', data) {
                Some(i) => {
                    self.skipping = false;
                    data = &data[i + 1..];
                }
                None => return,
            }
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete line, without its newline (and a trailing CR or NUL).
    pub fn next_line(&mut self) -> Option<&[u8]> {
        loop {
            if self.skip_octets > 0 {
                let n = self.skip_octets.min(self.buf.len() - self.start);
                self.skip_octets -= n;
                self.start += n;
                self.scan = self.scan.max(self.start);
                if self.skip_octets > 0 {
                    return None;
                }
            }
            if self.framing == Framing::Syslog && !self.skipping {
                match self.octet_frame() {
                    Octets::Frame(a, b) => return Some(trim(&self.buf[a..b])),
                    Octets::NeedMore => return None,
                    Octets::Skipped => continue,
                    Octets::NotCounted => {}
                }
            }
            match memchr(b'\n', &self.buf[self.scan..]) {
                Some(i) => {
                    let end = self.scan + i;
                    let line = self.start..end;
                    self.start = end + 1;
                    self.scan = self.start;
                    if self.skipping {
                        self.skipping = false;
                        continue;
                    }
                    if line.len() > self.max_line {
                        self.stats.too_long += 1;
                        continue;
                    }
                    return Some(trim(&self.buf[line]));
                }
                None => {
                    self.scan = self.buf.len();
                    if self.skipping {
                        self.start = self.buf.len();
                    } else if self.buf.len() - self.start > self.max_line {
                        // Counted now; the rest of it is dropped as it comes.
                        self.stats.too_long += 1;
                        self.skipping = true;
                        self.start = self.buf.len();
                    }
                    return None;
                }
            }
        }
    }

    /// The input has ended: the last line, if it had no newline.
    pub fn finish(&mut self) -> Option<&[u8]> {
        if self.skipping || self.skip_octets > 0 || self.start >= self.buf.len() {
            self.skipping = false;
            self.skip_octets = 0;
            self.start = self.buf.len();
            self.scan = self.start;
            return None;
        }
        let line = self.start..self.buf.len();
        self.start = self.buf.len();
        self.scan = self.start;
        if line.len() > self.max_line {
            self.stats.too_long += 1;
            return None;
        }
        Some(trim(&self.buf[line]))
    }

    /// Bytes held (for memory accounting).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    fn octet_frame(&mut self) -> Octets {
        // Stray separators between frames.
        while self.start < self.buf.len() && matches!(self.buf[self.start], b'\n' | b'\r' | 0) {
            self.start += 1;
        }
        self.scan = self.scan.max(self.start);
        let rest = &self.buf[self.start..];
        let Some(&first) = rest.first() else {
            return Octets::NeedMore;
        };
        if !(b'1'..=b'9').contains(&first) {
            return Octets::NotCounted;
        }
        let digits = rest
            .iter()
            .take(11)
            .take_while(|c| c.is_ascii_digit())
            .count();
        let Some(&after) = rest.get(digits) else {
            return if digits > 10 {
                Octets::NotCounted
            } else {
                Octets::NeedMore
            };
        };
        if after != b' ' || digits > 10 {
            return Octets::NotCounted;
        }
        match rest.get(digits + 1) {
            None => return Octets::NeedMore,
            Some(b'<') => {}
            Some(_) => return Octets::NotCounted,
        }
        let len: usize = rest[..digits].iter().fold(0usize, |a, &c| {
            a.saturating_mul(10).saturating_add(usize::from(c - b'0'))
        });
        let body = self.start + digits + 1;
        if len > self.max_line {
            self.stats.too_long += 1;
            self.start = body;
            self.scan = body;
            self.skip_octets = len;
            return Octets::Skipped;
        }
        if self.buf.len() - body < len {
            return Octets::NeedMore;
        }
        self.start = body + len;
        self.scan = self.start;
        Octets::Frame(body, body + len)
    }
}

enum Octets {
    Frame(usize, usize),
    NeedMore,
    Skipped,
    NotCounted,
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n' | 0] = b {
        b = rest;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(f: &mut Framer, chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        for c in chunks {
            f.push(c);
            while let Some(l) = f.next_line() {
                out.push(String::from_utf8_lossy(l).into_owned());
            }
        }
        if let Some(l) = f.finish() {
            out.push(String::from_utf8_lossy(l).into_owned());
        }
        out
    }

    #[test]
    fn newline_lines_across_chunks() {
        let mut f = Framer::new(Framing::Newline, 100);
        assert_eq!(
            lines(&mut f, &[b"ab", b"c\r\nde", b"f\n\ngh"]),
            ["abc", "def", "", "gh"]
        );
    }

    #[test]
    fn long_line_is_skipped_and_stream_resyncs() {
        let mut f = Framer::new(Framing::Newline, 10);
        let long = vec![b'x'; 25];
        let got = lines(&mut f, &[b"ok\nxxxx", &long, &long, b"yyy\nnext\n"]);
        assert_eq!(got, ["ok", "next"]);
        assert_eq!(f.stats.too_long, 1);
        // Nothing of the long line was held beyond the limit and one chunk.
        assert!(f.buffered() <= 10 + 25);
    }

    #[test]
    fn long_line_within_one_chunk() {
        let mut f = Framer::new(Framing::Newline, 4);
        assert_eq!(lines(&mut f, &[b"a\n0123456789\nb\n"]), ["a", "b"]);
        assert_eq!(f.stats.too_long, 1);
    }

    #[test]
    fn octet_counted_and_newline_frames_mix() {
        let mut f = Framer::new(Framing::Syslog, 100);
        let got = lines(
            &mut f,
            &[
                b"10 <13>hello\n",
                b"wor",
                b"ld\n9 <13>a\nb c",
                b"\n<14>plain\n",
            ],
        );
        assert_eq!(got, ["<13>hello", "world", "<13>a\nb c", "<14>plain"]);
    }

    #[test]
    fn octet_counted_frame_over_limit_is_skipped() {
        let mut f = Framer::new(Framing::Syslog, 8);
        let got = lines(&mut f, &[b"20 <13>0123456", b"789abcdef", b"6 <1>abc"]);
        assert_eq!(got, ["<1>abc"]);
        assert_eq!(f.stats.too_long, 1);
    }

    #[test]
    fn digits_without_pri_are_newline_framed() {
        let mut f = Framer::new(Framing::Syslog, 100);
        assert_eq!(lines(&mut f, &[b"10 apples\n"]), ["10 apples"]);
    }
}
