#!/usr/bin/env bash
# Time to detect, side by side with FastNetMon, on the same captures in the same run.
#
# Needs root, and on a fresh Debian 12 machine:
#     apt-get install -y fastnetmon tcpreplay softflowd tcpdump
# (plus python3, and cargo to build rampart; without cargo on root's PATH, build first with
# `cargo build --release -p rampart --bin rampart --example attack_pcap`).
#
# Each run builds, with crates/rampart/examples/attack_pcap.rs and a seed of its own, captures
# of the end-to-end tests' benign background (web sessions, DNS, pings, a 50 Mbit/s download)
# with: a SYN flood, a UDP flood, an NTP and a DNS reflection at once on four hosts, at 1.2x
# and 2x THRESHOLD pps, and each alone at 10x; carpet bombing (NTP answers) over 203.0.113.0/24 at 1.2x, 2x and
# 10x the /24 threshold, each host far under THRESHOLD; a vertical and a horizontal port scan;
# the background alone. Then, for each capture:
#   * Rampart: `rampart analyze FILE --format json` with the capture's thresholds; latency in
#     event time, from the first attack packet to the detection's start (for scans, whose
#     start is their first probe, the shortest prefix of the capture that reports them).
#   * FastNetMon, twice (5 s averaging as shipped, and 1 s): started in the foreground in a
#     network namespace of its own, reading with AF_PACKET the far end of a veth pair that the
#     capture is played into at its recorded speed. Latency in wall time, from the first
#     attack packet seen on that end (tcpdump, kernel timestamp) to FastNetMon calling its
#     notify script with "ban" (the script's first act is to read the clock).
#     The player is bench/fastnetmon/replay.py, which keeps to the capture's schedule;
#     REPLAY=tcpreplay uses tcpreplay instead, which on a busy machine falls behind (each
#     packet waits its gap after the previous send) and so plays attacks slower than built.
# Thresholds are the same for both: THRESHOLD pps for each of FastNetMon's per-protocol
# counters (tcp, udp, icmp) and for each of Rampart's per-vector ones (all but ack_flood, which
# the background's download exceeds), 30,000 pps and 500 Mbit/s per host for both.
# Nothing is sent outside the namespace; it, the processes started here and the scratch
# directory are removed on exit.
#
# Usage: sudo bench/fastnetmon.sh [RUNS] [THRESHOLD] [SECONDS]
#   RUNS (3) repetitions, medians reported; THRESHOLD (1000) pps; SECONDS (16) length of the
#   flood and benign captures (attacks start at 2 s). Markdown table on stdout, progress on
#   stderr; RAW=FILE keeps the result rows (and FILE.replays how each replay kept time);
#   REPLAY=tcpreplay as above.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the checkout
cd "$(dirname "$0")/.."
runs=${1:-3}
threshold=${2:-1000}
seconds=${3:-16}
short=8 # carpet (2.5 s of attack) and scan captures
here=bench/fastnetmon
floods=syn_flood,udp_flood,ntp_amplification,dns_amplification
factors=(1.2 2 10)

die() { echo "fastnetmon.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespace, AF_PACKET)"
for tool in fastnetmon tcpreplay tcpdump ip python3; do
  command -v "$tool" >/dev/null || die "$tool missing: apt-get install -y fastnetmon tcpreplay softflowd tcpdump"
done

if command -v cargo >/dev/null; then
  cargo build --release -q -p rampart --bin rampart --example attack_pcap
fi
rampart=target/release/rampart
attack_pcap=target/release/examples/attack_pcap
[ -x "$rampart" ] && [ -x "$attack_pcap" ] || die "no $rampart or $attack_pcap: build them first"

work=$(mktemp -d /tmp/rampart-fnm.XXXXXX)
ns=rampart-fnm-$$
live=() # processes started here and still running
cleanup() {
  for p in "${live[@]}"; do stop "$p"; done
  ip netns del "$ns" 2>/dev/null || true
  if [ -n "${RAW:-}" ] && [ -f "$work/results.tsv" ]; then
    cp "$work/results.tsv" "$RAW"
    cp "$work/replays" "$RAW.replays"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The player sends into va; FastNetMon and tcpdump read vb. The frames are addressed to MACs
# nobody has, so the namespace's IP stack drops them after the packet sockets have seen them
# (no checksum fixing or accept_local needed); IPv6 is off so the kernel adds no chatter.
ip netns add "$ns"
ip netns exec "$ns" sh -e -c '
  sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip link set lo up
  ip link add va type veth peer name vb
  ip link set va up
  ip link set vb up'
printf '%s\n' 203.0.113.0/24 2001:db8:1::/48 >"$work/networks"
: >"$work/whitelist"
cp "$here/notify.sh" "$work/notify.sh"
chmod 755 "$work/notify.sh"
results=$work/results.tsv
: >"$results"
: >"$work/replays"

# Waits up to $2 tenths of a second for file $1 to contain $3.
wait_for() {
  for _ in $(seq "$2"); do grep -q "$3" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

stop() { # pid of a child: TERM, and KILL if it has not ended 5 s later
  kill "$1" 2>/dev/null || true
  local state
  for _ in $(seq 50); do
    # Until waited for, an ended child is a zombie (state Z) and its pid is not reused.
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || true
    [ -z "$state" ] || [ "$state" = Z ] && break
    sleep 0.1
  done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# fastnetmon PCAP TRUTH RUN LABEL CONFIG AVERAGE: one FastNetMon run over one replay.
fastnetmon_run() {
  local pcap=$1 truth=$2 run=$3 label=$4 config=$5 average=$6
  sed -e "s|@WORK@|$work|g" -e "s|@THRESHOLD@|$threshold|g" -e "s|@AVERAGE@|$average|g" \
    -e "s|@INTERFACE@|vb|g" "$here/fastnetmon.conf" >"$work/fastnetmon.conf"
  rm -f "$work"/first.* "$work/events" "$work/fastnetmon.log"
  FNM_EVENTS=$work/events ip netns exec "$ns" fastnetmon --configuration_file "$work/fastnetmon.conf" \
    --log_file "$work/fastnetmon.log" --disable_pid_logic </dev/null >"$work/fastnetmon.out" 2>&1 &
  local fnm=$!
  live=("$fnm")
  if ! wait_for "$work/fastnetmon.log" 150 "Start AF_PACKET worker"; then
    tail -n 20 "$work/fastnetmon.out" "$work/fastnetmon.log" >&2 || true
    die "FastNetMon did not start"
  fi
  sleep 1 # its first speed computation
  # One tcpdump per attack, each ending at the attack's first packet.
  local i filter
  while IFS=$'\t' read -r i filter; do
    ip netns exec "$ns" tcpdump -i vb -c 1 -tt -n --immediate-mode "$filter" \
      >"$work/first.$i" 2>"$work/first.$i.err" &
    live+=($!)
    wait_for "$work/first.$i.err" 50 "listening on" || die "tcpdump did not start: $(cat "$work/first.$i.err")"
  done < <(python3 "$here/results.py" filters "$truth")
  if [ "${REPLAY:-}" = tcpreplay ]; then
    ip netns exec "$ns" tcpreplay -i va "$pcap" >"$work/replay.out" 2>&1 &
  else
    ip netns exec "$ns" python3 "$here/replay.py" va "$pcap" >"$work/replay.out" 2>&1 &
  fi
  local replay=$! status=0
  live+=("$replay")
  wait "$replay" || status=$?
  unset 'live[-1]' # waited for: its pid may be reused
  [ "$status" = 0 ] || die "replay failed: $(cat "$work/replay.out")"
  if [ "${REPLAY:-}" = tcpreplay ]; then
    echo "$run $label $config: $(grep "Actual:" "$work/replay.out"); capture span $(sed -n 's/^# span //p' "$truth") s" >>"$work/replays"
  else
    echo "$run $label $config: $(grep "^sent" "$work/replay.out")" >>"$work/replays"
  fi
  sleep 2 # a last speed computation and the notify script
  for p in "${live[@]}"; do stop "$p"; done
  live=()
  python3 "$here/results.py" fastnetmon "$truth" "$work" "$work/events" "$run" "$label" "$config" >>"$results"
}

# capture RUN LABEL SCENARIO SECONDS [attack_pcap options]: build, analyze, replay twice.
capture() {
  local run=$1 label=$2 scenario=$3 secs=$4
  shift 4
  local pcap=$work/capture.pcap truth=$work/truth.txt
  "$attack_pcap" "$scenario" "$pcap" --seconds "$secs" --seed "$run" --threshold "$threshold" "$@" >"$truth"
  python3 "$here/results.py" span "$pcap" >>"$truth" # for the replay's timing check
  echo "run $run/$runs: $label" >&2
  python3 "$here/results.py" rampart "$rampart" "$pcap" "$truth" "$run" "$label" >>"$results"
  fastnetmon_run "$pcap" "$truth" "$run" "$label" fnm-5s 5
  fastnetmon_run "$pcap" "$truth" "$run" "$label" fnm-1s 1
}

for run in $(seq "$runs"); do
  for f in "${factors[@]}"; do
    if [ "$f" = 10 ]; then
      # Four floods at 10x at once are 46,000 frames/s, more than this 2-core machine plays
      # on time while FastNetMon reads them: one capture each.
      for v in ${floods//,/ }; do capture "$run" "floods ${f}x" "$v" "$seconds" --factor "$f"; done
    else
      capture "$run" "floods ${f}x" "$floods" "$seconds" --factor "$f"
    fi
  done
  for f in "${factors[@]}"; do capture "$run" "carpet ${f}x" carpet "$short" --factor "$f"; done
  capture "$run" scans scans "$short"
  capture "$run" benign benign "$seconds"
done

python3 "$here/results.py" table "$results" "$runs" "$threshold" "$seconds"
# How well the replays kept to the captures' timing.
if [ "${REPLAY:-}" = tcpreplay ]; then
  echo; echo "tcpreplay, elapsed against the capture's span:"; echo; sed 's/^/    /' "$work/replays"
else
  # Lines: RUN LABEL... CONFIG: sent ... latest MS behind schedule, ...
  awk '{ label = ""; for (i = 2; $i !~ /:$/; i++) label = label (label ? " " : "") $i
         for (; i <= NF; i++) if ($i == "latest") v = $(i + 1)
         if (!(label in m)) order[++n] = label
         if (v > m[label]) m[label] = v; count++ }
    END { printf "\nReplays, the latest frame of any run behind its time in the capture (%d replays): ", count
          for (k = 1; k <= n; k++) printf "%s%s %.0f ms", (k > 1 ? ", " : ""), order[k], m[order[k]]
          print "." }' "$work/replays"
fi
