//! Helpers for the tests with real peers: the Python venv with the PyPI tools, loopback
//! ports, scratch directories, our TAXII server started on a port of its own.
#![allow(dead_code, clippy::unwrap_used)] // test support: a failure here is a failed test

use rampart_intel::store::SqliteIntelStore;
use rampart_intel::taxii::server::{router, StaticTokens, TaxiiState};
use rampart_intel::taxii::{Principal, TaxiiConfig};
use rampart_model::Role;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The venv that scripts/test makes (`target/pyenv`), or `RAMPART_PYENV`.
pub fn pyenv() -> PathBuf {
    let dir = std::env::var_os("RAMPART_PYENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv"));
    let python = dir.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test, which makes the venv with the PyPI peers \
         (python3 -m venv target/pyenv && target/pyenv/bin/pip install -r crates/intel/tests/requirements.txt)",
        python.display()
    );
    dir
}

pub fn py_tool(name: &str) -> PathBuf {
    let p = pyenv().join("bin").join(name);
    assert!(
        p.exists(),
        "{} is missing from the venv: run scripts/test",
        p.display()
    );
    p
}

/// A fresh scratch directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rampart-intel-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_port(port: u16, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Tokens of the test: a viewer, an analyst, and a partner allowed by name.
pub fn tokens() -> StaticTokens {
    let mut t = StaticTokens::default();
    for (secret, name, role) in [
        ("viewer-secret", "viewer", Role::Viewer),
        ("analyst-secret", "analyst", Role::Analyst),
        ("partner-secret", "partner", Role::Viewer),
    ] {
        t.0.insert(
            secret.into(),
            Principal {
                name: name.into(),
                role,
            },
        );
    }
    t
}

pub struct Running {
    pub addr: SocketAddr,
    pub store: Arc<SqliteIntelStore>,
    pub dir: PathBuf,
    _rt: tokio::runtime::Runtime,
}

impl Running {
    pub fn base(&self) -> String {
        format!("http://{}/taxii2", self.addr)
    }
}

/// Our TAXII server on a loopback port, with its own runtime and store.
pub fn start_server(
    config: TaxiiConfig,
    state_hook: impl FnOnce(TaxiiState) -> TaxiiState,
) -> Running {
    let dir = scratch("taxii");
    let store = Arc::new(SqliteIntelStore::open(&dir.join("intel.db")).unwrap());
    let state = state_hook(TaxiiState::new(config, store.clone(), Arc::new(tokens())));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let l = tokio::net::TcpListener::from_std(listener).unwrap();
        axum::serve(l, router(state)).await.unwrap();
    });
    Running {
        addr,
        store,
        dir,
        _rt: rt,
    }
}

/// Runs a command, failing the test with its output when it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}
