//! A small HTTP/1.1 client for one endpoint: POSTs over a kept-alive connection (plain or
//! rustls with the Mozilla roots plus an optional private CA), with a connect timeout,
//! a total timeout, and a bounded read of the answer.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The most of an answer's body we read (enough for an error message).
const MAX_RESPONSE: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub retry_after: Option<String>,
    /// The start of the body, for error messages.
    pub snippet: String,
}

pub(crate) struct HttpClient {
    host: String,
    port: u16,
    /// `Host` header: host, and the port when not the scheme's default.
    authority: HeaderValue,
    path: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    connect_timeout: Duration,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl HttpClient {
    /// For `url` (validated: http or https with a host). `ca_pem` adds trusted CAs.
    pub(crate) fn new(
        url: &str,
        ca_pem: Option<&[u8]>,
        connect_timeout: Duration,
    ) -> Result<HttpClient, String> {
        let uri: Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("the URL must be http:// or https://".into()),
        };
        let host = uri.host().ok_or("the URL has no host")?;
        // IPv6 literals come bracketed in URLs; sockets and TLS names take them bare.
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = match uri.port_u16() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let authority = HeaderValue::from_str(&authority).map_err(|e| e.to_string())?;
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let tls = if https {
            let name = ServerName::try_from(bare.clone())
                .map_err(|e| format!("`{bare}` is not a TLS server name: {e}"))?;
            Some((TlsConnector::from(Arc::new(client_config(ca_pem)?)), name))
        } else {
            None
        };
        Ok(HttpClient {
            host: bare,
            port,
            authority,
            path,
            tls,
            connect_timeout,
            conn: None,
        })
    }

    /// POSTs `body` with `headers`, all within `timeout`. A kept-alive connection that
    /// turns out closed is replaced once, inside the same attempt.
    pub(crate) async fn post(
        &mut self,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Response, String> {
        match tokio::time::timeout(timeout, self.post_inner(headers, body)).await {
            Ok(r) => r,
            Err(_) => {
                self.conn = None;
                Err(format!("timed out after {} ms", timeout.as_millis()))
            }
        }
    }

    async fn post_inner(
        &mut self,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Response, String> {
        let reused = match self.conn.as_mut() {
            Some(c) => c.ready().await.is_ok(),
            None => false,
        };
        if !reused {
            self.conn = Some(self.connect().await?);
        }
        match self.send(headers, body.clone()).await {
            Ok(r) => Ok(r),
            Err(_) if reused => {
                // The server may close an idle connection just as we write on it.
                self.conn = Some(self.connect().await?);
                self.send(headers, body).await
            }
            Err(e) => Err(e),
        }
    }

    async fn send(
        &mut self,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Response, String> {
        let Some(conn) = self.conn.as_mut() else {
            return Err("not connected".into());
        };
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.path.as_str())
            .header(hyper::header::HOST, self.authority.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("rampart/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        for (k, v) in headers {
            req.headers_mut().insert(k.clone(), v.clone());
        }
        let resp = match conn.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                return Err(describe(&e));
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let snippet = match Limited::new(resp.into_body(), MAX_RESPONSE).collect().await {
            Ok(b) => {
                let b = b.to_bytes();
                let s = String::from_utf8_lossy(&b[..b.len().min(200)]);
                crate::rfc5424::one_line(s.trim())
            }
            Err(_) => {
                // Too long or broken: the status still counts, the connection does not.
                self.conn = None;
                String::new()
            }
        };
        Ok(Response {
            status,
            retry_after,
            snippet,
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let t = self.connect_timeout;
        let connecting = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| format!("connect to {}:{}: {e}", self.host, self.port))?;
            // Notifications are small and urgent: no Nagle delay.
            let _ = tcp.set_nodelay(true);
            match &self.tls {
                None => handshake(tcp).await,
                Some((connector, name)) => {
                    let tls = connector
                        .connect(name.clone(), tcp)
                        .await
                        .map_err(|e| format!("TLS with {}: {e}", self.host))?;
                    handshake(tls).await
                }
            }
        };
        match tokio::time::timeout(t, connecting).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "connect to {}:{} timed out after {} ms",
                self.host,
                self.port,
                t.as_millis()
            )),
        }
    }
}

async fn handshake<S>(io: S) -> Result<SendRequest<Full<Bytes>>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| describe(&e))?;
    tokio::spawn(async move {
        // Ends when the connection closes or the sender is dropped; errors show up on
        // the next request.
        let _ = conn.await;
    });
    Ok(sender)
}

fn describe(e: &hyper::Error) -> String {
    use std::error::Error;
    match e.source() {
        Some(s) => format!("{e}: {s}"),
        None => e.to_string(),
    }
}

/// rustls with ring, the Mozilla roots and the CAs of `ca_pem`; HTTP/1.1 by ALPN.
fn client_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("ca_file: {e}"))?;
            roots.add(cert).map_err(|e| format!("ca_file: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err("ca_file: no certificate in it".into());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// `scheme://host:port` of a URL, without the path (which may hold a secret).
pub(crate) fn redacted(url: &str) -> String {
    match url.parse::<Uri>() {
        Ok(u) => {
            let scheme = u.scheme_str().unwrap_or("?");
            let host = u.host().unwrap_or("?");
            match u.port_u16() {
                Some(p) => format!("{scheme}://{host}:{p}"),
                None => format!("{scheme}://{host}"),
            }
        }
        Err(_) => "(bad URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            redacted("https://hooks.slack.com/services/T0/B0/SECRET"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            redacted("http://127.0.0.1:8080/x?token=1"),
            "http://127.0.0.1:8080"
        );
        let c = HttpClient::new("http://[::1]:81/a?b=c", None, Duration::from_secs(1)).unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.path.as_str()),
            ("::1", 81, "/a?b=c")
        );
        assert_eq!(c.authority, "[::1]:81");
        let c = HttpClient::new("https://example.org", None, Duration::from_secs(1)).unwrap();
        assert_eq!((c.port, c.path.as_str(), c.tls.is_some()), (443, "/", true));
        assert!(
            HttpClient::new("https://x", Some(b"nothing"), Duration::from_secs(1))
                .unwrap_err()
                .contains("no certificate")
        );
    }
}
