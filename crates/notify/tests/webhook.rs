#![allow(clippy::unwrap_used)] // a test: a panic is the failure report
//! Webhooks against a real HTTP receiver on loopback: signed JSON checked by an
//! independent HMAC, by the Python and shell examples of docs/notify.md; Slack's shape;
//! retries with backoff and the dead letter when the endpoint is down or failing; 429 with
//! Retry-After; no retry on 400; a stuck endpoint that blocks neither `notify` nor the
//! other sinks; shutdown flushing; HTTPS with a private CA (`ca_file`) to a Python
//! receiver (tests/https_receiver.py) that checks the signature itself.

mod common;

use common::receiver::{Answer, Receiver};
use common::{notification, run};
use hmac::{KeyInit, Mac};
use rampart_notify::{
    sign, EventKind, Notification, Notifier, NotifyConfig, WebhookConfig, WebhookFormat,
};
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime};

const SECRET: &str = "correct horse battery staple";

fn hook(url: String) -> WebhookConfig {
    WebhookConfig {
        url,
        secret: Some(SECRET.into()),
        backoff_ms: 50,
        backoff_max_ms: 400,
        timeout_ms: 2_000,
        ..WebhookConfig::default()
    }
}

fn config(hooks: Vec<WebhookConfig>) -> NotifyConfig {
    NotifyConfig {
        name: Some("test-daemon".into()),
        webhooks: hooks,
        ..NotifyConfig::default()
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A port on loopback where nothing listens.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn signed_json_reaches_the_receiver() {
    let rx = Receiver::start();
    let url = rx.url("/hooks/rampart?team=soc");
    run(async move {
        let (notifier, _dead) = Notifier::start(&config(vec![hook(url)])).unwrap();
        let sent: Vec<Notification> = [
            EventKind::AttackStarted,
            EventKind::MitigationApplied,
            EventKind::AttackEnded,
        ]
        .into_iter()
        .map(notification)
        .collect();
        for n in &sent {
            notifier.notify(n.clone());
        }
        let got = rx.wait_for(3, Duration::from_secs(10));
        assert_eq!(got.len(), 3);
        let dir = common::TempDir::new("webhook-verify");
        for (req, n) in got.iter().zip(&sent) {
            assert_eq!(req.header("x-rampart-event"), n.event.as_str());
            assert_eq!(req.header("x-rampart-id"), n.id);
            assert_eq!(req.header("x-rampart-attempt"), "1");
            assert_eq!(req.header("content-type"), "application/json");
            let ts = req.header("x-rampart-timestamp");
            assert!(now_s().abs_diff(ts.parse().unwrap()) < 60);
            // An HMAC computed here, independently of the crate's signing code.
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(format!("{ts}.").as_bytes());
            mac.update(&req.body);
            let hex: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let sig = req.header("x-rampart-signature");
            assert_eq!(sig, format!("sha256={hex}"));
            assert_eq!(
                sign::verify(SECRET.as_bytes(), ts, &req.body, sig, now_s(), 300),
                Ok(())
            );
            // The JSON is the notification, whole.
            let back: Notification = serde_json::from_slice(&req.body).unwrap();
            assert_eq!(&back, n);
            let v: Value = serde_json::from_slice(&req.body).unwrap();
            assert_eq!(v["version"], 1);
            assert_eq!(v["daemon"], "test-daemon");
            // The examples of docs/notify.md accept it, and refuse it altered or replayed.
            let body = dir.path.join("body.json");
            std::fs::write(&body, &req.body).unwrap();
            for script in ["verify_webhook.py", "verify_webhook.sh"] {
                assert!(
                    common::verify_script(script, SECRET, ts, sig, &body),
                    "{script}"
                );
                let old = (now_s() - 3600).to_string();
                assert!(
                    !common::verify_script(script, SECRET, &old, sig, &body),
                    "{script}: replay"
                );
            }
            std::fs::write(&body, [&req.body[..], b" "].concat()).unwrap();
            for script in ["verify_webhook.py", "verify_webhook.sh"] {
                assert!(
                    !common::verify_script(script, SECRET, ts, sig, &body),
                    "{script}: altered"
                );
            }
        }
        let stats = notifier.shutdown(Duration::from_secs(5)).await;
        let s = &stats.sinks[0];
        assert_eq!((s.name.as_str(), s.kind), ("webhook-0", "webhook"));
        assert_eq!(
            (s.sent, s.failed, s.retried, s.dropped, s.dead_lettered),
            (3, 0, 0, 0, 0)
        );
    });
}

#[test]
fn slack_format_has_text_and_blocks() {
    let rx = Receiver::start();
    let mut h = hook(rx.url("/services/T000/B000/XXXX"));
    h.format = WebhookFormat::Slack;
    h.secret = None;
    run(async move {
        let (notifier, _dead) = Notifier::start(&config(vec![h])).unwrap();
        let n = notification(EventKind::AttackStarted);
        notifier.notify(n.clone());
        let got = rx.wait_for(1, Duration::from_secs(10));
        let req = &got[0];
        assert_eq!(
            req.header("x-rampart-signature"),
            "",
            "no secret, no signature"
        );
        let v: Value = serde_json::from_slice(&req.body).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(
            text.contains("[CRITICAL]") && text.contains(&n.title),
            "{text}"
        );
        let blocks = v["blocks"].as_array().unwrap();
        let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["header", "section", "context"]);
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
        assert!(blocks[1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("203.0.113.10"));
        notifier.shutdown(Duration::from_secs(5)).await;
    });
}

#[test]
fn endpoint_down_retries_then_dead_letter() {
    let mut h = hook(format!("http://127.0.0.1:{}/hook", dead_port()));
    h.max_attempts = 4;
    run(async move {
        let (notifier, mut dead) = Notifier::start(&config(vec![h])).unwrap();
        let n = notification(EventKind::MitigationFailed);
        notifier.notify(n.clone());
        let letter = common::next_dead_letter(&mut dead).await;
        assert_eq!(letter.sink, "webhook-0");
        assert!(letter.endpoint.starts_with("http://127.0.0.1:"));
        assert!(
            !letter.endpoint.contains("/hook"),
            "the path may hold a secret"
        );
        assert_eq!(letter.attempts, 4);
        assert!(
            letter.last_error.contains("connect"),
            "{}",
            letter.last_error
        );
        assert_eq!(letter.notification, n);
        let s = notifier.stats().sinks[0].clone();
        assert_eq!((s.sent, s.failed, s.retried, s.dead_lettered), (0, 4, 3, 1));
        notifier.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn failing_endpoint_backs_off_exponentially() {
    let rx = Receiver::with_script(Vec::new(), Some(Answer::status(503)));
    let mut h = hook(rx.url("/"));
    h.max_attempts = 5;
    h.backoff_ms = 100;
    h.backoff_max_ms = 10_000;
    run(async move {
        let (notifier, mut dead) = Notifier::start(&config(vec![h])).unwrap();
        notifier.notify(notification(EventKind::AttackStarted));
        let letter = common::next_dead_letter(&mut dead).await;
        assert_eq!(letter.attempts, 5);
        assert_eq!(letter.last_error, "HTTP 503");
        let got = rx.wait_for(5, Duration::from_secs(1));
        assert_eq!(got.len(), 5);
        let attempts: Vec<&str> = got.iter().map(|r| r.header("x-rampart-attempt")).collect();
        assert_eq!(attempts, ["1", "2", "3", "4", "5"]);
        // Each wait is at least half its step (jitter), the steps 100, 200, 400, 800 ms.
        for (i, pair) in got.windows(2).enumerate() {
            let gap = pair[1].at.duration_since(pair[0].at);
            let floor = Duration::from_millis(50 << i);
            assert!(gap >= floor, "wait {i}: {gap:?} < {floor:?}");
        }
        // Every attempt is signed with its own timestamp.
        for r in &got {
            let ts = r.header("x-rampart-timestamp");
            let sig = r.header("x-rampart-signature");
            assert_eq!(
                sign::verify(SECRET.as_bytes(), ts, &r.body, sig, now_s(), 300),
                Ok(())
            );
        }
        notifier.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn retry_after_is_honoured() {
    let rx = Receiver::with_script(
        vec![Answer {
            status: 429,
            retry_after: Some("1".into()),
            body: "slow down",
        }],
        None,
    );
    let mut h = hook(rx.url("/"));
    h.backoff_ms = 5;
    run(async move {
        let (notifier, _dead) = Notifier::start(&config(vec![h])).unwrap();
        notifier.notify(notification(EventKind::AttackUpdated));
        let got = rx.wait_for(2, Duration::from_secs(10));
        assert_eq!(got.len(), 2);
        let gap = got[1].at.duration_since(got[0].at);
        assert!(
            gap >= Duration::from_secs(1),
            "waited {gap:?}, not Retry-After's 1 s"
        );
        let stats = notifier.shutdown(Duration::from_secs(5)).await;
        let s = &stats.sinks[0];
        assert_eq!((s.sent, s.failed, s.retried, s.dead_lettered), (1, 1, 1, 0));
    });
}

#[test]
fn client_errors_are_not_retried() {
    let rx = Receiver::with_script(
        vec![Answer {
            status: 400,
            retry_after: None,
            body: "invalid_payload",
        }],
        None,
    );
    let h = hook(rx.url("/"));
    run(async move {
        let (notifier, mut dead) = Notifier::start(&config(vec![h])).unwrap();
        notifier.notify(notification(EventKind::AttackStarted));
        let letter = common::next_dead_letter(&mut dead).await;
        assert_eq!(letter.attempts, 1);
        assert_eq!(letter.last_error, "HTTP 400: invalid_payload");
        // The next one goes through: a refusal is about one notification, not the sink.
        notifier.notify(notification(EventKind::AttackEnded));
        assert_eq!(rx.wait_for(2, Duration::from_secs(10)).len(), 2);
        let stats = notifier.shutdown(Duration::from_secs(5)).await;
        let s = &stats.sinks[0];
        assert_eq!((s.sent, s.failed, s.retried, s.dead_lettered), (1, 1, 0, 1));
    });
}

#[test]
fn a_stuck_endpoint_blocks_nothing_else() {
    // Accepts connections and never answers.
    let stuck = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stuck_url = format!("http://{}/", stuck.local_addr().unwrap());
    let good = Receiver::start();
    let mut slow = hook(stuck_url);
    slow.name = Some("stuck".into());
    slow.queue = 5;
    slow.timeout_ms = 60_000;
    let fast = hook(good.url("/"));
    run(async move {
        let (notifier, mut dead) = Notifier::start(&config(vec![slow, fast])).unwrap();
        // The first is taken off the queue and hangs; then five fill the queue.
        notifier.notify(notification(EventKind::AttackUpdated));
        common::until(|| notifier.stats().sinks[0].queued == 0);
        let started = Instant::now();
        for _ in 0..99 {
            notifier.notify(notification(EventKind::AttackUpdated));
        }
        let queued_in = started.elapsed();
        assert_eq!(good.wait_for(100, Duration::from_secs(20)).len(), 100);
        // The receiver has them; the sink counts each once its answer is read.
        common::until(|| notifier.stats().sinks[1].sent == 100);
        let s = notifier.stats();
        let (stuck_stats, good_stats) = (&s.sinks[0], &s.sinks[1]);
        assert_eq!(stuck_stats.name, "stuck");
        // One in flight, five queued, the rest dropped and counted.
        assert_eq!(stuck_stats.dropped, 94, "{stuck_stats:?}");
        assert_eq!(stuck_stats.queued, 5);
        assert_eq!(good_stats.sent, 100);
        assert_eq!(good_stats.dropped, 0);
        // At the deadline the stuck sink gives up: what it held becomes dead letters.
        let stats = notifier.shutdown(Duration::from_millis(300)).await;
        assert_eq!(stats.sinks[0].dead_lettered, 6);
        let mut letters = Vec::new();
        while let Ok(l) = dead.try_recv() {
            letters.push(l);
        }
        assert_eq!(letters.len(), 6);
        assert!(letters
            .iter()
            .all(|l| l.sink == "stuck" && l.last_error.contains("shut down")));
        drop(stuck);
        eprintln!("100 notify() calls took {queued_in:?}");
    });
}

#[test]
fn shutdown_delivers_what_is_queued() {
    let rx = Receiver::start();
    let h = hook(rx.url("/"));
    run(async move {
        let (notifier, _dead) = Notifier::start(&config(vec![h])).unwrap();
        for _ in 0..50 {
            notifier.notify(notification(EventKind::AttackUpdated));
        }
        let stats = notifier.shutdown(Duration::from_secs(10)).await;
        assert_eq!(stats.sinks[0].sent, 50);
        assert_eq!(rx.count(), 50);
    });
}

#[test]
fn filters_pick_what_each_endpoint_gets() {
    let all = Receiver::start();
    let failures = Receiver::start();
    let mut f = hook(failures.url("/"));
    f.filter.events = vec!["mitigation.failed".into(), "attack.*".into()];
    f.filter.min_severity = rampart_notify::Severity::Critical;
    run(async move {
        let (notifier, _dead) = Notifier::start(&config(vec![hook(all.url("/")), f])).unwrap();
        for e in rampart_notify::EventKind::ALL {
            notifier.notify(notification(*e));
        }
        notifier.shutdown(Duration::from_secs(10)).await;
        assert_eq!(all.count(), EventKind::ALL.len());
        let got: Vec<String> = failures
            .wait_for(3, Duration::from_secs(1))
            .iter()
            .map(|r| r.header("x-rampart-event").to_string())
            .collect();
        assert_eq!(
            got,
            ["attack.started", "attack.escalated", "mitigation.failed"]
        );
    });
}

#[test]
fn https_with_a_private_ca_to_a_python_receiver() {
    let certs = common::Certs::new();
    let out = common::TempDir::new("https-out");
    let port = common::free_port();
    let args: Vec<std::ffi::OsString> = vec![
        port.to_string().into(),
        certs.path("server.pem").into(),
        certs.path("server.key").into(),
        out.path.clone().into(),
        SECRET.into(),
    ];
    let _receiver = common::Script::start("https_receiver.py", &args, &out.path.join("log"));
    let url = format!("https://127.0.0.1:{port}/hook");
    let mut trusted = hook(url.clone());
    trusted.ca_file = Some(certs.path("ca.pem"));
    let mut untrusted = hook(url);
    untrusted.name = Some("untrusted".into());
    untrusted.max_attempts = 1;
    run(async move {
        let (notifier, mut dead) = Notifier::start(&config(vec![trusted, untrusted])).unwrap();
        notifier.notify(notification(EventKind::AttackStarted));
        notifier.notify(notification(EventKind::AttackEnded));
        let got = common::wait_records(&out.path, 2);
        for r in &got {
            assert_eq!(r["verified"], true, "the receiver's own check: {r}");
            assert_eq!(r["path"], "/hook");
            assert!(r["tls"].as_str().unwrap().starts_with("TLSv1."), "{r}");
        }
        // Without the private CA the certificate is refused, on every notification.
        for _ in 0..2 {
            let l = common::next_dead_letter(&mut dead).await;
            assert_eq!(l.sink, "untrusted");
            assert!(l.last_error.contains("certificate"), "{}", l.last_error);
        }
        let stats = notifier.shutdown(Duration::from_secs(5)).await;
        assert_eq!(stats.sinks[0].sent, 2);
        assert_eq!((stats.sinks[1].sent, stats.sinks[1].dead_lettered), (0, 2));
        assert_eq!(common::count_records(&out.path), 2);
    });
}
