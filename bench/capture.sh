#!/usr/bin/env bash
# Live capture (`rampart serve` with listen.interfaces, feature `capture`): how many packets/s
# the capture path takes from a veth without kernel drops, with detection running, when the
# daemon is pinned to one core (taskset -c 1) and tcpreplay to the other (-c 0). Beside it,
# what tcpreplay and the kernel deliver into the veth with nobody capturing, and tcpdump
# (writing to /dev/null, same core) as a peer fed the same packets. The receiver's CPU per
# million packets says what one core could take if a faster sender fed it: the kernel's
# side of the delivery (veth, the copy into the ring) runs on the sender's core.
#
# The capture is the syn_flood scenario of the tests (crates/rampart/examples/attack_pcap.rs)
# at 200x its threshold: about 1 M SYNs of 74 bytes over a little background, frames cut at
# 128 bytes. It is sent --loop times over (so that the run is much longer than the 64 MiB
# ring can absorb), once with --topspeed and then paced at each rate of RATES (packets/s).
# RUNS rounds of every case in turn; the table gives medians.
# Needs root (a network namespace and a veth pair), tcpreplay, tcpdump, curl, python3.
# Usage: bench/capture.sh [RUNS] [LOOPS] [RATES]   (a Markdown table on stdout)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
loops=${2:-4}
rates=${3:-"100000 200000 300000 400000"}
[ "$(id -u)" -eq 0 ] || { echo "bench/capture.sh needs root" >&2; exit 1; }
for p in tcpreplay tcpdump curl python3 taskset; do
  command -v $p >/dev/null || { echo "bench/capture.sh needs $p" >&2; exit 1; }
done

work=$(mktemp -d)
ns=rpbench$$
near=rpbn$$
far=rpbf$$
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  ip link del "$near" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -q -p rampart --features capture --bin rampart --example attack_pcap
bin=$PWD/target/release/rampart
target/release/examples/attack_pcap syn_flood "$work/small.pcap" --factor 200 --seconds 6 \
  >"$work/scenario.txt"
per_loop=$(sed -n 1p "$work/scenario.txt" | sed -E 's/.*: ([0-9]+) packets.*/\1/')

ip netns add "$ns"
ip link add "$near" type veth peer name "$far"
ip link set "$far" netns "$ns"
sysctl -qw "net.ipv6.conf.$near.disable_ipv6=1"
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$far.disable_ipv6=1"
ip link set "$near" up
ip netns exec "$ns" ip link set "$far" up

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# tcpreplay pinned to core 0 into the namespace's end; prints "packets pps".
replay() {
  ip netns exec "$ns" taskset -c 0 tcpreplay -K -q -i "$far" --loop "$loops" "$@" \
    "$work/small.pcap" >"$work/replay.txt" 2>&1
  local actual rated
  actual=$(grep -E '^Actual:' "$work/replay.txt" | sed -E 's/Actual: ([0-9]+) packets.*/\1/')
  rated=$(grep -E '^Rated:' "$work/replay.txt" | sed -E 's/.* ([0-9.]+) pps.*/\1/')
  echo "$actual ${rated%.*}"
}

# The daemon, pinned to core 1, capturing the near end with detection running.
start_serve() {
  rm -rf "$work/data"
  mkdir -p "$work/data"
  (cd "$work/data" && exec taskset -c 1 "$bin" serve --protect 203.0.113.0/24 \
    --set 'listen.flow=["127.0.0.1:0"]' --set 'api.listen="127.0.0.1:0"' \
    --set "listen.interfaces=[\"$near\"]" 2>"$work/serve.log") &
  serve_pid=$!
  for _ in $(seq 100); do
    grep -q 'API and console at' "$work/serve.log" 2>/dev/null && break
    sleep 0.1
  done
  api=$(grep -oE 'http://[0-9.:]+' "$work/serve.log" | head -1)
  token=$(cd "$work/data" && "$bin" token create --role viewer | tail -1 | awk '{print $NF}')
}
stop_serve() { kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""; }
# "packets kernel_drops" of the capture so far.
counters() {
  curl -s -H "Authorization: Bearer $token" "$api/api/v1/status" | python3 -c \
    'import json,sys; c=json.load(sys.stdin)["captures"][0]; print(c["packets"], c["kernel_drops"])'
}

# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f\n", ($14 + $15) / hz}' "/proc/$1/stat"; }

# One case: "pps_sent received kernel_drops cpu_s_per_million_packets".
one_rampart() {
  start_serve
  local sent pps got drops c0 c1
  c0=$(cpu_s "$serve_pid")
  read -r sent pps < <(replay "$@")
  sleep 2 # the last blocks retire after 50 ms; the drop counter is read once a second
  c1=$(cpu_s "$serve_pid")
  read -r got drops < <(counters)
  stop_serve
  echo "$pps $got $drops $(awk -v a="$c0" -v b="$c1" -v n="$sent" 'BEGIN {printf "%.2f", (b - a) * 1e6 / n}')"
}
one_tcpdump() {
  taskset -c 1 tcpdump -i "$near" -n -w /dev/null -B 65536 2>"$work/tcpdump.txt" &
  local pid=$! sent pps c0 c1
  sleep 1
  c0=$(cpu_s "$pid")
  read -r sent pps < <(replay "$@")
  sleep 1
  c1=$(cpu_s "$pid")
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  local got drops
  got=$(grep -E 'packets captured' "$work/tcpdump.txt" | awk '{print $1}')
  drops=$(grep -E 'dropped by kernel' "$work/tcpdump.txt" | awk '{print $1}')
  echo "$pps $got $drops $(awk -v a="$c0" -v b="$c1" -v n="$sent" 'BEGIN {printf "%.2f", (b - a) * 1e6 / n}')"
}
one_nobody() { local sent pps; read -r sent pps < <(replay "$@"); echo "$pps $sent 0 -"; }

echo "$per_loop packets per loop, --loop $loops: $((per_loop * loops)) packets per run; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| receiver (core 1) | tcpreplay pace | sent pps (median of $runs) | received | kernel drops | receiver CPU s per M packets | runs: sent pps / drops |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
cases=("nobody topspeed")
for who in rampart tcpdump; do
  for pace in topspeed $rates; do cases+=("$who $pace"); done
done
# Rounds of every case in turn, so that each case sees the same mix of the machine's
# changing load.
for _ in $(seq "$runs"); do
  for c in "${cases[@]}"; do
    read -r who pace <<<"$c"
    if [ "$pace" = topspeed ]; then "one_$who" --topspeed; else "one_$who" --pps "$pace"; fi \
      >>"$work/runs-$who-$pace.txt"
  done
done
for c in "${cases[@]}"; do
  read -r who pace <<<"$c"
  f="$work/runs-$who-$pace.txt"
  p=$(cut -d' ' -f1 "$f" | median)
  g=$(cut -d' ' -f2 "$f" | median)
  d=$(cut -d' ' -f3 "$f" | median)
  cpu=$([ "$who" = nobody ] && echo - || cut -d' ' -f4 "$f" | median)
  all=$(awk '{printf "%s%s / %s", (NR>1 ? ", " : ""), $1, $3}' "$f")
  label=$([ "$who" = nobody ] && echo "nobody (veth only)" || echo "$who")
  echo "| $label | $pace | **$p** | $g | $d | $cpu | $all |"
done
