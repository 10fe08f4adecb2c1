#!/usr/bin/env bash
# CPU of `rampart serve`'s engine and collector threads for one replay, to compare two
# builds run for run (the order alternating) on a shared machine: starts BIN serve on its
# defaults (protecting 203.0.113.0/24) on loopback, replays FILE with `rampart replay` at
# RATE records/s LOOPS times, waits for the queue to drain, and prints the clock ticks
# (1/100 s) each thread used, from /proc/PID/task/TID/stat, and the records replayed. A is
# the sender for every run, so the replay is the same for both builds.
# Needs root (sysctl net.core.rmem_max). Usage:
#   bench/engine-pair.sh PAIRS FILE RATE LOOPS A B
#   e.g. bench/engine-pair.sh 8 /tmp/ab/netflow9.pcap 1500000 10 /tmp/before/rampart target/release/rampart
set -euo pipefail
[[ $# -eq 6 ]] || { sed -n '2,10p' "$0" >&2; exit 2; }
pairs=$1 file=$2 rate=$3 loops=$4 a=$5 b=$6
flow_port=42055 api_port=48080

one() { # BIN -> "engine_ticks collector_ticks records"
  local bin=$1 d pid
  d=$(mktemp -d)
  "$bin" serve --protect 203.0.113.0/24 --set "store.path=\"$d/data\"" \
    --set "listen.flow=[\"127.0.0.1:$flow_port\"]" --set "api.listen=\"127.0.0.1:$api_port\"" \
    </dev/null >"$d/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q "API and console" "$d/serve.log" && break; sleep 0.1; done
  snap() {
    for t in /proc/$pid/task/*; do
      echo "$(cat "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"
    done | awk '{a[$1] += $2} END {print a["engine"] + 0, a["collector-0"] + a["collector-1"]}'
  }
  local s0 s1
  s0=$(snap)
  "$a" replay "$file" --to "127.0.0.1:$flow_port" --rate-records "$rate" --loop "$loops" 2>"$d/replay.txt"
  sleep 2
  s1=$(snap)
  kill -INT "$pid"; sleep 1; kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$s0 $s1 $(grep -o '[0-9]* records in' "$d/replay.txt" | cut -d' ' -f1)" |
    awk '{print $3 - $1, $4 - $2, $5}'
  rm -rf "$d"
}

sysctl -qw net.core.rmem_max=$((32 << 20))
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$pairs"); do
  if ((i % 2)); then x=$(one "$a"); y=$(one "$b"); else y=$(one "$b"); x=$(one "$a"); fi
  echo "$x $y" | tee -a "$out" >&2
done
python3 - "$out" <<'PY'
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1])]
for name, k in (("engine", 0), ("collector", 1)):
    r = sorted(row[3 + k] / row[k] for row in rows)
    print(f"{name} B/A median {statistics.median(r):.3f} (range {r[0]:.3f}-{r[-1]:.3f}), {len(r)} pairs;"
          f" ticks median A {statistics.median(row[k] for row in rows)} B {statistics.median(row[3 + k] for row in rows)}")
print("records per run:", sorted({row[2] for row in rows} | {row[5] for row in rows}))
PY
