//! Our TAXII 2.1 server on loopback: taxii2-client (PyPI) as the real client, plus the
//! status codes and headers checked by hand (401, 403, 404, 406, 415, date headers,
//! per-token rights, indicators handed to the matchers).

#![allow(clippy::unwrap_used)] // helpers of the tests fail the test

mod common;

use common::*;
use rampart_intel::taxii::{default_collection_id, CollectionConfig, TaxiiConfig, MEDIA_TYPE};
use rampart_intel::Indicator;
use std::process::Command;
use std::sync::{Arc, Mutex};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn get(url: &str, token: Option<&str>, accept: &str) -> (u16, String, ureq::http::HeaderMap) {
    let mut r = agent().get(url).header("Accept", accept);
    if let Some(t) = token {
        r = r.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = r.call().unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.body_mut().read_to_string().unwrap(), headers)
}

fn post(url: &str, token: &str, content_type: &str, body: &str) -> (u16, String) {
    let mut resp = agent()
        .post(url)
        .header("Accept", MEDIA_TYPE)
        .header("Content-Type", content_type)
        .header("Authorization", format!("Bearer {token}"))
        .send(body.as_bytes())
        .unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

fn config() -> TaxiiConfig {
    let mut c = TaxiiConfig::default();
    c.collections.push(CollectionConfig {
        id: "partner-only".into(),
        title: "partner exchange".into(),
        description: String::new(),
        alias: None,
        readers: vec![
            "token:partner".parse().unwrap(),
            "role:admin".parse().unwrap(),
        ],
        writers: vec!["token:partner".parse().unwrap()],
    });
    c
}

#[test]
fn taxii2_client_against_our_server() {
    let added: Arc<Mutex<Vec<Indicator>>> = Arc::default();
    let sink = added.clone();
    let srv = start_server(config(), |s| {
        s.with_on_added(Arc::new(move |_, inds| sink.lock().unwrap().extend(inds)))
    });
    let out = run(Command::new(pyenv().join("bin/python"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/py/taxii2client_check.py"
        ))
        .arg(format!("{}/", srv.base()))
        .arg("analyst-secret")
        .arg("viewer-secret"));
    assert!(out.contains("taxii2-client: all checks passed"), "{out}");
    // Every new indicator version reached the matcher hook.
    assert_eq!(added.lock().unwrap().len(), 7);
}

#[test]
fn status_codes_headers_and_rights() {
    let srv = start_server(config(), |s| s);
    let base = srv.base();
    let col = format!("{base}/api/collections/{}", default_collection_id());

    // 401 without or with a wrong token, with a TAXII error body.
    let (s, body, h) = get(&format!("{base}/"), None, MEDIA_TYPE);
    assert_eq!(s, 401, "{body}");
    assert!(h.get("www-authenticate").is_some());
    assert!(body.contains("\"http_status\":\"401\""));
    assert_eq!(get(&format!("{base}/"), Some("nope"), MEDIA_TYPE).0, 401);
    // 406 on a wrong Accept.
    let (s, _, h) = get(
        &format!("{base}/"),
        Some("viewer-secret"),
        "application/json",
    );
    assert_eq!(s, 406);
    assert_eq!(h.get("content-type").unwrap(), MEDIA_TYPE);
    assert_eq!(
        get(
            &format!("{base}/"),
            Some("viewer-secret"),
            "application/taxii+json;version=2.0"
        )
        .0,
        406
    );
    let (s, body, h) = get(&format!("{base}/"), Some("viewer-secret"), MEDIA_TYPE);
    assert_eq!(s, 200);
    assert_eq!(h.get("content-type").unwrap(), MEDIA_TYPE);
    assert!(
        body.contains(&format!("\"default\":\"{base}/api/\"")),
        "{body}"
    );

    // Collections: the partner's is invisible to others (404), readable by the partner.
    let (_, body, _) = get(
        &format!("{base}/api/collections/"),
        Some("viewer-secret"),
        MEDIA_TYPE,
    );
    assert!(!body.contains("partner-only"), "{body}");
    assert!(body.contains("\"can_write\":false"));
    let (_, body, _) = get(
        &format!("{base}/api/collections/"),
        Some("partner-secret"),
        MEDIA_TYPE,
    );
    assert!(body.contains("partner-only"));
    let partner = format!("{base}/api/collections/partner-only");
    assert_eq!(
        get(
            &format!("{partner}/objects/"),
            Some("analyst-secret"),
            MEDIA_TYPE
        )
        .0,
        404
    );
    assert_eq!(
        get(
            &format!("{partner}/objects/"),
            Some("partner-secret"),
            MEDIA_TYPE
        )
        .0,
        200
    );
    assert_eq!(
        get(
            &format!("{base}/api/collections/nothing/"),
            Some("viewer-secret"),
            MEDIA_TYPE
        )
        .0,
        404
    );

    // POST: 403 for a viewer, 415 for a wrong Content-Type, 400 for a non-envelope.
    let one = r#"{"objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.5']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}"#;
    assert_eq!(
        post(&format!("{col}/objects/"), "viewer-secret", MEDIA_TYPE, one).0,
        403
    );
    assert_eq!(
        post(
            &format!("{col}/objects/"),
            "analyst-secret",
            "application/json",
            one
        )
        .0,
        415
    );
    let (s, body) = post(
        &format!("{col}/objects/"),
        "analyst-secret",
        MEDIA_TYPE,
        "[1,2]",
    );
    assert_eq!(s, 400, "{body}");
    let (s, body) = post(
        &format!("{col}/objects/"),
        "analyst-secret",
        MEDIA_TYPE,
        &"[".repeat(100_000),
    );
    assert_eq!(s, 400, "{body}");
    let (s, body) = post(
        &format!("{partner}/objects/"),
        "partner-secret",
        MEDIA_TYPE,
        one,
    );
    assert_eq!(s, 202, "{body}");
    let partner_status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let psid = partner_status["id"].as_str().unwrap();
    let (s, body) = post(
        &format!("{col}/objects/"),
        "analyst-secret",
        MEDIA_TYPE,
        one,
    );
    assert_eq!(s, 202, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["status"], "complete");
    assert_eq!(status["success_count"], 1);
    // The same object again is a success, not a second copy.
    let (_, body) = post(
        &format!("{col}/objects/"),
        "analyst-secret",
        MEDIA_TYPE,
        one,
    );
    assert!(body.contains("already present"), "{body}");
    let sid = status["id"].as_str().unwrap();
    let (s, body, _) = get(
        &format!("{base}/api/status/{sid}/"),
        Some("viewer-secret"),
        MEDIA_TYPE,
    );
    assert_eq!(s, 200, "{body}");
    // The partner's status is not ours to see; the partner sees it (without the slash too,
    // as taxii2-client asks).
    assert_eq!(
        get(
            &format!("{base}/api/status/{psid}/"),
            Some("analyst-secret"),
            MEDIA_TYPE
        )
        .0,
        404
    );
    assert_eq!(
        get(
            &format!("{base}/api/status/{psid}"),
            Some("partner-secret"),
            MEDIA_TYPE
        )
        .0,
        200
    );

    // Objects: date headers, an empty page for a filter that matches nothing, bad params.
    let (s, body, h) = get(
        &format!("{col}/objects/"),
        Some("viewer-secret"),
        MEDIA_TYPE,
    );
    assert_eq!(s, 200, "{body}");
    let first = h
        .get("x-taxii-date-added-first")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        h.get("x-taxii-date-added-last").unwrap().to_str().unwrap(),
        first
    );
    assert!(first.parse::<rampart_model::Timestamp>().is_ok(), "{first}");
    let (_, body, h) = get(
        &format!("{col}/objects/?added_after={first}"),
        Some("viewer-secret"),
        MEDIA_TYPE,
    );
    assert_eq!(body, "{\"more\":false}");
    assert!(h.get("x-taxii-date-added-first").is_none());
    assert_eq!(
        get(
            &format!("{col}/objects/?limit=0"),
            Some("viewer-secret"),
            MEDIA_TYPE
        )
        .0,
        400
    );
    assert_eq!(
        get(
            &format!("{col}/objects/?added_after=yesterday"),
            Some("viewer-secret"),
            MEDIA_TYPE
        )
        .0,
        400
    );
    assert_eq!(
        get(
            &format!("{col}/objects/?next=zzz"),
            Some("viewer-secret"),
            MEDIA_TYPE
        )
        .0,
        400
    );
    assert_eq!(
        get(
            &format!("{col}/objects/indicator--00000000-0000-4000-8000-000000000000/"),
            Some("viewer-secret"),
            MEDIA_TYPE
        )
        .0,
        404
    );
    let (_, body, _) = get(
        &format!("{col}/manifest/"),
        Some("viewer-secret"),
        MEDIA_TYPE,
    );
    assert!(
        body.contains("\"media_type\":\"application/stix+json;version=2.1\""),
        "{body}"
    );
    // Basic auth with the token as password works too (for peers that only do Basic).
    let mut resp = agent()
        .get(&format!("{base}/api/"))
        .header("Accept", MEDIA_TYPE)
        .header("Authorization", "Basic dXNlcjp2aWV3ZXItc2VjcmV0") // user:viewer-secret
        .call()
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.body_mut().read_to_string().unwrap()
    );
}

#[test]
fn our_exports_published_into_the_default_collection() {
    use rampart_intel::export::{export_subjects, SharePolicy, Subject};
    use rampart_intel::taxii::server::publish;
    use rampart_model::Timestamp;
    let srv = start_server(config(), |s| s);
    let s = Subject {
        addr: "192.0.2.53".parse().unwrap(),
        role: "reflector",
        kind: "dns_amplification".into(),
        first_seen: Timestamp::from_secs(1_795_341_600),
        last_seen: Timestamp::from_secs(1_795_341_700),
        count: 10,
        confidence: 0.9,
        description: "Reflector.".into(),
        users: vec![],
    };
    let now = Timestamp::from_secs(1_795_342_000);
    let e = export_subjects(vec![s], vec![], &[], &SharePolicy::default(), now);
    let (added, refused) = publish(&*srv.store, &default_collection_id(), &e.bundle, now).unwrap();
    assert_eq!((added.len(), refused), (4, 0)); // identity, marking, indicator, sighting
    let col = format!("{}/api/collections/{}", srv.base(), default_collection_id());
    let (_, body, _) = get(
        &format!("{col}/objects/?match[type]=sighting"),
        Some("viewer-secret"),
        MEDIA_TYPE,
    );
    assert!(body.contains("\"sighting_of_ref\""), "{body}");
    // Publishing the same export again adds nothing new.
    let (again, _) = publish(&*srv.store, &default_collection_id(), &e.bundle, now).unwrap();
    assert!(again.iter().all(|a| !a.new));
}
