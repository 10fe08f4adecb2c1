//! The tokio shell around [`Session`]: one task per configured peer owning its TCP
//! connection (connect with backoff, or accept when passive), the set of active routes
//! that every session gets again when it comes (back) up, and per-peer status for the API.

use crate::config::{BgpConfig, ConfigError, PeerConfig, ShutdownPolicy};
use crate::family::Family;
use crate::route::{Route, RouteError, RouteKey};
use crate::session::{Event, SendError, Session, SessionStats, State};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long a TCP connect may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Backoff ceiling, unless `connect_retry_s` is larger.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long `shutdown` waits for each peer to withdraw and close.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
/// How long `announce` and `withdraw` wait for one peer's answer before reporting it failed,
/// so that one stuck peer does not hold up the others.
const REPLY_WAIT: Duration = Duration::from_secs(5);
/// A connection whose socket takes no bytes for this long is given up (the peer stopped
/// reading but not talking, so the hold timer would never fire).
const WRITE_STALL: Duration = Duration::from_secs(60);

/// Where a peer's connection is, RFC 4271 names: Connect while we dial, Active while we
/// wait (for the retry timer, or for a passive peer to call).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerState {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

/// One peer as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerStatus {
    pub address: IpAddr,
    pub port: u16,
    pub peer_as: u32,
    pub local_as: u32,
    pub passive: bool,
    pub state: PeerState,
    /// Seconds since the session was established; `None` when it is not.
    pub uptime_s: Option<u64>,
    /// Families negotiated with the peer in the current (or last) session.
    pub families: Vec<Family>,
    pub connect_attempts: u64,
    /// Counters over the life of the speaker.
    #[serde(flatten)]
    pub stats: SessionStats,
    /// Why the session last went down or a connection last failed.
    pub last_error: Option<String>,
}

/// A session came up or went down; for notifications and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerEvent {
    Established { peer: SocketAddr },
    Down { peer: SocketAddr, reason: String },
}

/// What one peer did with an announce or withdraw call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerResult {
    /// Written to the peer's socket. `skipped` routes were of families not negotiated
    /// with it.
    Sent { routes: usize, skipped: usize },
    /// No session now; the routes go out (or stay away) when it comes up.
    NotEstablished,
    /// Writing failed or the peer's task is gone.
    Failed(String),
}

/// One peer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerOutcome {
    pub peer: SocketAddr,
    pub result: PeerResult,
}

/// Every peer's answer to one announce or withdraw call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub peers: Vec<PeerOutcome>,
}

impl Report {
    /// Peers that took every route of the call.
    pub fn sent_to(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| matches!(p.result, PeerResult::Sent { skipped: 0, .. }))
            .count()
    }
}

/// The speaker could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpeakerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("initial route: {0}")]
    Route(#[from] RouteError),
    #[error("respond.bgp.listen: cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
}

enum Command {
    Announce(Arc<Vec<Route>>, oneshot::Sender<PeerResult>),
    Withdraw(Arc<Vec<RouteKey>>, oneshot::Sender<PeerResult>),
    Shutdown(ShutdownPolicy, oneshot::Sender<()>),
}

/// The active routes, shared by the handle and every peer task.
type RouteTable = Arc<Mutex<BTreeMap<RouteKey, Route>>>;

struct PeerLive {
    status: PeerStatus,
    established_at: Option<Instant>,
}

struct PeerHandle {
    peer: SocketAddr,
    commands: mpsc::Sender<Command>,
    live: Arc<Mutex<PeerLive>>,
}

/// The BGP speaker: peers from configuration, each driven by its own task.
pub struct Speaker {
    routes: RouteTable,
    peers: Vec<PeerHandle>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    events: broadcast::Sender<PeerEvent>,
    policy: ShutdownPolicy,
    listen: Option<SocketAddr>,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field(
                "peers",
                &self.peers.iter().map(|p| p.peer).collect::<Vec<_>>(),
            )
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking holder leaves plain data behind; carry on with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Speaker {
    /// Checks the configuration, listens if a peer is passive, and starts a task per peer.
    /// Must be called inside a tokio runtime.
    pub async fn start(config: BgpConfig) -> Result<Speaker, SpeakerError> {
        Self::start_with_routes(config, Vec::new()).await
    }

    /// Like [`Speaker::start`], with `routes` already active, so that they go out in every
    /// session's first UPDATEs, before its End-of-RIB. A daemon that restarts with
    /// `on_shutdown = "keep"` passes the routes it still wants here; a graceful-restart
    /// helper drops the stale ones it no longer hears about.
    pub async fn start_with_routes(
        config: BgpConfig,
        initial: Vec<Route>,
    ) -> Result<Speaker, SpeakerError> {
        config.validate()?;
        for r in &initial {
            r.validate()?;
        }
        let routes: RouteTable = Arc::new(Mutex::new(
            initial.into_iter().map(|r| (r.key(), r)).collect(),
        ));
        // Bind before any task starts, so a failure leaves nothing running.
        let listener = match config
            .listen
            .filter(|_| config.peers.iter().any(|p| p.passive))
        {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| SpeakerError::Listen { addr, source })?,
            ),
            None => None,
        };
        let (events, _) = broadcast::channel(64);
        let mut peers = Vec::new();
        let mut tasks = Vec::new();
        let mut passive = Vec::new();
        for p in &config.peers {
            let (tx, rx) = mpsc::channel(64);
            let live = Arc::new(Mutex::new(PeerLive {
                status: PeerStatus {
                    address: p.address,
                    port: p.port,
                    peer_as: p.peer_as,
                    local_as: p.local_as,
                    passive: p.passive,
                    state: PeerState::Idle,
                    uptime_s: None,
                    families: Vec::new(),
                    connect_attempts: 0,
                    stats: SessionStats::default(),
                    last_error: None,
                },
                established_at: None,
            }));
            let incoming = if p.passive {
                let (itx, irx) = mpsc::channel(1);
                passive.push((p.address, itx));
                Some(irx)
            } else {
                None
            };
            let task = PeerTask {
                peer: SocketAddr::new(p.address, p.port),
                config: p.clone(),
                session: Session::new(config.session_config(p)),
                routes: routes.clone(),
                live: live.clone(),
                commands: rx,
                incoming,
                events: events.clone(),
                failures: 0,
            };
            tasks.push(tokio::spawn(task.run()));
            peers.push(PeerHandle {
                peer: SocketAddr::new(p.address, p.port),
                commands: tx,
                live,
            });
        }
        let mut listen = None;
        if let Some(listener) = listener {
            listen = listener.local_addr().ok();
            tasks.push(tokio::spawn(accept(listener, passive)));
        }
        Ok(Speaker {
            routes,
            peers,
            tasks: Mutex::new(tasks),
            events,
            policy: config.on_shutdown,
            listen,
        })
    }

    /// The address passive peers connect to (with the real port when 0 was configured).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen
    }

    /// Adds or replaces `routes` in the active set and sends them to every established
    /// peer. Returns once each peer has written them to its socket or said why not. A
    /// route that fails validation refuses the whole call, before anything changes.
    pub async fn announce(&self, routes: Vec<Route>) -> Result<Report, RouteError> {
        for r in &routes {
            r.validate()?;
        }
        {
            let mut table = lock(&self.routes);
            for r in &routes {
                table.insert(r.key(), r.clone());
            }
        }
        let routes = Arc::new(routes);
        Ok(self
            .ask_all(|reply| Command::Announce(routes.clone(), reply))
            .await)
    }

    /// Removes `keys` from the active set and withdraws them from every established peer.
    /// Keys that are not active are withdrawn anyway (harmless, and it clears what a
    /// previous run may have left at a graceful-restart helper).
    pub async fn withdraw(&self, keys: Vec<RouteKey>) -> Report {
        {
            let mut table = lock(&self.routes);
            for k in &keys {
                table.remove(k);
            }
        }
        let keys = Arc::new(keys);
        self.ask_all(|reply| Command::Withdraw(keys.clone(), reply))
            .await
    }

    async fn ask_all(&self, make: impl Fn(oneshot::Sender<PeerResult>) -> Command) -> Report {
        let gone = || PeerResult::Failed("peer task ended".into());
        let slow = || PeerResult::Failed(format!("no answer within {REPLY_WAIT:?}"));
        let deadline = tokio::time::Instant::now() + REPLY_WAIT;
        let mut waiting = Vec::with_capacity(self.peers.len());
        for p in &self.peers {
            let (tx, rx) = oneshot::channel();
            let sent = tokio::time::timeout_at(deadline, p.commands.send(make(tx))).await;
            waiting.push((p.peer, sent, rx));
        }
        let mut report = Report::default();
        for (peer, sent, rx) in waiting {
            let result = match sent {
                Err(_) => slow(),
                Ok(Err(_)) => gone(),
                Ok(Ok(())) => match tokio::time::timeout_at(deadline, rx).await {
                    Err(_) => slow(),
                    Ok(Err(_)) => gone(),
                    Ok(Ok(r)) => r,
                },
            };
            report.peers.push(PeerOutcome { peer, result });
        }
        report
    }

    /// The active routes.
    pub fn routes(&self) -> Vec<Route> {
        lock(&self.routes).values().cloned().collect()
    }

    /// Every peer's state and counters.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.peers
            .iter()
            .map(|p| {
                let live = lock(&p.live);
                let mut s = live.status.clone();
                s.uptime_s = live.established_at.map(|t| t.elapsed().as_secs());
                s
            })
            .collect()
    }

    /// Sessions coming up and going down, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<PeerEvent> {
        self.events.subscribe()
    }

    /// Withdraws every active route and closes each session with Cease, or with
    /// `on_shutdown = "keep"` closes without a NOTIFICATION so graceful-restart helpers keep
    /// the routes. Waits up to 5 s per peer; the peer tasks end.
    pub async fn shutdown(&self) {
        let mut waiting = Vec::new();
        for p in &self.peers {
            let (tx, rx) = oneshot::channel();
            if p.commands
                .send(Command::Shutdown(self.policy, tx))
                .await
                .is_ok()
            {
                waiting.push(rx);
            }
        }
        for rx in waiting {
            let _ = tokio::time::timeout(SHUTDOWN_WAIT, rx).await;
        }
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        // Peer tasks end on their own when the command channels close; the listener does not.
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }
}

async fn accept(listener: TcpListener, peers: Vec<(IpAddr, mpsc::Sender<TcpStream>)>) {
    loop {
        let Ok((stream, from)) = listener.accept().await else {
            // Out of descriptors and the like: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        match peers.iter().find(|(a, _)| *a == from.ip()) {
            // A full channel means the peer task has a connection waiting already.
            Some((_, tx)) => {
                let _ = tx.try_send(stream);
            }
            // Not at info: anyone can connect, and a line each time would be a log flood.
            None => {
                tracing::debug!(%from, "bgp: connection from an address that is not a passive peer, closed")
            }
        }
    }
}

/// How a connection ended.
enum Exit {
    Down,
    Shutdown(oneshot::Sender<()>),
    /// The speaker handle is gone.
    Closed,
}

/// Result of waiting for something while no session is up.
enum Wait<T> {
    Done(T),
    Shutdown(oneshot::Sender<()>),
    Closed,
}

/// One TCP connection to the peer.
struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    buf: Vec<u8>,
}

struct PeerTask {
    peer: SocketAddr,
    config: PeerConfig,
    session: Session,
    routes: RouteTable,
    live: Arc<Mutex<PeerLive>>,
    commands: mpsc::Receiver<Command>,
    incoming: Option<mpsc::Receiver<TcpStream>>,
    events: broadcast::Sender<PeerEvent>,
    failures: u32,
}

impl PeerTask {
    async fn run(mut self) {
        loop {
            let stream = if self.config.passive {
                self.set_state(PeerState::Active);
                let Some(mut incoming) = self.incoming.take() else {
                    return;
                };
                let got = self.idle(async { incoming.recv().await }).await;
                self.incoming = Some(incoming);
                match got {
                    Wait::Done(Some(s)) => s,
                    Wait::Done(None) | Wait::Closed => return,
                    Wait::Shutdown(done) => return self.finish(done),
                }
            } else {
                self.set_state(PeerState::Connect);
                lock(&self.live).status.connect_attempts += 1;
                let config = self.config.clone();
                match self.idle(connect(config)).await {
                    Wait::Done(Ok(s)) => s,
                    Wait::Done(Err(e)) => {
                        self.note_error(format!("connect: {e}"));
                        match self.backoff().await {
                            Some(Wait::Shutdown(done)) => return self.finish(done),
                            Some(_) => return,
                            None => continue,
                        }
                    }
                    Wait::Closed => return,
                    Wait::Shutdown(done) => return self.finish(done),
                }
            };
            match self.connection(stream).await {
                Exit::Down => {}
                Exit::Shutdown(done) => return self.finish(done),
                Exit::Closed => return,
            }
            if !self.config.passive {
                match self.backoff().await {
                    Some(Wait::Shutdown(done)) => return self.finish(done),
                    Some(_) => return,
                    None => {}
                }
            }
        }
    }

    fn finish(&self, done: oneshot::Sender<()>) {
        self.set_state(PeerState::Idle);
        let _ = done.send(());
    }

    /// Waits out the retry timer. `None` when it ran out; otherwise what stopped it.
    async fn backoff(&mut self) -> Option<Wait<()>> {
        self.set_state(PeerState::Active);
        let base = Duration::from_secs(u64::from(self.config.connect_retry_s));
        let cap = MAX_BACKOFF.max(base);
        let delay = base.saturating_mul(1u32 << self.failures.min(16)).min(cap);
        self.failures = self.failures.saturating_add(1);
        match self.idle(tokio::time::sleep(delay)).await {
            Wait::Done(()) => None,
            other => Some(other),
        }
    }

    /// Runs `fut` while answering commands as a peer without a session does.
    async fn idle<T>(&mut self, fut: impl Future<Output = T>) -> Wait<T> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                v = &mut fut => return Wait::Done(v),
                cmd = self.commands.recv() => match cmd {
                    None => return Wait::Closed,
                    Some(Command::Shutdown(_, done)) => return Wait::Shutdown(done),
                    Some(Command::Announce(_, reply)) | Some(Command::Withdraw(_, reply)) => {
                        let _ = reply.send(PeerResult::NotEstablished);
                    }
                },
            }
        }
    }

    async fn connection(&mut self, stream: TcpStream) -> Exit {
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let mut conn = Conn {
            rd,
            wr,
            buf: vec![0u8; 64 * 1024],
        };
        self.session.start(Instant::now());
        loop {
            if let Err(e) = self.flush(&mut conn).await {
                self.session.handle_close(Instant::now());
                self.note_error(format!("write: {e}"));
            }
            if let Some(exit) = self.handle_events() {
                let _ = self.flush(&mut conn).await;
                self.sync_status();
                return exit;
            }
            self.sync_status();
            let deadline = self.session.poll_timeout();
            let timer = async move {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = conn.rd.read(&mut conn.buf) => match r {
                    Ok(0) => self.session.handle_close(Instant::now()),
                    Ok(n) => self.session.handle_bytes(Instant::now(), &conn.buf[..n]),
                    Err(e) => {
                        self.note_error(format!("read: {e}"));
                        self.session.handle_close(Instant::now());
                    }
                },
                _ = timer => self.session.handle_timeout(Instant::now()),
                // One session per peer: a second connection while one is up is closed.
                Some(extra) = recv_or_wait(self.incoming.as_mut()) => drop(extra),
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Announce(routes, reply)) => {
                        let r = self.session.announce(Instant::now(), routes.iter());
                        let _ = reply.send(self.deliver(&mut conn, r).await);
                    }
                    Some(Command::Withdraw(keys, reply)) => {
                        let r = self.session.withdraw(Instant::now(), keys.iter());
                        let _ = reply.send(self.deliver(&mut conn, r).await);
                    }
                    Some(Command::Shutdown(policy, done)) => {
                        self.shutdown_connection(policy, &mut conn).await;
                        return Exit::Shutdown(done);
                    }
                    None => {
                        self.shutdown_connection(ShutdownPolicy::Withdraw, &mut conn).await;
                        return Exit::Closed;
                    }
                },
            }
        }
    }

    async fn shutdown_connection(&mut self, policy: ShutdownPolicy, conn: &mut Conn) {
        let now = Instant::now();
        if policy == ShutdownPolicy::Withdraw {
            let keys: Vec<RouteKey> = lock(&self.routes).keys().cloned().collect();
            let _ = self.session.withdraw(now, keys.iter());
            self.session.stop(now);
        } else {
            // No NOTIFICATION: to a graceful-restart helper, a dropped connection means
            // "keep the routes until the restart time runs out".
            self.session.handle_close(now);
        }
        let _ = self.flush(conn).await;
        let _ = conn.wr.shutdown().await;
        while self.session.poll_event().is_some() {}
        self.note_error("shut down".into());
        self.session_down();
        self.sync_status();
    }

    /// Writes what an announce or withdraw queued, and says how it went.
    async fn deliver(
        &mut self,
        conn: &mut Conn,
        r: Result<crate::session::Sent, SendError>,
    ) -> PeerResult {
        match r {
            Ok(sent) => match self.flush(conn).await {
                Ok(()) => PeerResult::Sent {
                    routes: sent.routes,
                    skipped: sent.skipped,
                },
                Err(e) => {
                    self.session.handle_close(Instant::now());
                    PeerResult::Failed(format!("write: {e}"))
                }
            },
            Err(SendError::NotEstablished) => PeerResult::NotEstablished,
            Err(e) => PeerResult::Failed(e.to_string()),
        }
    }

    /// Writes everything the session has queued. It keeps reading while it writes: a peer
    /// that sends us a full table while we send it ours must not find both sides blocked.
    async fn flush(&mut self, conn: &mut Conn) -> io::Result<()> {
        while let Some(bytes) = self.session.poll_transmit() {
            let mut at = 0;
            let mut progress = tokio::time::Instant::now();
            while at < bytes.len() {
                tokio::select! {
                    n = conn.wr.write(&bytes[at..]) => match n? {
                        0 => return Err(io::ErrorKind::WriteZero.into()),
                        n => {
                            at += n;
                            progress = tokio::time::Instant::now();
                        }
                    },
                    r = conn.rd.read(&mut conn.buf) => match r? {
                        0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                        n => self.session.handle_bytes(Instant::now(), &conn.buf[..n]),
                    },
                    _ = tokio::time::sleep_until(progress + WRITE_STALL) => {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("peer took no bytes for {WRITE_STALL:?}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Acts on session events; returns how the connection ends when the session went down.
    fn handle_events(&mut self) -> Option<Exit> {
        // Refresh requests are answered once per family per batch of bytes: a peer that
        // sends a thousand of them gets our routes once, not a thousand times.
        let mut refresh: Vec<Family> = Vec::new();
        while let Some(ev) = self.session.poll_event() {
            let now = Instant::now();
            match ev {
                Event::Established => {
                    self.failures = 0;
                    let routes: Vec<Route> = lock(&self.routes).values().cloned().collect();
                    let _ = self.session.announce(now, routes.iter());
                    let _ = self.session.end_of_rib(now);
                    {
                        let mut live = lock(&self.live);
                        live.established_at = Some(now);
                        live.status.last_error = None;
                    }
                    tracing::info!(peer = %self.peer, routes = routes.len(), "bgp: session established");
                    let _ = self.events.send(PeerEvent::Established { peer: self.peer });
                }
                Event::RouteRefreshRequested(family) => {
                    if !refresh.contains(&family) {
                        refresh.push(family);
                    }
                }
                Event::Down(reason) => {
                    let reason = reason.to_string();
                    tracing::warn!(peer = %self.peer, %reason, "bgp: session down");
                    self.note_error(reason.clone());
                    self.session_down();
                    let _ = self.events.send(PeerEvent::Down {
                        peer: self.peer,
                        reason,
                    });
                    return Some(Exit::Down);
                }
            }
        }
        if !refresh.is_empty() {
            let routes: Vec<Route> = lock(&self.routes)
                .values()
                .filter(|r| refresh.contains(&r.family()))
                .cloned()
                .collect();
            let _ = self.session.announce(Instant::now(), routes.iter());
        }
        None
    }

    fn session_down(&self) {
        lock(&self.live).established_at = None;
    }

    fn note_error(&self, e: String) {
        lock(&self.live).status.last_error = Some(e);
    }

    fn set_state(&self, s: PeerState) {
        lock(&self.live).status.state = s;
    }

    fn sync_status(&self) {
        let mut live = lock(&self.live);
        live.status.stats = *self.session.stats();
        if let Some(n) = self.session.negotiated() {
            live.status.families = n.families.clone();
        }
        live.status.state = match self.session.state() {
            State::Idle => PeerState::Idle,
            State::OpenSent => PeerState::OpenSent,
            State::OpenConfirm => PeerState::OpenConfirm,
            State::Established => PeerState::Established,
        };
    }
}

async fn recv_or_wait(rx: Option<&mut mpsc::Receiver<TcpStream>>) -> Option<TcpStream> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn connect(config: PeerConfig) -> io::Result<TcpStream> {
    let socket = match config.address {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(local) = config.local_address {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    let addr = SocketAddr::new(config.address, config.port);
    tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
}
