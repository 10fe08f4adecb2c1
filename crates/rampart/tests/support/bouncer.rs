//! crowdsec-custom-bouncer (Debian's package), the bouncer people run, pulling our
//! `/v1/decisions/stream` and writing down what it is handed. Shared by the tests.

use crate::daemon::{program, Scratch};
use std::net::SocketAddr;
use std::process::Command;

/// crowdsec-custom-bouncer (Debian's) polling our decisions stream, with a script that
/// writes down every decision it is handed.
pub struct Bouncer {
    dir: Scratch,
    child: std::process::Child,
}

impl Bouncer {
    pub fn start(api: SocketAddr, key: &str) -> Bouncer {
        let dir = Scratch::new("bouncer");
        let script = dir.path().join("on-decision.sh");
        let log = dir.path().join("decisions.log");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$@\" >> {}\n", log.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let conf = dir.path().join("bouncer.yaml");
        std::fs::write(
            &conf,
            format!(
                "bin_path: {}\nfeed_via_stdin: false\ntotal_retries: 0\n\
                 scenarios_containing: []\nscenarios_not_containing: []\norigins: []\n\
                 piddir: {}\nupdate_frequency: 1s\ncache_retention_duration: 1s\n\
                 daemonize: false\nlog_mode: stdout\nlog_level: info\n\
                 api_url: http://{api}/\napi_key: {key}\nprometheus:\n  enabled: false\n",
                script.display(),
                dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new(program("crowdsec-custom-bouncer"))
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Bouncer { dir, child }
    }

    pub fn decisions(&self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Ok(f) = std::fs::File::open(self.dir.path().join("decisions.log")) {
            #[allow(clippy::disallowed_methods)] // bounded by take()
            let _ = f.take(1 << 20).read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
