#!/usr/bin/env bash
# Whole-run speed of `rampart analyze` (decode + DDoS and scan detection, one core) on a capture
# in page cache: raw packets, and the same traffic exported as NetFlow v9 by softflowd.
# The capture is the end-to-end tests' every-vector scenario (benign background of web
# sessions, DNS, pings and a bulk transfer toward 203.0.113.0/24, plus all 20 attack vectors at
# 10x their thresholds for 3 s) stretched to SECONDS of traffic. Each run is repeated, medians
# are reported. Needs softflowd and tcpdump (scripts/test installs them).
# Usage: bench/analyze.sh [RUNS] [SECONDS]   (results go to stdout as a Markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
seconds=${2:-300}
work=$(mktemp -d)
port=41234
trap 'kill "${tcpdump_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p rampart --bin rampart --example attack_pcap
bin=target/release/rampart
# The thresholds the scenario is built against, as printed by the generator.
target/release/examples/attack_pcap every-vector "$work/packets.pcap" --factor 10 \
  --seconds "$seconds" >"$work/scenario.txt"
read -r -a args < <(sed -n 2p "$work/scenario.txt" | sed 's/^# rampart analyze [^ ]*//')

# The same traffic as NetFlow v9, as a collector would have captured it.
tcpdump -i lo -U -w "$work/flows.pcap" udp port $port 2>/dev/null &
tcpdump_pid=$!
sleep 1
softflowd -r "$work/packets.pcap" -n 127.0.0.1:$port -v 9 -d >/dev/null 2>&1
sleep 1
kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true
unset tcpdump_pid

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "| input | records | wall s (median of $runs) | CPU s | records/s (wall) | detections |"
echo "| --- | --- | --- | --- | --- | --- |"
for name in packets flows; do
  file="$work/$name.pcap"
  cat "$file" >/dev/null # into page cache
  "$bin" analyze "$file" "${args[@]}" --format json >"$work/report.json"
  records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["inputs"][0]["records"])' "$work/report.json")
  found=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["detections"]))' "$work/report.json")
  : >"$work/t.txt"
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$bin" analyze "$file" "${args[@]}" --format json >/dev/null
    awk '{printf "%s %.2f\n", $1, $2 + $3}' "$work/time" >>"$work/t.txt"
  done
  wall=$(cut -d' ' -f1 "$work/t.txt" | median); cpu=$(cut -d' ' -f2 "$work/t.txt" | median)
  awk -v n="$name" -v r="$records" -v w="$wall" -v c="$cpu" -v f="$found" 'BEGIN {
    printf "| %s | %d | %.3f | %.2f | %.2f M | %d |\n", n, r, w, c, r / w / 1e6, f }'
done
