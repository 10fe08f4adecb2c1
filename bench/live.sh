#!/usr/bin/env bash
# Live numbers of `rampart serve` (issue 4), beside FastNetMon in the same run:
#   * wall-clock detection latency with flows arriving continuously: `rampart simulate
#     --scenario syn-flood` (a normal day of NetFlow v9, then 30,000 SYN/s on 203.0.113.10)
#     through one UDP tee to `rampart serve` (defaults) and to two FastNetMons (netflow input,
#     threshold_pps 20,000 as rampart's host_pps; averaging 5 s as shipped, and 1 s). From
#     the moment simulate says the attack starts to the attack in /api/v1/attacks (polled
#     every 10 ms) and to FastNetMon's notify script called with "ban".
#   * at RATE records/s (`rampart replay` of a NetFlow v9 capture, 65,536 sources toward 200
#     hosts, so detection runs with attacks open): API latency (status, attacks, traffic,
#     exporters in turn, one request at a time) and the daemon's resident memory.
#
# Needs on a fresh Debian 12 machine: apt-get install -y fastnetmon python3; cargo.
# Usage: bench/live.sh [RUNS] [RATE] [SECONDS]    (3, 1000000, 30): Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v fastnetmon >/dev/null || { echo "fastnetmon missing: apt-get install -y fastnetmon" >&2; exit 1; }
cargo build --release -q -p rampart --bin rampart
cargo build --release -q -p rampart-flow --example synth_pcap
exec python3 bench/live.py "$@"
