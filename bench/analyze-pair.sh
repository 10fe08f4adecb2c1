#!/usr/bin/env bash
# Two rampart builds on one capture, run in pairs (the order alternating), so that the load
# from other work on a shared machine falls on both alike: prints the median of the per-pair
# ratios of CPU time (B / A) and each build's median and best. CPU time is `perf stat -e
# task-clock` of `rampart analyze FILE ARGS... --format json` (apt-get install -y linux-perf).
# Usage: bench/analyze-pair.sh RUNS FILE A B [ARGS...]
#   e.g. after `BENCH_DIR=/tmp/ab bench/analyze.sh`, with the thresholds of its scenario:
#   bench/analyze-pair.sh 20 /tmp/ab/netflow9.pcap /tmp/before/rampart target/release/rampart \
#       $(sed -n 2p /tmp/ab/scenario.txt | sed 's/^# rampart analyze [^ ]*//')
set -euo pipefail
[[ $# -ge 4 ]] || { sed -n '2,10p' "$0" >&2; exit 2; }
runs=$1 file=$2 a=$3 b=$4
shift 4
cpu_ms() { # BINARY ARGS...
  local bin=$1
  shift
  perf stat -e task-clock -x, "$bin" analyze "$file" "$@" --format json 2>&1 >/dev/null |
    awk -F, '$3 == "task-clock" { printf "%.1f", $1 }'
}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$runs"); do
  if ((i % 2)); then y=$(cpu_ms "$b" "$@"); x=$(cpu_ms "$a" "$@"); else
    x=$(cpu_ms "$a" "$@"); y=$(cpu_ms "$b" "$@"); fi
  echo "$x $y" >>"$out"
done
python3 - "$out" <<'PY'
import statistics, sys
pairs = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
ratios = sorted(y / x for x, y in pairs)
a, b = [x for x, _ in pairs], [y for _, y in pairs]
q = len(ratios) // 4
print(f"B/A median {statistics.median(ratios):.3f} (quartiles {ratios[q]:.3f}, {ratios[-q - 1]:.3f}), "
      f"{len(pairs)} pairs; CPU ms median A {statistics.median(a):.1f} B {statistics.median(b):.1f}, "
      f"best A {min(a):.1f} B {min(b):.1f}")
PY
