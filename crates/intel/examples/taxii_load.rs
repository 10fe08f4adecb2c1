//! Latency of TAXII object pages of 1,000 over HTTP on loopback: our server in this
//! process with a collection of N objects (added through POST, as peers do), clients on
//! threads paging through it with `next` and filters. Prints p50, p99 and the maximum.
//! Bounded: REQUESTS in all, then it stops.
//! `cargo run --release -p rampart-intel --example taxii_load -- [OBJECTS] [REQUESTS] [CLIENTS]`
//! With `TAXII_URL` (e.g. `http://127.0.0.1:8080/taxii2/`) and `TAXII_TOKEN` (an analyst's
//! token) it loads that server instead, e.g. a running `rampart serve` (bench/taxii_serve.sh).

use rampart_intel::store::SqliteIntelStore;
use rampart_intel::taxii::server::{router, StaticTokens, TaxiiState};
use rampart_intel::taxii::{default_collection_id, Principal, TaxiiConfig, MEDIA_TYPE};
use rampart_model::Role;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let objects: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let requests: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2_000);
    let clients: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4);
    let dir = std::env::temp_dir().join(format!("rampart-taxii-load-{}", std::process::id()));
    let store = Arc::new(SqliteIntelStore::open(&dir.join("intel.db"))?);
    let mut tokens = StaticTokens::default();
    tokens.0.insert(
        "t".into(),
        Principal {
            name: "bench".into(),
            role: Role::Analyst,
        },
    );
    let state = TaxiiState::new(TaxiiConfig::default(), store, Arc::new(tokens));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let external = std::env::var("TAXII_URL").ok();
    let token = std::env::var("TAXII_TOKEN").unwrap_or_else(|_| "t".into());
    let bearer = format!("Bearer {token}");
    let base = match &external {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            rt.spawn(async move {
                let l = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = axum::serve(l, router(state)).await;
            });
            format!("http://{addr}/taxii2")
        }
    };
    let col = format!(
        "{base}/api/collections/{}/objects/",
        default_collection_id()
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();

    let t = Instant::now();
    for batch in 0..objects.div_ceil(5_000) {
        let objs: Vec<String> = (batch * 5_000..((batch + 1) * 5_000).min(objects))
            .map(|i| {
                format!(
                    "{{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--{i:08x}-0000-4000-8000-000000000000\",\"created\":\"2026-01-01T00:00:00.000Z\",\"modified\":\"2026-01-01T00:00:00.000Z\",\"name\":\"load {i}\",\"indicator_types\":[\"malicious-activity\"],\"pattern\":\"[ipv4-addr:value = '{}']\",\"pattern_type\":\"stix\",\"valid_from\":\"2026-01-01T00:00:00Z\",\"object_marking_refs\":[\"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb\"]}}",
                    std::net::Ipv4Addr::from(0xc633_0000u32 + i as u32)
                )
            })
            .collect();
        agent
            .post(&col)
            .header("Accept", MEDIA_TYPE)
            .header("Content-Type", MEDIA_TYPE)
            .header("Authorization", &bearer)
            .send(format!("{{\"objects\":[{}]}}", objs.join(",")).as_bytes())?;
    }
    println!(
        "added {objects} objects by POST in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let per = requests / clients;
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (agent, col, bearer) = (agent.clone(), col.clone(), bearer.clone());
            std::thread::spawn(move || -> anyhow::Result<Vec<f64>> {
                let mut lat = Vec::with_capacity(per);
                let mut next: Option<String> = None;
                for r in 0..per {
                    let mut req = agent
                        .get(&col)
                        .header("Accept", MEDIA_TYPE)
                        .header("Authorization", &bearer)
                        .query("limit", "1000");
                    // Every other client filters by type as well.
                    if c % 2 == 1 {
                        req = req.query("match[type]", "indicator");
                    }
                    if let Some(n) = &next {
                        req = req.query("next", n);
                    }
                    let t = Instant::now();
                    let mut resp = req.call()?;
                    let body = resp
                        .body_mut()
                        .with_config()
                        .limit(64 << 20)
                        .read_to_vec()?;
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    let head: serde_json::Value = serde_json::from_slice(&body)?;
                    let n = head["objects"].as_array().map_or(0, Vec::len);
                    assert!(n == 1000 || head["more"] == false, "page {r}: {n} objects");
                    next = head["next"].as_str().map(String::from);
                }
                Ok(lat)
            })
        })
        .collect();
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.join().map_err(|_| anyhow::anyhow!("client panicked"))??);
    }
    let wall = started.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    println!(
        "{} pages of 1000 from {clients} clients in {wall:.1} s ({:.0} pages/s): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        lat.len() as f64 / wall,
        q(0.50),
        q(0.99),
        lat[lat.len() - 1]
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
