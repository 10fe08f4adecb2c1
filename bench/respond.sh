#!/usr/bin/env bash
# Response latency (issue 5): from detection to the FlowSpec route in BIRD's table and to
# the webhook received, with `rampart serve` (release build), BIRD 2 as its BGP peer and a
# webhook receiver, all on loopback. Needs bird2 (apt-get install -y bird2) and python3.
# Usage: bench/respond.sh [ROUNDS]     (a Markdown table on stdout)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p rampart --bin rampart
exec python3 bench/respond.py "$PWD/target/release/rampart" "${1:-20}"
