//! Counters of what the framer and the parsers saw, skipped and kept bounded. Every line
//! that gives nothing is counted under exactly one reason.

/// Totals since the reader (or line parser) was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Lines (frames) handed to the parser, including empty and bad ones.
    pub lines: u64,
    /// Events of each kind given out.
    pub auth_events: u64,
    pub http_events: u64,
    pub flow_records: u64,
    /// Lines of a known program or format that say nothing we report (session opened,
    /// packets sent, ...), or that were one more line of an attempt already counted.
    pub ignored: u64,
    /// Syslog lines of programs no parser knows (cron, systemd, ...).
    pub other_program: u64,
    /// Empty lines.
    pub empty: u64,
    /// Lines over the length limit: skipped without being buffered whole.
    pub too_long: u64,
    /// Lines that were not UTF-8. They are still parsed, with the bad bytes replaced, so
    /// that a stray byte in a user name cannot hide an attack.
    pub invalid_utf8: u64,
    /// Lines without a readable header for their format (not syslog, no timestamp, ...).
    pub bad_header: u64,
    /// Lines a parser recognised but could not read (a bad address, a cut-off line).
    pub malformed: u64,
    /// Fields cut to their bound (user names, paths, reasons).
    pub truncated_fields: u64,
    /// Per-connection (sshd pid, IKE SA, VPN peer) states dropped to stay within bounds.
    pub state_evictions: u64,
}

impl ParseStats {
    /// Lines that were bad input (what `analyze` reports as errors); lines of programs we
    /// do not parse and lines with nothing to report are not errors.
    pub fn errors(&self) -> u64 {
        self.too_long + self.invalid_utf8 + self.bad_header + self.malformed
    }

    /// Events given out.
    pub fn events(&self) -> u64 {
        self.auth_events + self.http_events + self.flow_records
    }
}
