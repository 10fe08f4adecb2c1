#!/usr/bin/env bash
# Sustained ingest of `rampart serve` side by side with pmacct's nfacctd and FastNetMon
# (issue 4): the same NetFlow v9 capture replayed by `rampart replay` at a ladder of rates
# to each collector in turn, on loopback; loss and CPU per million records for each.
#
# Needs root (it sets net.core.rmem_max and rmem_default for the runs and puts them back
# after), and on a fresh Debian 12 machine:
#     apt-get install -y pmacct fastnetmon
#     cargo build --release -p rampart --bin rampart && \
#         cargo build --release -p rampart-flow --example synth_pcap
# (the script runs the cargo builds itself when cargo is on root's PATH; curl is used for
# the collectors' HTTP counters).
#
# Input: examples/synth_pcap.rs's NetFlow v9 export, 10,000 datagrams of 30 records (a
# 13-field template re-sent every 20 datagrams): 65,536 sources in 10.0.0.0/16 toward 200
# hosts of 203.0.113.0/24, TCP and UDP, 1 to 50 packets per record (25.5 on average). At
# these rates every destination is far over the default thresholds, so detection runs
# with attacks open: rampart's DDoS and scan detectors and its traffic meter, FastNetMon's
# per-host counters, bans and notify script (a no-op).
# One run = a fresh collector, then `rampart replay FILE --rate-records R --loop N` with N
# whole loops of the capture so that the run lasts about DURATION seconds (rate "max":
# unpaced, N for about DURATION at 2.5 M/s). After the last send the script waits for the collector's
# socket queue to empty, then reads:
#   sent       replay's own report (records and datagrams handed to the kernel);
#   taken      records the collector says it processed: rampart processed_records (the
#              detection engine saw them), nfacctd the packets in its print output / 25.5
#              (every whole loop of the capture is 25.5 packets per record), FastNetMon
#              fastnetmon_netflow_v9_total_flows (prometheus endpoint);
#   loss       (sent - taken) / sent;
#   kdrop      kernel receive drops on the collector's port (/proc/net/udp `drops`, summed
#              over its sockets, after - before), in records (30 per datagram);
#   idrop      the collector's own drops: rampart dropped_records (engine queue full);
#              nfacctd has no counter, the number of its "missing data" log lines is kept
#              (nfacctd.log, one line per episode, not per record); FastNetMon: none;
#   cpu/M      utime+stime (+ reaped children's) of all the collector's processes, all
#              threads (/proc/PID/stat), from just before the replay to the end of the
#              drain, per million records taken; replay's own user+sys per million sent.
# Rampart also checks processed_records + dropped_records = the records its exporter
# counters received (column `ok`).
#
# Collectors (TOOLS, in this order at each rate, so all see the same moment's load):
#   rampart       `rampart serve` as configured by default (32 MiB socket buffers, 2
#                 SO_REUSEPORT sockets; rmem_max raised to 32 MiB so the kernel grants it)
#   rampart-4m    the same with listen.recv_buffer_bytes = 4 MiB, like the peers
#   nfacctd       bench/ingest/nfacctd.conf (4 MiB socket, 100 MB plugin pipe)
#   fastnetmon    /etc/fastnetmon.conf with netflow on, connection tracking off, our
#                 networks_list; rmem_default = 4 MiB for its run (it has no buffer option)
#   fastnetmon-defaults  the same with connection tracking on (the shipped setting) and
#                 the kernel's rmem_default as found
# Each rate is run RUNS times per collector (medians). A collector whose median loss at a
# rate is 5 % or more is not run at higher rates. Then each collector's lossless maximum,
# the highest rate of the ladder with median loss < 0.1 %, is run CONFIRM more times; if
# their median loss is 0.1 % or more the next lower rate is confirmed instead.
#
# Usage: sudo bench/ingest.sh        Markdown tables on stdout, progress on stderr.
# Environment: DURATION (15) seconds per run, RATES ("250000 500000 750000 1000000 1500000 2000000 max"),
#   TOOLS (all five above), RUNS (3), CONFIRM (3), RAW=FILE keeps every run's row,
#   KEEP=DIR keeps the scratch directory (logs, outputs) there.
set -euo pipefail
ulimit -c 0 # FastNetMon 1.2.4 aborts when stopped
cd "$(dirname "$0")/.."
duration=${DURATION:-15}
rates=${RATES:-"250000 500000 750000 1000000 1500000 2000000 max"}
tools=${TOOLS:-"rampart rampart-4m nfacctd fastnetmon fastnetmon-defaults"}
runs=${RUNS:-3}
confirm=${CONFIRM:-3}
here=bench/ingest
port=20555          # flow port, the same for every collector (one runs at a time)
api_port=20580      # rampart's API, FastNetMon's prometheus endpoint
records_per_loop=300000

die() { echo "ingest.sh: $*" >&2; exit 1; }
note() { echo "ingest.sh: $*" >&2; }
[ "$(id -u)" = 0 ] || die "needs root (sysctl net.core.rmem_max / rmem_default)"
for tool in nfacctd fastnetmon curl; do
  command -v "$tool" >/dev/null || die "$tool missing: apt-get install -y pmacct fastnetmon curl"
done
[ -r /etc/fastnetmon.conf ] || die "/etc/fastnetmon.conf missing (apt-get install -y fastnetmon)"
if command -v cargo >/dev/null; then
  nice cargo build --release -q -p rampart --bin rampart
  nice cargo build --release -q -p rampart-flow --example synth_pcap
fi
rampart=$PWD/target/release/rampart
synth=target/release/examples/synth_pcap
[ -x "$rampart" ] && [ -x "$synth" ] || die "no $rampart or $synth: build them first"

work=$(mktemp -d /tmp/ingest.XXXXXX)
rmem_max0=$(sysctl -n net.core.rmem_max)
rmem_default0=$(sysctl -n net.core.rmem_default)
tool_pid=""
cleanup() {
  if [ -n "$tool_pid" ]; then
    kill -INT "$tool_pid" 2>/dev/null || true
    sleep 1
    kill -KILL "$tool_pid" 2>/dev/null || true
  fi
  sysctl -qw net.core.rmem_max="$rmem_max0" net.core.rmem_default="$rmem_default0"
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -r "$work"/. "$KEEP"/; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$synth" netflow9 10000 "$work/netflow9.pcap"
capture=$work/netflow9.pcap

# --- measurements -------------------------------------------------------------------------

hexport=$(printf '%04X' "$port")
# Kernel receive drops and queued bytes over all UDP sockets bound to the flow port.
udp_drops() { awk -v p=":$hexport" '$2 ~ p"$" {d += $NF} END {print d + 0}' /proc/net/udp /proc/net/udp6; }
# Sockets on the flow port with datagrams waiting.
udp_queued() {
  awk -v p=":$hexport" '$2 ~ p"$" {split($5, q, ":"); if (q[2] != "00000000") n++} END {print n + 0}' \
    /proc/net/udp /proc/net/udp6
}
udp_bound() { [ "$(awk -v p=":$hexport" '$2 ~ p"$"' /proc/net/udp /proc/net/udp6 | wc -l)" -gt 0 ]; }
# A process and its descendants (from every process's parent in /proc/*/stat).
family() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
    { n = split($0, a, ") "); split(a[n], f, " "); parent[$1] = f[2] }
    END {
      want[root] = 1; print root
      do {
        more = 0
        for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; print p; more = 1 }
      } while (more)
    }'
}
# utime+stime+cutime+cstime of the process tree, in clock ticks.
cpu_ticks() {
  local t=0 p s
  for p in $(family "$1"); do
    s=$(cat /proc/"$p"/stat 2>/dev/null) || continue
    s=${s##*) }
    t=$((t + $(awk '{print $12 + $13 + $14 + $15}' <<<"$s")))
  done
  echo "$t"
}
hz=$(getconf CLK_TCK)
load1() { cut -d' ' -f1 /proc/loadavg; }
wait_for() { # FILE PATTERN TENTHS
  local i
  for i in $(seq "$3"); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# --- collectors ---------------------------------------------------------------------------

token=""
metric() { # NAME: sum of a rampart metric's samples
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$api_port/metrics" |
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.0f\n", s}'
}
fnm_metric() {
  curl -sf "http://127.0.0.1:$api_port/metrics" | awk -v n="$1" '$1 == n {v = $2} END {print v}'
}

start_tool() { # TOOL RUNDIR
  local tool=$1 dir=$2
  mkdir -p "$dir"
  sysctl -qw net.core.rmem_max=$((32 << 20)) net.core.rmem_default="$rmem_default0"
  case $tool in
    rampart | rampart-4m)
      local set=(--set "store.path=\"$dir/data\"")
      token=$("$rampart" token "${set[@]}" create --role viewer 2>/dev/null | tail -n 1 | awk '{print $NF}')
      [ "$tool" = rampart-4m ] && set+=(--set listen.recv_buffer_bytes=4194304)
      "$rampart" serve --protect 203.0.113.0/24 "${set[@]}" \
        --set "listen.flow=[\"127.0.0.1:$port\"]" --set "api.listen=\"127.0.0.1:$api_port\"" \
        </dev/null >"$dir/serve.log" 2>&1 &
      tool_pid=$!
      wait_for "$dir/serve.log" "API and console" 100 || die "rampart serve did not start: $(tail -n 5 "$dir/serve.log")"
      ;;
    nfacctd)
      mkdir -p "$dir/nfacctd-out"
      sed -e "s|@PORT@|$port|g" -e "s|@WORK@|$dir|g" "$here/nfacctd.conf" >"$dir/nfacctd.conf"
      nfacctd -f "$dir/nfacctd.conf" </dev/null >"$dir/nfacctd.out" 2>&1 &
      tool_pid=$!
      wait_for "$dir/nfacctd.log" "waiting for NetFlow" 100 || die "nfacctd did not start: $(tail -n 5 "$dir/nfacctd.log" "$dir/nfacctd.out")"
      ;;
    fastnetmon | fastnetmon-defaults)
      local tracking=off
      if [ "$tool" = fastnetmon ]; then
        sysctl -qw net.core.rmem_default=$((4 << 20))
      else
        tracking=on
      fi
      printf '203.0.113.0/24\n' >"$dir/networks"
      : >"$dir/whitelist"
      printf '#!/bin/sh\nexit 0\n' >"$dir/notify.sh"
      chmod +x "$dir/notify.sh"
      sed -E -e 's|^netflow = .*|netflow = on|' \
        -e "s|^netflow_port = .*|netflow_port = $port|" \
        -e 's|^netflow_host = .*|netflow_host = 127.0.0.1|' \
        -e "s|^enable_connection_tracking = .*|enable_connection_tracking = $tracking|" \
        -e "s|^networks_list_path = .*|networks_list_path = $dir/networks|" \
        -e "s|^white_list_path = .*|white_list_path = $dir/whitelist|" \
        -e "s|^notify_script_path = .*|notify_script_path = $dir/notify.sh|" \
        -e "s|^pid_path = .*|pid_path = $dir/fastnetmon.pid|" \
        -e "s|^cli_stats_file_path = .*|cli_stats_file_path = $dir/fastnetmon.dat|" \
        -e "s|^cli_stats_ipv6_file_path = .*|cli_stats_ipv6_file_path = $dir/fastnetmon_ipv6.dat|" \
        -e 's|^enable_api = .*|enable_api = off|' \
        -e 's|^prometheus = .*|prometheus = on|' \
        -e "s|^prometheus_port = .*|prometheus_port = $api_port|" \
        -e 's|^prometheus_host = .*|prometheus_host = 127.0.0.1|' \
        -e 's|^disable_usage_report = .*|disable_usage_report = on|' \
        -e 's|^monitor_local_ip_addresses = .*|monitor_local_ip_addresses = off|' \
        /etc/fastnetmon.conf >"$dir/fastnetmon.conf"
      fastnetmon --configuration_file "$dir/fastnetmon.conf" --log_file "$dir/fastnetmon.log" \
        --disable_pid_logic </dev/null >"$dir/fastnetmon.out" 2>&1 &
      tool_pid=$!
      wait_for "$dir/fastnetmon.log" "netflow plugin will listen" 150 || die "FastNetMon did not start: $(tail -n 5 "$dir/fastnetmon.log" "$dir/fastnetmon.out")"
      local i
      for i in $(seq 50); do fnm_metric fastnetmon_netflow_v9_total_flows >/dev/null 2>&1 && break; sleep 0.1; done
      ;;
    *) die "unknown collector $tool" ;;
  esac
  local i
  for i in $(seq 50); do udp_bound && break; sleep 0.1; done
  udp_bound || die "$tool is not listening on UDP port $port"
  sleep 1
}

# What shows progress while the collector works through what it was sent: its count of
# records taken; for nfacctd, which counts nothing until it stops, its CPU time (in steps of
# 3 ticks, so that idle wakeups do not count as work).
progress() {
  case $1 in
    rampart | rampart-4m) metric rampart_pipeline_processed_records_total ;;
    fastnetmon | fastnetmon-defaults) fnm_metric fastnetmon_netflow_v9_total_flows ;;
    nfacctd) echo $(( $(cpu_ticks "$tool_pid") / 3 )) ;;
  esac
}

stop_tool() {
  kill -INT "$tool_pid" 2>/dev/null || true
  local i
  for i in $(seq 100); do kill -0 "$tool_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$tool_pid" 2>/dev/null || true
  { wait "$tool_pid"; } 2>/dev/null || true
  tool_pid=""
}

# --- one run ------------------------------------------------------------------------------

# run_one TOOL RATE -> one row on stdout (called in this shell, never in a subshell, so
# that the trap knows the collector's pid):
# tool rate sent_rps sent_records taken loss% kdrop% idrop tool_cpu/M replay_cpu/M load ok
run_one() {
  local tool=$1 rate=$2 n=$(( $(ls "$work" | grep -c '^run') + 1 ))
  local dir=$work/run$n-$tool-$rate
  start_tool "$tool" "$dir"
  local pace loops
  if [ "$rate" = max ]; then
    pace=1000000000
    loops=$(( (2500000 * duration + records_per_loop - 1) / records_per_loop ))
  else
    pace=$rate
    loops=$(( (rate * duration + records_per_loop - 1) / records_per_loop ))
  fi
  local drops0 cpu0 l0 drops1 cpu1 l1
  drops0=$(udp_drops); cpu0=$(cpu_ticks "$tool_pid"); l0=$(load1)
  local TIMEFORMAT="%U %S"
  { time "$rampart" replay "$capture" --to "127.0.0.1:$port" --rate-records "$pace" \
      --loop "$loops" 2>"$dir/replay.txt" ; } 2>"$dir/replay.time"
  # Drain: the socket queue empties, then the collector's own count stops moving.
  local i prev=-1 now
  for i in $(seq 200); do [ "$(udp_queued)" = 0 ] && break; sleep 0.1; done
  for i in $(seq 100); do
    sleep 0.5
    now=$(progress "$tool" 2>/dev/null || echo -2)
    [ "$now" = "$prev" ] && break
    prev=$now
  done
  drops1=$(udp_drops); cpu1=$(cpu_ticks "$tool_pid"); l1=$(load1)
  local taken idrop=0 ok=-
  case $tool in
    rampart | rampart-4m)
      taken=$(metric rampart_pipeline_processed_records_total)
      idrop=$(metric rampart_pipeline_dropped_records_total)
      local received; received=$(metric rampart_exporter_records_total)
      ok=$([ $((taken + idrop)) = "$received" ] && echo yes || echo "NO:$received")
      ;;
    fastnetmon | fastnetmon-defaults) taken=$(fnm_metric fastnetmon_netflow_v9_total_flows) ;;
  esac
  stop_tool
  if [ "$tool" = nfacctd ]; then
    taken=$(cat "$dir"/nfacctd-out/*.csv 2>/dev/null |
      awk -F, '$3 ~ /^[0-9]+$/ {p += $3} END {printf "%.0f\n", p / 25.5}')
    idrop=$(grep -c "missing data" "$dir/nfacctd.log" || true)
  fi
  local line sent_records sent_datagrams sent_rps
  line=$(grep '^replay:' "$dir/replay.txt") || die "replay failed: $(cat "$dir/replay.txt")"
  sent_datagrams=$(sed -E 's/.*: ([0-9]+) datagrams, .*/\1/' <<<"$line")
  sent_records=$(sed -E 's/.* ([0-9]+) records in .*/\1/' <<<"$line")
  sent_rps=$(sed -E 's/.* ([0-9]+) records\/s.*/\1/' <<<"$line")
  awk -v tool="$tool" -v rate="$rate" -v rps="$sent_rps" -v sent="$sent_records" \
    -v dg="$sent_datagrams" -v taken="$taken" -v kd=$((drops1 - drops0)) -v idrop="$idrop" \
    -v cpu=$((cpu1 - cpu0)) -v hz="$hz" -v l0="$l0" -v l1="$l1" -v ok="$ok" '
    { rcpu = $1 + $2 }
    END {
      per = sent / dg
      printf "%s %s %d %d %d %.3f %.3f %s %.3f %.3f %.1f %s\n", tool, rate, rps, sent, taken,
        100 * (sent - taken) / sent, 100 * kd * per / sent, idrop,
        (taken > 0 ? cpu / hz / taken * 1e6 : 0), rcpu / sent * 1e6, (l0 + l1) / 2, ok
    }' "$dir/replay.time"
}

median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "-"; else print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# col ROWS TOOL RATE N: the Nth field of the rows of TOOL at RATE, one a line.
col() { awk -v t="$2" -v r="$3" -v n="$4" '$1 == t && $2 == r {print $n}' "$1"; }

rows=$work/rows
: >"$rows"
declare -A lossy
note "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $runs run(s) per rate, $duration s each"
for rate in $rates; do
  for r in $(seq "$runs"); do
    for tool in $tools; do
      [ -n "${lossy[$tool]:-}" ] && continue
      run_one "$tool" "$rate" >"$work/row"
      row=$(cat "$work/row")
      echo "$row" >>"$rows"
      note "ladder $r/$runs: $row"
    done
  done
  for tool in $tools; do
    [ -n "${lossy[$tool]:-}" ] && continue
    loss=$(col "$rows" "$tool" "$rate" 6 | median)
    awk -v l="$loss" 'BEGIN {exit !(l >= 5)}' && lossy[$tool]=$rate
  done
done

# Lossless maxima, confirmed.
confirmed=$work/confirmed
: >"$confirmed"
declare -A best
for tool in $tools; do
  best[$tool]=-
  # Ladder rates from the highest down.
  for rate in $(tr ' ' '\n' <<<"$rates" | tac); do
    loss=$(col "$rows" "$tool" "$rate" 6 | median)
    [ "$loss" = - ] && continue
    awk -v l="$loss" 'BEGIN {exit !(l < 0.1)}' || continue
    if [ "$confirm" = 0 ]; then # the ladder's own runs stand
      col "$rows" "$tool" "$rate" 0 >>"$confirmed"
      best[$tool]=$rate
      break
    fi
    : >"$work/c"
    for r in $(seq "$confirm"); do
      run_one "$tool" "$rate" >"$work/row"
      row=$(cat "$work/row")
      echo "$row" >>"$work/c"
      note "confirm $r/$confirm: $row"
    done
    cat "$work/c" >>"$confirmed"
    loss=$(cut -d' ' -f6 "$work/c" | median)
    if awk -v l="$loss" 'BEGIN {exit !(l < 0.1)}'; then
      best[$tool]=$rate
      break
    fi
  done
done
[ -n "${RAW:-}" ] && cat "$rows" "$confirmed" >"$RAW"

# --- report -------------------------------------------------------------------------------

fmt() { awk -v x="$1" 'BEGIN {if (x == "-") print "-"; else printf "%.3g", x}'; }
echo "Ladder: medians of $runs run(s) of ${duration} s per collector and rate; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
echo
echo "| collector | asked records/s | sent records/s | loss % | kernel drops % | own drops | collector CPU s per M records | replay CPU s per M | load avg |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for tool in $tools; do
  for rate in $rates; do
    [ -z "$(col "$rows" "$tool" "$rate" 1)" ] && continue
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$tool" "$rate" \
      "$(col "$rows" "$tool" "$rate" 3 | median)" "$(fmt "$(col "$rows" "$tool" "$rate" 6 | median)")" \
      "$(fmt "$(col "$rows" "$tool" "$rate" 7 | median)")" "$(col "$rows" "$tool" "$rate" 8 | median)" \
      "$(fmt "$(col "$rows" "$tool" "$rate" 9 | median)")" "$(fmt "$(col "$rows" "$tool" "$rate" 10 | median)")" \
      "$(col "$rows" "$tool" "$rate" 11 | median)"
  done
done
echo
echo "Lossless maximum (the highest ladder rate with median loss < 0.1 %, confirmed by $confirm more runs; their medians):"
echo
echo "| collector | lossless max (asked) | sent records/s | loss % | collector CPU s per M records | replay CPU s per M | load avg | checks |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for tool in $tools; do
  rate=${best[$tool]}
  if [ "$rate" = - ]; then
    echo "| $tool | none in the ladder | | | | | | |"
    continue
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$tool" "$rate" \
    "$(col "$confirmed" "$tool" "$rate" 3 | median)" "$(fmt "$(col "$confirmed" "$tool" "$rate" 6 | median)")" \
    "$(fmt "$(col "$confirmed" "$tool" "$rate" 9 | median)")" "$(fmt "$(col "$confirmed" "$tool" "$rate" 10 | median)")" \
    "$(col "$confirmed" "$tool" "$rate" 11 | median)" "$(col "$confirmed" "$tool" "$rate" 12 | sort -u | paste -sd, -)"
done
