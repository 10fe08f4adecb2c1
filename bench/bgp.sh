#!/usr/bin/env bash
# Whole-run BGP speed against a real BIRD 2 on loopback (crates/bgp/examples/bird_bench.rs):
# 10,000 /32 blackholes in one announce call and in 10,000 calls, each timed from the first
# call until BIRD counts them all; and 100 single announcements timed from the call until
# `birdc show route` lists the route. BIRD runs as a child process with its own config and
# socket in a temp dir (never the system service). The machine is shared and noisy: the run
# is repeated and each run's lines are printed; take the medians.
# Usage: bench/bgp.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
command -v bird >/dev/null 2>&1 || [ -x /usr/sbin/bird ] || { echo "bench/bgp.sh: needs bird2 (apt-get install bird2)" >&2; exit 2; }
cargo build --release -q -p rampart-bgp --example bird_bench
for i in $(seq "$runs"); do
  echo "## run $i"
  target/release/examples/bird_bench
done
