//! One line at a time: checks and counts the line, reads the header its format has, and
//! hands the message to the parser of its program (sshd, openvpn, charon, kernel, ...),
//! which keeps per-connection state to turn several lines into one attempt.

use crate::format::Format;
use crate::out::{Ctx, Out, Status};
use crate::stats::ParseStats;
use crate::time::{Clock, TimeContext};
use crate::LogEvent;
use crate::{
    access, asa, fortigate, json, netfilter, openvpn, paloalto, sshd, strongswan, syslog, wireguard,
};
use rampart_model::Timestamp;

/// Parses lines of one format into events, with the state that ties lines together.
#[derive(Debug)]
pub struct LineParser {
    format: Format,
    time: TimeContext,
    clock: Clock,
    out: Out,
    sshd: sshd::Sshd,
    openvpn: openvpn::Openvpn,
    charon: strongswan::Charon,
    asa: asa::Asa,
    /// The last syslog line that gave or changed something, for sysklogd's "last message
    /// repeated N times" (it refers to the line before it).
    prev: String,
    prev_valid: bool,
}

/// Which parser a syslog tag names.
enum Program {
    Sshd,
    Openvpn,
    Charon,
    Kernel,
    Web,
    Asa,
    Quiet,
    Unknown,
}

fn program(tag: &str) -> Program {
    match tag {
        "sshd" | "sshd-session" | "sshd-auth" => Program::Sshd,
        "charon" | "charon-systemd" | "charon-nm" | "ipsec" | "strongswan" | "swanctl" => {
            Program::Charon
        }
        "kernel" => Program::Kernel,
        "nginx" | "apache" | "apache2" | "httpd" => Program::Web,
        // wg-quick logs only the commands it runs.
        "wg-quick" => Program::Quiet,
        "" => Program::Unknown,
        t if t.starts_with("openvpn") || t.starts_with("ovpn") => Program::Openvpn,
        t if t.starts_with("%ASA-") || t.starts_with("%FTD-") || t.starts_with("%PIX-") => {
            Program::Asa
        }
        _ => Program::Unknown,
    }
}

impl LineParser {
    pub fn new(format: Format, time: TimeContext) -> Self {
        LineParser {
            format,
            time,
            clock: Clock::new(time),
            out: Out::default(),
            sshd: sshd::Sshd::default(),
            openvpn: openvpn::Openvpn::default(),
            charon: strongswan::Charon::default(),
            asa: asa::Asa::default(),
            prev: String::new(),
            prev_valid: false,
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Moves the reference for year-less stamps (live: the clock, now and then).
    pub fn set_reference(&mut self, reference: Timestamp) {
        self.time.reference_secs = reference.as_secs() as i64;
        self.clock.set_reference(self.time.reference_secs);
    }

    /// Parses one line (without its newline). Events wait in [`LineParser::poll_event`].
    pub fn feed(&mut self, line: &[u8]) {
        self.out.stats.lines += 1;
        match std::str::from_utf8(line) {
            Ok(s) => self.line(s),
            Err(_) => {
                self.out.stats.invalid_utf8 += 1;
                let s = String::from_utf8_lossy(line);
                self.line(&s);
            }
        }
    }

    /// Parses one line of text.
    pub fn feed_str(&mut self, line: &str) {
        self.out.stats.lines += 1;
        self.line(line);
    }

    pub fn poll_event(&mut self) -> Option<LogEvent> {
        self.out.events.pop_front()
    }

    /// The input has ended: events held for a peer address still to come are given out
    /// as they are, and PAM failures of connections that never ended are counted.
    pub fn finish(&mut self) {
        self.charon.flush(&mut self.out);
        self.sshd.flush(&mut self.out);
    }

    pub fn stats(&self) -> ParseStats {
        self.out.stats
    }

    /// Per-connection states held (sshd connections, IKE SAs, VPN peers).
    pub fn state_len(&self) -> usize {
        self.sshd.state_len()
            + self.openvpn.state_len()
            + self.charon.state_len()
            + self.asa.state_len()
    }

    fn line(&mut self, s: &str) {
        if s.trim_ascii().is_empty() {
            self.out.stats.empty += 1;
            return;
        }
        let status = match self.format {
            Format::Syslog => self.syslog_line(s),
            Format::Openvpn => match openvpn::file_prefix(s, &self.time) {
                Some((time, msg)) => {
                    let ctx = Ctx {
                        time,
                        host: None,
                        pid: None,
                        repeat: 1,
                    };
                    self.openvpn.parse(&ctx, msg, &mut self.out)
                }
                None => Status::BadHeader,
            },
            Format::Access => access::parse(s, &mut self.out),
            Format::Json => json::parse(s, &mut self.out),
        };
        self.count(status);
    }

    fn count(&mut self, status: Status) {
        let s = &mut self.out.stats;
        match status {
            Status::Emitted => {}
            Status::Absorbed | Status::Ignored => s.ignored += 1,
            Status::Malformed => s.malformed += 1,
            Status::OtherProgram => s.other_program += 1,
            Status::BadHeader => s.bad_header += 1,
        }
    }

    fn syslog_line(&mut self, s: &str) -> Status {
        let Some(h) = syslog::parse(s, &mut self.clock) else {
            // Vendor lines written to a file without a syslog header.
            if fortigate::looks_like(s) {
                let ctx = self.ctx(None, None, None, 1);
                let status = fortigate::parse(&ctx, s, &self.time, &mut self.out);
                return self.remember(s, status);
            }
            return Status::BadHeader;
        };
        if let Some(n) = syslog::last_repeated(h.msg) {
            return self.replay_previous(n, h.time);
        }
        let status = self.message(&h, None);
        self.remember(s, status)
    }

    fn remember(&mut self, s: &str, status: Status) -> Status {
        self.prev_valid = matches!(status, Status::Emitted | Status::Absorbed);
        if self.prev_valid {
            self.prev.clear();
            self.prev.push_str(s);
        }
        status
    }

    /// "last message repeated N times": the line before, N more times, at this line's time.
    fn replay_previous(&mut self, n: u32, time: Option<Timestamp>) -> Status {
        if !self.prev_valid || n == 0 {
            return Status::Ignored;
        }
        let prev = std::mem::take(&mut self.prev);
        let status = match syslog::parse(&prev, &mut self.clock) {
            Some(h) => {
                let before = self.out.events.len();
                let st = self.message(&h, Some(n));
                if let Some(t) = time {
                    for e in self.out.events.range_mut(before..) {
                        if let LogEvent::Auth(a) = e {
                            a.time = t;
                        }
                    }
                }
                st
            }
            None => Status::Ignored,
        };
        self.prev = prev;
        status
    }

    fn ctx<'a>(
        &self,
        time: Option<Timestamp>,
        host: Option<&'a str>,
        pid: Option<u32>,
        repeat: u32,
    ) -> Ctx<'a> {
        Ctx {
            time: time.unwrap_or_else(|| self.time.reference()),
            host,
            pid,
            repeat,
        }
    }

    /// A syslog message, dispatched by its tag (or by its content when it has none).
    fn message(&mut self, h: &syslog::Header, repeat: Option<u32>) -> Status {
        let (n, msg) = match syslog::repeated(h.msg) {
            Some((n, inner)) => (n, inner),
            None => (1, h.msg),
        };
        let n = repeat.map_or(n, |r| r.saturating_mul(n));
        let ctx = self.ctx(h.time, h.host, h.pid, n);
        let out = &mut self.out;
        match program(h.tag) {
            Program::Sshd => self.sshd.parse(&ctx, msg, out),
            Program::Openvpn => self.openvpn.parse(&ctx, msg, out),
            Program::Charon => self.charon.parse(&ctx, msg, out),
            Program::Kernel => {
                let msg = netfilter::strip_kernel_time(msg);
                if msg.contains("IN=") {
                    netfilter::parse(&ctx, msg, out)
                } else if let Some(rest) = msg.strip_prefix("wireguard: ") {
                    wireguard::parse(&ctx, rest, out)
                } else {
                    Status::Ignored
                }
            }
            Program::Web => access::parse(msg, out),
            Program::Asa => self.asa.parse(&ctx, h.tag, msg, out),
            Program::Quiet => Status::Ignored,
            Program::Unknown => {
                if fortigate::looks_like(msg) {
                    fortigate::parse(&ctx, msg, &self.time, out)
                } else if paloalto::looks_like(msg) {
                    paloalto::parse(&ctx, msg, &self.time, out)
                } else if let Some(i) = msg.find("%ASA-").or_else(|| msg.find("%FTD-")) {
                    // A relay put its own words before Cisco's tag.
                    let rest = &msg[i..];
                    let (tag, body) = rest.split_once(": ").unwrap_or((rest, ""));
                    self.asa.parse(&ctx, tag, body, out)
                } else {
                    Status::OtherProgram
                }
            }
        }
    }
}
