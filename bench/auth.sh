#!/usr/bin/env bash
# Login abuse on one large sshd log (bench/auth/sshd_log.py, with attempt-level truth):
# `rampart analyze` beside fail2ban-regex (its sshd filter) and CrowdSec (Debian's 1.4.6,
# file replay with its local API in the same process, on a private config and database).
# Prints lines/s for each and precision/recall of attacking addresses and attempt counts.
#
# Usage: bench/auth.sh [SCALE] [DAYS]   (defaults 10 4: about 120,000 lines)
# Needs: a release build of rampart (cargo build --release -p rampart), fail2ban,
# crowdsec (its postinst wants a non-empty /etc/crowdsec/online_api_credentials.yaml to
# install offline), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-10}
DAYS=${2:-4}
RAMPART=${RAMPART:-target/release/rampart}
W=${WORK:-/tmp/rampart-bench-auth}
rm -rf "$W"; mkdir -p "$W/cs"
for t in fail2ban-regex crowdsec cscli python3 "$RAMPART"; do
  command -v "$t" >/dev/null || [ -x "$t" ] || { echo "bench/auth.sh: $t is missing" >&2; exit 1; }
done

python3 bench/auth/sshd_log.py "$W/auth.log" "$W/truth.json" --scale "$SCALE" --days "$DAYS"
LINES=$(wc -l < "$W/auth.log")
echo "log: $LINES lines, $(du -m "$W/auth.log" | cut -f1) MB"

# CPU seconds (user+sys) and wall seconds of a command, into $W/NAME.time.
timed() { local name=$1; shift; /usr/bin/time -f "%e %U %S %M" -o "$W/$name.time" "$@"; }

timed rampart "$RAMPART" analyze "$W/auth.log" --format json > "$W/rampart.json"
timed fail2ban fail2ban-regex -o row "$W/auth.log" /etc/fail2ban/filter.d/sshd.conf > "$W/fail2ban.rows"

# CrowdSec: the packaged config, with its own database, log, API port and no online API.
sed -e "s#db_path: .*#db_path: $W/cs/crowdsec.db#" \
    -e "s#log_dir: .*#log_dir: $W/cs/#" \
    -e "s#listen_uri: .*#listen_uri: 127.0.0.1:18089#" \
    -e "s#credentials_path: /etc/crowdsec/local_api_credentials.yaml#credentials_path: $W/cs/local_api_credentials.yaml#" \
    -e "/online_client:/,/credentials_path: .*online_api_credentials.yaml/d" \
    /etc/crowdsec/config.yaml > "$W/cs/config.yaml"
cscli -c "$W/cs/config.yaml" machines add bench --auto --force -f "$W/cs/local_api_credentials.yaml" >/dev/null 2>&1
sed -i "s#url: .*#url: http://127.0.0.1:18089#" "$W/cs/local_api_credentials.yaml"
# In 1.4.6 replay keeps running (its local API in the same process) after it says
# "Acquisition is finished": timed to that line; CPU and peak memory from /proc then.
crowdsec -c "$W/cs/config.yaml" -dsn "file://$W/auth.log" -type syslog > "$W/cs/run.out" 2>&1 &
CS=$!
T0=$(date +%s.%N)
until grep -q "Acquisition is finished" "$W/cs/run.out"; do
  kill -0 "$CS" 2>/dev/null || { echo "crowdsec exited early:" >&2; tail "$W/cs/run.out" >&2; break; }
  sleep 0.2
done
T1=$(date +%s.%N)
TICK=$(getconf CLK_TCK)
CPU=$(awk -v t="$TICK" '{print ($14 + $15) / t}' "/proc/$CS/stat" 2>/dev/null || echo 0)
RSS=$(awk '/VmHWM/ {print $2}' "/proc/$CS/status" 2>/dev/null || echo 0)
echo "$(echo "$T1 - $T0" | bc) $CPU 0 $RSS" > "$W/crowdsec.time"
sleep "${CROWDSEC_SETTLE:-10}"   # overflows reach the in-process API and its database
kill "$CS"; wait "$CS" 2>/dev/null || true

python3 - "$W" "$LINES" <<'PY'
import ast, collections, json, sqlite3, sys
w, lines = sys.argv[1], int(sys.argv[2])
truth = json.load(open(f"{w}/truth.json"))["sources"]
# Sources a per-source tool can find: every attacker but the stuffing campaign's (two tries each).
want = {a for a, v in truth.items() if v["role"] not in ("benign", "noise", "stuffing")}
fails = {a: v["failures"] for a, v in truth.items()}

def pr(found):
    tp = len(found & want)
    return tp / max(len(found), 1), tp / max(len(want), 1)

def attempts(counted):
    # Counted failures per source against the truth's: precision = of what was counted, how
    # much is real; recall = of the real attempts, how many were counted.
    hit = sum(min(c, fails.get(a, 0)) for a, c in counted.items())
    return hit / max(sum(counted.values()), 1), hit / max(sum(fails.values()), 1)

def rate(name):
    e, u, s, m = open(f"{w}/{name}.time").read().split()[-4:]
    return float(e), float(u) + float(s), int(m)

rows = []
r = json.load(open(f"{w}/rampart.json"))
found = {d["source"] for d in r["detections"] if d.get("source")}
# A source's attempts: the largest `failures` of its detections (one detection covers a
# whole episode; kinds overlap, so they are not summed).
counted = collections.Counter()
for d in r["detections"]:
    if d.get("source"):
        counted[d["source"]] = max(counted[d["source"]], d.get("failures", 0))
rows.append(("rampart analyze", rate("rampart"), pr(found), attempts(counted), len(found)))

per_ip = collections.defaultdict(list)
for l in open(f"{w}/fail2ban.rows"):
    l = l.strip().rstrip(",")
    if not l.startswith("["):
        continue
    try:
        ip, t = ast.literal_eval(l)[:2]
    except Exception:
        continue
    per_ip[ip].append(t)
# The sshd jail's defaults: maxretry 5 within findtime 600 s.
banned = set()
for ip, ts in per_ip.items():
    ts.sort()
    if any(ts[i + 4] - ts[i] <= 600 for i in range(len(ts) - 4)):
        banned.add(ip)
rows.append(("fail2ban-regex (sshd, jail maxretry 5 / 600 s)", rate("fail2ban"), pr(banned),
             attempts({ip: len(ts) for ip, ts in per_ip.items()}), len(banned)))

try:
    db = sqlite3.connect(f"{w}/cs/crowdsec.db")
    alerts = db.execute("select source_ip, scenario, events_count from alerts").fetchall()
except Exception as e:
    alerts = []
    print("crowdsec database:", e)
cs = {ip for ip, sc, n in alerts if ip and "ssh" in (sc or "")}
cs_events = collections.Counter()
for ip, sc, n in alerts:
    if ip and "ssh" in (sc or ""):
        cs_events[ip] += n or 0
rows.append(("crowdsec 1.4.6 (sshd collection)", rate("crowdsec"), pr(cs), attempts(cs_events), len(cs)))

print(f"\n{lines} lines; {len(want)} attacking sources (per-source), "
      f"{sum(fails.values())} failed attempts in the truth")
print("| tool | wall s | CPU s | lines/s (CPU) | max RSS MB | sources flagged | precision | recall | attempts precision | attempts recall |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for name, (e, c, m), (p, rc), att, n in rows:
    a = f"{att[0]:.2f} | {att[1]:.2f}"
    print(f"| {name} | {e:.2f} | {c:.2f} | {lines / max(c, 1e-3):,.0f} | {m // 1024} | {n} | {p:.2f} | {rc:.2f} | {a} |")
missed = {n: sorted(want - f)[:5] for n, f in [("rampart", found), ("fail2ban", banned), ("crowdsec", cs)]}
roles = lambda s: collections.Counter(truth[a]["role"] for a in s)
for n, f in [("rampart", found), ("fail2ban", banned), ("crowdsec", cs)]:
    print(f"{n}: missed roles {dict(roles(want - f))}, extra {dict(roles(f - want))}")
PY
