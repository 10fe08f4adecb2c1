#!/usr/bin/env bash
# Whole-run decoding, side by side with pmacct's collectors on the same files in the same run:
# `rampart decode FILE --format jsonl` (every record printed as JSON, to /dev/null) against
# nfacctd/sfacctd reading the same pcap (pcap_savefile) into their print plugin (records
# aggregated per 5-tuple, written as CSV). For raw packets: against pmacctd -I with the same
# print plugin. The machine is shared and noisy: each run is repeated, medians are reported,
# and CPU seconds (user + sys) are compared as well as wall time, since pmacct's core and
# plugin are two processes that also sleep while waiting for each other.
# Usage: bench/decode.sh [RUNS]   (results go to stdout as a Markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p rampart -p rampart-flow --example synth_pcap
bin=target/release/rampart
synth=target/release/examples/synth_pcap
$synth netflow9 20000 "$work/netflow9.pcap"
$synth ipfix 20000 "$work/ipfix.pcap"
$synth sflow5 20000 "$work/sflow5.pcap"
$synth packets 1000000 "$work/packets.pcap"

pmacct_conf() { # daemon-independent print plugin config reading FILE
  cat <<CONF
daemonize: false
pcap_savefile: $1
plugins: print
aggregate: src_host, dst_host, src_port, dst_port, proto
print_output: csv
print_output_file: $work/out.csv
print_refresh_time: 3600
CONF
}

# Prints "wall cpu" of one run of the command.
measure() {
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
    echo "failed: $*" >&2; cat "$work/stderr" >&2; exit 1; }
  awk '{printf "%s %.2f\n", $1, $2 + $3}' "$work/time"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "| input | records | tool | wall s (median of $runs) | CPU s | records/s wall | rampart speed-up (wall, CPU) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for input in netflow9:nfacctd:600000 ipfix:nfacctd:600000 sflow5:sfacctd:140000 packets:pmacctd:1000000; do
  IFS=: read -r name peer records <<<"$input"
  file="$work/$name.pcap"
  pmacct_conf "$file" >"$work/$peer.conf"
  : >"$work/r.txt"; : >"$work/p.txt"
  for _ in $(seq "$runs"); do
    measure "$bin" decode "$file" --format jsonl >>"$work/r.txt"
    measure "$peer" -f "$work/$peer.conf" >>"$work/p.txt"
  done
  rw=$(cut -d' ' -f1 "$work/r.txt" | median); rc=$(cut -d' ' -f2 "$work/r.txt" | median)
  pw=$(cut -d' ' -f1 "$work/p.txt" | median); pc=$(cut -d' ' -f2 "$work/p.txt" | median)
  awk -v n="$name" -v rec="$records" -v peer="$peer" -v rw="$rw" -v rc="$rc" -v pw="$pw" -v pc="$pc" 'BEGIN {
    printf "| %s | %d | rampart decode | %.2f | %.2f | %.0f | %.1fx, %.1fx |\n", n, rec, rw, rc, rec/rw, pw/rw, pc/rc
    printf "| %s | %d | %s | %.2f | %.2f | %.0f | |\n", n, rec, peer, pw, pc, rec/pw }'
done
