#!/usr/bin/env bash
# Whole-run speed of `rampart analyze` (decode + DDoS and scan detection, one core) on a capture
# in page cache: raw packets, and the same traffic exported by softflowd as NetFlow v9 and as
# IPFIX. The capture is the end-to-end tests' every-vector scenario (benign background of web
# sessions, DNS, pings and a bulk transfer toward 203.0.113.0/24, plus all 20 attack vectors at
# 10x their thresholds for 3 s) stretched to SECONDS of traffic. Each run is repeated, medians
# are reported, wall and CPU time both. Needs softflowd and tcpdump (scripts/test installs them).
# Usage: bench/analyze.sh [RUNS] [SECONDS]   (results go to stdout as a Markdown table)
# Environment:
#   BENCH_DIR=DIR  keep the captures and each input's JSON report (DIR/NAME.json) in DIR, and
#                  reuse captures already there (to compare two builds on the same input)
#   RAMPART=PATH   time this rampart binary instead of building target/release/rampart
#   BEFORE=PATH    time this rampart binary too, run for run beside the other, and check
#                  that both write the same JSON report (to measure a change)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
seconds=${2:-300}
if [[ -n ${BENCH_DIR:-} ]]; then
  work=$BENCH_DIR
  mkdir -p "$work"
  trap 'kill "${tcpdump_pid:-}" 2>/dev/null || true' EXIT
else
  work=$(mktemp -d)
  trap 'kill "${tcpdump_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
fi
port=41234

if [[ -n ${RAMPART:-} ]]; then
  bin=$RAMPART
  cargo build --release -q -p rampart --example attack_pcap
else
  cargo build --release -q -p rampart --bin rampart --example attack_pcap
  bin=target/release/rampart
fi
# The thresholds the scenario is built against, as printed by the generator.
if [[ ! -s $work/packets.pcap || ! -s $work/scenario.txt ]]; then
  target/release/examples/attack_pcap every-vector "$work/packets.pcap" --factor 10 \
    --seconds "$seconds" >"$work/scenario.txt"
fi
read -r -a args < <(sed -n 2p "$work/scenario.txt" | sed 's/^# rampart analyze [^ ]*//')

# The same traffic as NetFlow v9 and as IPFIX, as a collector would have captured it.
export_flows() { # VERSION OUT
  [[ -s $2 ]] && return
  tcpdump -i lo -U -w "$2" udp port $port 2>/dev/null &
  tcpdump_pid=$!
  sleep 1
  softflowd -r "$work/packets.pcap" -n 127.0.0.1:$port -v "$1" -d >/dev/null 2>&1
  sleep 1
  kill "$tcpdump_pid"
  wait "$tcpdump_pid" 2>/dev/null || true
  unset tcpdump_pid
}
export_flows 9 "$work/netflow9.pcap"
export_flows 10 "$work/ipfix.pcap"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Wall and CPU (user + system) seconds of one run, to the microsecond: on a machine shared
# with other work the wall time includes waiting for a core, and CPU time is then the measure
# of the work itself.
timed() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
# Children's times so far are those of whatever started this interpreter (a pyenv shim's
# own commands survive its exec): only what the run adds is its.
def children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
before, t = children(), time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
wall = time.perf_counter() - t
print(f"{wall:.4f} {children() - before:.4f}")
PY
}

# Each run times every build in turn, so that load from other work falls on all alike.
builds=("$bin")
[[ -n ${BEFORE:-} ]] && builds=("$BEFORE" "$bin")
echo "| input | build | records | wall s (median of $runs) | CPU s (median) | records/s (wall) | records/s (CPU) | detections |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for name in packets netflow9 ipfix; do
  file="$work/$name.pcap"
  cat "$file" >/dev/null # into page cache
  for k in "${!builds[@]}"; do
    "${builds[$k]}" analyze "$file" "${args[@]}" --format json >"$work/$name.$k.json"
    : >"$work/t.$k.txt"
  done
  for _ in $(seq "$runs"); do
    for k in "${!builds[@]}"; do
      timed "${builds[$k]}" analyze "$file" "${args[@]}" --format json >>"$work/t.$k.txt"
    done
  done
  for k in "${!builds[@]}"; do
    json="$work/$name.$k.json"
    records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["inputs"][0]["records"])' "$json")
    found=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["detections"]))' "$json")
    wall=$(cut -d' ' -f1 "$work/t.$k.txt" | median); cpu=$(cut -d' ' -f2 "$work/t.$k.txt" | median)
    awk -v n="$name" -v b="$(basename "${builds[$k]}")" -v r="$records" -v w="$wall" -v c="$cpu" -v f="$found" 'BEGIN {
      printf "| %s | %s | %d | %.3f | %.3f | %.2f M | %.2f M | %d |\n", n, b, r, w, c, r / w / 1e6, r / c / 1e6, f }'
  done
  cp "$work/$name.$((${#builds[@]} - 1)).json" "$work/$name.json"
  if [[ ${#builds[@]} -gt 1 ]] && ! cmp -s "$work/$name.0.json" "$work/$name.1.json"; then
    echo "| $name | reports differ: diff $work/$name.0.json $work/$name.1.json | | | | | | |"
  fi
done
