#!/usr/bin/env bash
# TAXII 2.1 object pages of 1,000 through a running `rampart serve`, over HTTP on loopback:
# a fresh daemon in a temporary data directory, an analyst token made with `rampart token
# create`, OBJECTS indicators POSTed into the default collection, then REQUESTS pages read by
# CLIENTS threads paging with `next` (every other one with match[type]). Prints p50, p99, max.
# Usage: bench/taxii_serve.sh [OBJECTS] [REQUESTS] [CLIENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
objects=${1:-100000}
requests=${2:-2000}
clients=${3:-4}
runs=${4:-3}
cargo build --release -q -p rampart --bin rampart
cargo build --release -q -p rampart-intel --example taxii_load
bin=$PWD/target/release/rampart
load=$PWD/target/release/examples/taxii_load
for run in $(seq 1 "$runs"); do
  work=$(mktemp -d)
  (
    cd "$work"
    token=$("$bin" token create --role analyst --name bench | tail -1 | awk '{print $NF}')
    RUST_LOG=info "$bin" serve --set 'api.listen="127.0.0.1:0"' --set 'listen.flow=["127.0.0.1:0"]' \
      --set 'logs.syslog_udp=["127.0.0.1:0"]' --set 'logs.syslog_tcp=["127.0.0.1:0"]' \
      2> serve.log &
    pid=$!
    trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do
      api=$(grep -o 'API and console at http://[0-9.:]*' serve.log | head -1 | sed 's|.*http://||') || true
      [[ -n ${api:-} ]] && break
      sleep 0.1
    done
    [[ -n ${api:-} ]] || { cat serve.log; exit 1; }
    echo "run $run: rampart serve at $api"
    TAXII_URL="http://$api/taxii2/" TAXII_TOKEN="$token" "$load" "$objects" "$requests" "$clients"
  )
  rm -rf "$work"
done
