//! One BGP session as a deterministic state machine (RFC 4271 §8), with no sockets and no
//! clock: bytes and `now` go in, bytes to send, timer deadlines and events come out. The
//! shell owns TCP (the Connect and Active states) and calls `start` once connected.

use crate::family::Family;
use crate::notification::Notification;
use crate::open::{Capability, Open};
use crate::route::{Route, RouteKey};
use crate::update::{self, DecodeContext, EncodeContext, UpdateError};
use crate::wire::{self, code, MessageType, WireError};
use std::collections::VecDeque;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// RFC 4271 §8.2.2: the hold timer while waiting for the peer's OPEN.
const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);

/// What a session needs to know about itself and its peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    pub local_as: u32,
    pub peer_as: u32,
    pub router_id: Ipv4Addr,
    /// Proposed hold time in seconds: 0 (no keepalives) or at least 3.
    pub hold_time: u16,
    /// Families we offer; routes of other families are not sent.
    pub families: Vec<Family>,
    /// Advertise graceful restart (RFC 4724) with this restart time, so the peer keeps
    /// our routes for that long when the connection drops without a NOTIFICATION.
    pub graceful_restart: Option<u16>,
}

/// The RFC 4271 states the session itself goes through. Connect and Active are the
/// shell's (it owns the TCP connection); to the session they are `Idle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Idle,
    OpenSent,
    OpenConfirm,
    Established,
}

/// What was agreed in the OPEN exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Seconds; 0 means no keepalives and no hold timer.
    pub hold_time: u16,
    pub families: Vec<Family>,
    pub four_octet_as: bool,
    pub route_refresh: bool,
    pub peer_router_id: Ipv4Addr,
    pub peer_as: u32,
    /// The peer's graceful restart capability: it keeps our routes when we go away.
    pub peer_graceful_restart: bool,
}

/// Why a session went down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownReason {
    /// The peer sent a NOTIFICATION.
    NotificationReceived(Notification),
    /// We found an error in what the peer sent and told it so.
    NotificationSent(Notification),
    /// Nothing from the peer for the hold time.
    HoldTimerExpired,
    /// `stop` was called.
    Stopped,
    /// The shell saw the TCP connection close.
    ConnectionClosed,
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownReason::NotificationReceived(n) => write!(f, "peer sent NOTIFICATION: {n}"),
            DownReason::NotificationSent(n) => write!(f, "sent NOTIFICATION: {n}"),
            DownReason::HoldTimerExpired => f.write_str("hold timer expired"),
            DownReason::Stopped => f.write_str("stopped"),
            DownReason::ConnectionClosed => f.write_str("connection closed"),
        }
    }
}

/// Something the shell should act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The session is up: announce every active route.
    Established,
    /// The session is down; the shell closes the connection and reconnects.
    Down(DownReason),
    /// The peer asked for all our routes of a family again (RFC 2918).
    RouteRefreshRequested(Family),
}

/// Counters over the session's whole life (across reconnections).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionStats {
    pub messages_in: u64,
    pub messages_out: u64,
    pub updates_in: u64,
    pub updates_out: u64,
    /// Prefixes and rules the peer announced to us (counted, not kept).
    pub routes_received: u64,
    pub withdrawals_received: u64,
    /// Peer UPDATEs refused and treated as withdraw (RFC 7606).
    pub updates_malformed: u64,
    pub routes_announced: u64,
    pub routes_withdrawn: u64,
    pub keepalives_out: u64,
    pub established: u64,
}

/// The session was asked to send routes while it cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("session is not established")]
    NotEstablished,
    #[error("a route does not fit in one UPDATE")]
    TooLarge,
}

/// How many routes a call sent, and how many it left out for want of a negotiated family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub routes: usize,
    pub skipped: usize,
    pub messages: usize,
}

/// One peer's session. See the module documentation.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    negotiated: Option<Negotiated>,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    events: VecDeque<Event>,
    hold_deadline: Option<Instant>,
    keepalive_deadline: Option<Instant>,
    stats: SessionStats,
}

impl Session {
    pub fn new(config: SessionConfig) -> Self {
        Session {
            config,
            state: State::Idle,
            negotiated: None,
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            events: VecDeque::new(),
            hold_deadline: None,
            keepalive_deadline: None,
            stats: SessionStats::default(),
        }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// What the OPEN exchange agreed; `None` before OpenConfirm.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// The TCP connection is up: send our OPEN. Any previous connection's state is
    /// forgotten; counters carry on.
    pub fn start(&mut self, now: Instant) {
        self.inbuf.clear();
        self.outbuf.clear();
        self.negotiated = None;
        let open = Open::ours(
            self.config.local_as,
            self.config.hold_time,
            self.config.router_id,
            &self.config.families,
            self.config.graceful_restart,
        );
        open.encode(&mut self.outbuf);
        self.sent(now);
        self.state = State::OpenSent;
        self.hold_deadline = Some(now + OPEN_HOLD_TIME);
        self.keepalive_deadline = None;
    }

    /// Ends the session with Cease / administrative shutdown.
    pub fn stop(&mut self, now: Instant) {
        if self.state == State::Idle {
            return;
        }
        let n = Notification::cease(code::ADMINISTRATIVE_SHUTDOWN);
        n.encode(&mut self.outbuf);
        self.sent(now);
        self.down(DownReason::Stopped);
    }

    /// The shell saw the connection close (or failed to write to it).
    pub fn handle_close(&mut self, _now: Instant) {
        if self.state != State::Idle {
            self.down(DownReason::ConnectionClosed);
        }
    }

    /// Bytes from the peer, in any chunking.
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        if self.state == State::Idle {
            return;
        }
        self.inbuf.extend_from_slice(bytes);
        let mut at = 0;
        while self.state != State::Idle {
            let buf = std::mem::take(&mut self.inbuf);
            let step = match wire::frame(&buf[at..]) {
                Ok(Some(f)) => {
                    let len = f.len;
                    self.handle_message(now, f.kind, f.body);
                    Some(len)
                }
                Ok(None) => None,
                Err(e) => {
                    self.fail(now, &e);
                    None
                }
            };
            self.inbuf = buf;
            match step {
                Some(len) => at += len,
                None => break,
            }
        }
        if self.state == State::Idle {
            self.inbuf.clear();
        } else {
            self.inbuf.drain(..at);
        }
    }

    /// Timers: call at (or after) the deadline `poll_timeout` gave.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Idle {
            return;
        }
        if self.hold_deadline.is_some_and(|d| now >= d) {
            Notification::new(code::HOLD_TIMER_EXPIRED, 0).encode(&mut self.outbuf);
            self.sent(now);
            self.down(DownReason::HoldTimerExpired);
            return;
        }
        if self.keepalive_deadline.is_some_and(|d| now >= d) {
            self.send_keepalive(now);
        }
    }

    /// Bytes to write to the connection, as many messages as are waiting.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.outbuf.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.outbuf))
        }
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.hold_deadline, self.keepalive_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Queues UPDATEs announcing `routes`, leaving out those of families not negotiated.
    pub fn announce<'a>(
        &mut self,
        now: Instant,
        routes: impl IntoIterator<Item = &'a Route>,
    ) -> Result<Sent, SendError> {
        let (ctx, families) = self.send_context()?;
        let mut skipped = 0;
        let wanted = routes.into_iter().filter(|r| {
            let ok = families.contains(&r.family());
            skipped += usize::from(!ok);
            ok
        });
        let done = update::encode_announcements(&ctx, wanted, &mut self.outbuf)
            .map_err(|_| SendError::TooLarge)?;
        self.count_updates(now, done.messages);
        self.stats.routes_announced += done.routes as u64;
        Ok(Sent {
            routes: done.routes,
            skipped,
            messages: done.messages,
        })
    }

    /// Queues UPDATEs withdrawing `keys`, leaving out those of families not negotiated.
    pub fn withdraw<'a>(
        &mut self,
        now: Instant,
        keys: impl IntoIterator<Item = &'a RouteKey>,
    ) -> Result<Sent, SendError> {
        let (_, families) = self.send_context()?;
        let mut skipped = 0;
        let wanted = keys.into_iter().filter(|k| {
            let ok = families.contains(&k.family());
            skipped += usize::from(!ok);
            ok
        });
        let done = update::encode_withdrawals(wanted, &mut self.outbuf)
            .map_err(|_| SendError::TooLarge)?;
        self.count_updates(now, done.messages);
        self.stats.routes_withdrawn += done.routes as u64;
        Ok(Sent {
            routes: done.routes,
            skipped,
            messages: done.messages,
        })
    }

    /// Queues End-of-RIB for every negotiated family: after the initial announcement, it
    /// tells a graceful-restart helper which stale routes of ours to drop.
    pub fn end_of_rib(&mut self, now: Instant) -> Result<(), SendError> {
        let (_, families) = self.send_context()?;
        for f in &families {
            update::encode_end_of_rib(*f, &mut self.outbuf);
        }
        self.count_updates(now, families.len());
        Ok(())
    }

    fn send_context(&self) -> Result<(EncodeContext, Vec<Family>), SendError> {
        match (&self.negotiated, self.state) {
            (Some(n), State::Established) => Ok((
                EncodeContext::new(self.config.local_as, self.config.peer_as, n.four_octet_as),
                n.families.clone(),
            )),
            _ => Err(SendError::NotEstablished),
        }
    }

    fn count_updates(&mut self, now: Instant, messages: usize) {
        if messages > 0 {
            self.stats.updates_out += messages as u64;
            self.stats.messages_out += messages as u64 - 1;
            self.sent(now);
        }
    }

    fn handle_message(&mut self, now: Instant, kind: MessageType, body: &[u8]) {
        self.stats.messages_in += 1;
        match (self.state, kind) {
            (_, MessageType::Notification) => {
                self.down(DownReason::NotificationReceived(Notification::decode(body)));
            }
            (State::OpenSent, MessageType::Open) => match Open::decode(body) {
                Ok(open) => self.handle_open(now, open),
                Err(e) => self.fail(now, &e),
            },
            (State::OpenConfirm, MessageType::Keepalive) => {
                self.state = State::Established;
                self.stats.established += 1;
                self.heard(now);
                self.events.push_back(Event::Established);
            }
            (State::Established, MessageType::Keepalive) => self.heard(now),
            (State::Established, MessageType::Update) => {
                self.heard(now);
                self.stats.updates_in += 1;
                let ctx = DecodeContext {
                    four_octet_as: self.negotiated.as_ref().is_some_and(|n| n.four_octet_as),
                };
                match update::decode_update(body, &ctx) {
                    Ok(u) => {
                        self.stats.routes_received += u.announced.len() as u64;
                        self.stats.withdrawals_received += u.withdrawn.len() as u64;
                    }
                    Err(UpdateError::TreatAsWithdraw(_)) => self.stats.updates_malformed += 1,
                    Err(UpdateError::Reset(e)) => self.fail(now, &e),
                }
            }
            (State::Established, MessageType::RouteRefresh) => {
                self.heard(now);
                // Frame checked the length is 23: AFI, reserved (or RFC 7313 subtype), SAFI.
                let afi = u16::from_be_bytes([body[0], body[1]]);
                let subtype = body[2];
                let family = Family::from_afi_safi(afi, body[3]);
                let negotiated = self.negotiated.as_ref().map(|n| n.families.as_slice());
                match family {
                    // RFC 7313 markers (subtype 1, 2) are for the peer's own routes.
                    Some(f) if subtype == 0 && negotiated.is_some_and(|n| n.contains(&f)) => {
                        self.events.push_back(Event::RouteRefreshRequested(f));
                    }
                    _ => {} // RFC 2918 §4: a family not negotiated is ignored.
                }
            }
            (state, _) => {
                let subcode = match state {
                    State::OpenSent => code::UNEXPECTED_IN_OPEN_SENT,
                    State::OpenConfirm => code::UNEXPECTED_IN_OPEN_CONFIRM,
                    _ => code::UNEXPECTED_IN_ESTABLISHED,
                };
                let e = WireError::new(code::FSM, subcode, "message not expected in this state");
                self.fail(now, &e);
            }
        }
    }

    fn handle_open(&mut self, now: Instant, open: Open) {
        let peer_as = open.asn();
        if peer_as != self.config.peer_as {
            let e = WireError::new(
                code::OPEN_MESSAGE,
                code::BAD_PEER_AS,
                "peer AS is not the configured one",
            );
            return self.fail(now, &e);
        }
        if self.config.local_as == peer_as && open.bgp_id == self.config.router_id {
            let e = WireError::new(
                code::OPEN_MESSAGE,
                code::BAD_BGP_IDENTIFIER,
                "iBGP peer has our BGP identifier",
            );
            return self.fail(now, &e);
        }
        let offered = open.families();
        let families = self
            .config
            .families
            .iter()
            .copied()
            .filter(|f| offered.contains(f))
            .collect();
        let hold_time = self.config.hold_time.min(open.hold_time);
        self.negotiated = Some(Negotiated {
            hold_time,
            families,
            four_octet_as: open.four_octet_as(),
            route_refresh: open.has(&Capability::RouteRefresh),
            peer_router_id: open.bgp_id,
            peer_as,
            peer_graceful_restart: open
                .capabilities
                .iter()
                .any(|c| matches!(c, Capability::GracefulRestart { .. })),
        });
        self.state = State::OpenConfirm;
        self.send_keepalive(now);
        self.heard(now);
    }

    fn hold(&self) -> Option<Duration> {
        match &self.negotiated {
            Some(n) if n.hold_time > 0 => Some(Duration::from_secs(u64::from(n.hold_time))),
            _ => None,
        }
    }

    /// A message from the peer restarts the hold timer.
    fn heard(&mut self, now: Instant) {
        self.hold_deadline = self.hold().map(|h| now + h);
    }

    /// Anything sent restarts the keepalive timer (a third of the hold time).
    fn sent(&mut self, now: Instant) {
        self.stats.messages_out += 1;
        self.keepalive_deadline = self.hold().map(|h| now + h / 3);
    }

    fn send_keepalive(&mut self, now: Instant) {
        let start = wire::begin_message(&mut self.outbuf, MessageType::Keepalive);
        wire::finish_message(&mut self.outbuf, start);
        self.stats.keepalives_out += 1;
        self.sent(now);
    }

    /// Tells the peer what was wrong, and goes down.
    fn fail(&mut self, now: Instant, e: &WireError) {
        let n = Notification::from_error(e);
        n.encode(&mut self.outbuf);
        self.sent(now);
        self.down(DownReason::NotificationSent(n));
    }

    fn down(&mut self, reason: DownReason) {
        self.state = State::Idle;
        self.hold_deadline = None;
        self.keepalive_deadline = None;
        self.events.push_back(Event::Down(reason));
    }
}
