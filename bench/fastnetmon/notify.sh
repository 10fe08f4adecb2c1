#!/bin/sh
# FastNetMon's notify script for bench/fastnetmon.sh: called as `notify.sh IP DIRECTION PPS
# ACTION` (ACTION ban, unban or attack_details), attack details on standard input. Writes
# one line per call to $FNM_EVENTS: wall time first (taken before anything else, so it is
# the moment FastNetMon acted), then the arguments and the attack type FastNetMon named.
t=$(date +%s.%N)
details=$(cat)
type=$(printf '%s\n' "$details" | sed -n 's/^Attack type: *//p' | head -n 1)
proto=$(printf '%s\n' "$details" | sed -n 's/^Attack protocol: *//p' | head -n 1)
echo "$t $1 $2 $3 $4 ${type:-none} ${proto:-none}" >>"${FNM_EVENTS:?}"
