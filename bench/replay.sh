#!/usr/bin/env bash
# `rampart replay` as a load generator: how many flow records per second it sends from one
# core over loopback, into a UDP sink (crates/rampart/examples/udp_sink.rs) that only counts.
# Inputs are the synthetic NetFlow v9 and IPFIX captures of the decode benchmarks (20,000
# datagrams of 30 records), sent 10 times over (--loop 10: 6 M records), as fast as replay
# can (--rate far above what it reaches), then paced at 2 M records/s (--rate-records). Also
# the CPU `rampart simulate` needs for its heaviest attack. The machine is shared and noisy:
# each run is repeated and medians reported.
# Usage: bench/replay.sh [RUNS]   (a Markdown table on stdout)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
work=$(mktemp -d)
sink_pid=""
trap '[ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$work"' EXIT

cargo build --release -q -p rampart --bin rampart --example udp_sink
cargo build --release -q -p rampart-flow --example synth_pcap
bin=target/release/rampart
sink=target/release/examples/udp_sink
target/release/examples/synth_pcap netflow9 20000 "$work/netflow9.pcap"
target/release/examples/synth_pcap ipfix 20000 "$work/ipfix.pcap"
port=9995

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# One replay into a fresh sink; prints "records/s datagrams/s cpu_s received".
one() {
  "$sink" "127.0.0.1:$port" >"$work/sink.txt" 2>/dev/null &
  sink_pid=$!
  sleep 0.3
  /usr/bin/time -f "%U %S" -o "$work/time" "$bin" replay "$@" --to "127.0.0.1:$port" --loop 10 \
    2>"$work/replay.txt"
  wait "$sink_pid"; sink_pid=""
  local line; line=$(grep '^replay:' "$work/replay.txt")
  local rps dps
  rps=$(sed -E 's/.* ([0-9]+) records\/s.*/\1/' <<<"$line")
  dps=$(sed -E 's/.* ([0-9]+) datagrams\/s.*/\1/' <<<"$line")
  awk -v r="$rps" -v d="$dps" -v got="$(awk '{print $2}' "$work/sink.txt")" \
    '{printf "%s %s %.2f %s\n", r, d, $1 + $2, got}' "$work/time"
}

echo "| input | pace | records/s sent (median of $runs) | datagrams/s | replay CPU s for 6 M records | runs (records/s) | received by the sink |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for input in netflow9 ipfix; do
  for pace in "--rate 100000000" "--rate-records 2000000"; do
    : >"$work/runs.txt"
    for _ in $(seq "$runs"); do
      # shellcheck disable=SC2086
      one "$work/$input.pcap" $pace >>"$work/runs.txt"
    done
    r=$(cut -d' ' -f1 "$work/runs.txt" | median)
    d=$(cut -d' ' -f2 "$work/runs.txt" | median)
    c=$(cut -d' ' -f3 "$work/runs.txt" | median)
    g=$(cut -d' ' -f4 "$work/runs.txt" | median)
    all=$(cut -d' ' -f1 "$work/runs.txt" | paste -sd, | sed 's/,/, /g')
    label=$([ "${pace%% *}" = "--rate" ] && echo "as fast as it goes" || echo "2 M records/s")
    echo "| $input | $label | **$r** | $d | $c | $all | $g of 200000 datagrams |"
  done
done

# simulate: CPU per wall second during the heaviest attack (carpet bombing, 150,000 packets/s
# in about 3,000 records/s), from 10 s to 30 s of the run.
"$sink" "127.0.0.1:$port" >"$work/sink.txt" 2>/dev/null &
sink_pid=$!
sleep 0.3
/usr/bin/time -f "%e %U %S" -o "$work/time" "$bin" simulate --to "127.0.0.1:$port" \
  --scenario carpet-bombing --duration 30 2>"$work/sim.txt"
wait "$sink_pid"; sink_pid=""
echo
echo "simulate --scenario carpet-bombing --duration 30: $(grep 'sent' "$work/sim.txt" | sed 's/^simulate: //'), $(awk '{printf "%.2f CPU s in %.1f s", $2 + $3, $1}' "$work/time")"
