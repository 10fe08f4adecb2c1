//! The syslog sink: RFC 5424 or CEF lines to a collector over UDP (one datagram each, RFC
//! 5426) or TCP (octet-counted framing, RFC 6587), reconnecting when the collector goes
//! away. A line that cannot be written is counted as failed and dropped: a SIEM feed
//! lives in the present.

use crate::config::{facility_code, NotifyConfigError, SyslogConfig, SyslogFormat, SyslogProtocol};
use crate::notification::Notification;
use crate::notifier::{Counters, Queued, SinkCtx};
use crate::rfc5424::{self, Origin};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// Datagrams stay within what RFC 5426 says every receiver should take.
const UDP_MAX: usize = 2_048;
/// A TCP frame may be longer, but not without bound.
const TCP_MAX: usize = 16_384;

#[derive(Debug)]
pub(crate) struct SyslogSink {
    address: String,
    protocol: SyslogProtocol,
    format: SyslogFormat,
    origin: Origin,
    timeout: Duration,
    udp: Option<UdpSocket>,
    tcp: Option<TcpStream>,
}

impl SyslogSink {
    pub(crate) fn new(
        cfg: &SyslogConfig,
        key: &str,
        daemon: &str,
    ) -> Result<SyslogSink, NotifyConfigError> {
        let facility = facility_code(&cfg.facility).ok_or_else(|| NotifyConfigError {
            key: format!("{key}.facility"),
            problem: format!("unknown facility `{}`", cfg.facility),
        })?;
        Ok(SyslogSink {
            address: cfg.address.clone(),
            protocol: cfg.protocol,
            format: cfg.format,
            origin: Origin::new(facility, daemon, std::process::id()),
            timeout: Duration::from_millis(cfg.connect_timeout_ms),
            udp: None,
            tcp: None,
        })
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Queued>, ctx: SinkCtx) {
        while let Some(q) = rx.recv().await {
            if ctx.abandon.is_set() {
                // Nothing here is worth a dead letter: the line is dropped and counted.
                Counters::add(&ctx.counters.failed, 1);
                continue;
            }
            let line = self.line(&q.n);
            match self.write(&line).await {
                Ok(()) => Counters::add(&ctx.counters.sent, 1),
                Err(e) => {
                    Counters::add(&ctx.counters.failed, 1);
                    tracing::debug!(sink = %ctx.name, address = %self.address, error = %e,
                                    "syslog line not written");
                }
            }
        }
        if let Some(mut s) = self.tcp.take() {
            let _ = tokio::time::timeout(self.timeout, s.shutdown()).await;
        }
    }

    fn line(&self, n: &Notification) -> String {
        let max = match self.protocol {
            SyslogProtocol::Udp => UDP_MAX,
            SyslogProtocol::Tcp => TCP_MAX,
        };
        match self.format {
            SyslogFormat::Rfc5424 => rfc5424::rfc5424(n, &self.origin, max),
            SyslogFormat::Cef => rfc5424::message(n, &self.origin, "-", &crate::cef::cef(n), max),
        }
    }

    /// Writes one message; a broken TCP connection is replaced once.
    async fn write(&mut self, line: &str) -> Result<(), String> {
        match self.protocol {
            SyslogProtocol::Udp => {
                if self.udp.is_none() {
                    self.udp = Some(self.udp_socket().await?);
                }
                let Some(sock) = &self.udp else {
                    return Err("no socket".into());
                };
                match sock.send(line.as_bytes()).await {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        // The address may have moved (DNS): resolve again next time.
                        self.udp = None;
                        Err(format!("send to {}: {e}", self.address))
                    }
                }
            }
            SyslogProtocol::Tcp => {
                // RFC 6587 §3.4.1 octet counting: "LEN SP MSG".
                let frame = format!("{} {line}", line.len());
                if self.tcp.as_ref().is_some_and(peer_closed) {
                    self.tcp = None;
                }
                let fresh = self.tcp.is_none();
                if fresh {
                    self.tcp = Some(self.tcp_connect().await?);
                }
                match self.tcp_write(frame.as_bytes()).await {
                    Ok(()) => Ok(()),
                    Err(_) if !fresh => {
                        self.tcp = Some(self.tcp_connect().await?);
                        self.tcp_write(frame.as_bytes()).await
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    async fn tcp_write(&mut self, frame: &[u8]) -> Result<(), String> {
        let Some(s) = self.tcp.as_mut() else {
            return Err("not connected".into());
        };
        // A collector that stops reading fills the window; do not wait for it forever.
        match tokio::time::timeout(self.timeout, s.write_all(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.tcp = None;
                Err(format!("write to {}: {e}", self.address))
            }
            Err(_) => {
                self.tcp = None;
                Err(format!("write to {} timed out", self.address))
            }
        }
    }

    async fn tcp_connect(&self) -> Result<TcpStream, String> {
        match tokio::time::timeout(self.timeout, TcpStream::connect(self.address.as_str())).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Ok(s)
            }
            Ok(Err(e)) => Err(format!("connect to {}: {e}", self.address)),
            Err(_) => Err(format!("connect to {} timed out", self.address)),
        }
    }

    async fn udp_socket(&self) -> Result<UdpSocket, String> {
        let addr = tokio::net::lookup_host(self.address.as_str())
            .await
            .map_err(|e| format!("resolve {}: {e}", self.address))?
            .next()
            .ok_or_else(|| format!("{} resolves to nothing", self.address))?;
        let local = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let sock = UdpSocket::bind(local)
            .await
            .map_err(|e| format!("bind {local}: {e}"))?;
        sock.connect(addr)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        Ok(sock)
    }
}

/// Has the collector closed the connection? Collectors never send on it, so a read that
/// finds the end of the stream means a restart; without this check the next line would
/// be written into the dead socket and lost without an error.
fn peer_closed(s: &TcpStream) -> bool {
    // A real peek on the (non-blocking) socket: tokio's own try_read answers from the
    // readiness its reactor has seen so far, which may not include the FIN yet.
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    match socket2::SockRef::from(s).peek(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}
