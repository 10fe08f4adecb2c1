//! A webhook receiver on loopback for the tests and the latency bench: an axum server on
//! its own thread and runtime that records every request (when it arrived, headers, body)
//! and answers from a script of statuses, then 200.

#![allow(dead_code, clippy::unwrap_used)]

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Received {
    pub at: Instant,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// One scripted answer: status and an optional Retry-After.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: &'static str,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: "",
        }
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    /// Answer everything with this once the script is done (default 200).
    then: Option<Answer>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<(Mutex<State>, Condvar)>,
    _thread: std::thread::JoinHandle<()>,
}

impl Receiver {
    pub fn start() -> Receiver {
        Receiver::with_script(Vec::new(), None)
    }

    pub fn with_script(script: Vec<Answer>, then: Option<Answer>) -> Receiver {
        let state = Arc::new((
            Mutex::new(State {
                received: Vec::new(),
                script: script.into(),
                then,
            }),
            Condvar::new(),
        ));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
                    let st = st.clone();
                    async move {
                        let at = Instant::now();
                        let (lock, cv) = &*st;
                        let mut s = lock.lock().unwrap();
                        s.received.push(Received { at, headers, body });
                        let answer = s
                            .script
                            .pop_front()
                            .or_else(|| s.then.clone())
                            .unwrap_or(Answer::status(200));
                        cv.notify_all();
                        let mut resp =
                            axum::response::Response::new(axum::body::Body::from(answer.body));
                        *resp.status_mut() = StatusCode::from_u16(answer.status).unwrap();
                        if let Some(ra) = answer.retry_after {
                            resp.headers_mut()
                                .insert("retry-after", ra.parse().unwrap());
                        }
                        resp
                    }
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Receiver {
            addr,
            state,
            _thread: thread,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits until `n` requests came (or `limit` passed) and returns them all.
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        self.waited(n, limit, |r| r.to_vec())
    }

    /// Waits for the `n`th request (1-based) and returns when it arrived.
    pub fn wait_nth(&self, n: usize, limit: Duration) -> Option<Instant> {
        self.waited(n, limit, |r| r.get(n - 1).map(|r| r.at))
    }

    fn waited<T>(&self, n: usize, limit: Duration, f: impl FnOnce(&[Received]) -> T) -> T {
        let (lock, cv) = &*self.state;
        let end = Instant::now() + limit;
        let mut s = lock.lock().unwrap();
        while s.received.len() < n {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            s = cv.wait_timeout(s, left).unwrap().0;
        }
        f(&s.received)
    }

    pub fn count(&self) -> usize {
        self.state.0.lock().unwrap().received.len()
    }
}
