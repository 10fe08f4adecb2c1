#!/usr/bin/env python3
"""Bookkeeping for bench/fastnetmon.sh: what each tool found in one capture, as result rows,
and the Markdown table of medians over all runs. Standard library only.

  results.py span PCAP                          `# span S`: seconds from first to last frame
  results.py filters TRUTH                      tcpdump filter of each attack's first packet
  results.py rampart BIN PCAP TRUTH RUN LABEL   runs `rampart analyze`, prints result rows
  results.py fastnetmon TRUTH FIRSTS EVENTS RUN LABEL CONFIG   result rows from the notify log
  results.py table RESULTS RUNS THRESHOLD SECONDS   the Markdown table

TRUTH is attack_pcap's standard output: line 2 holds the `rampart analyze` arguments, then
one line per attack or scan: `VECTOR DIRECTION TARGET ...: first packet T s, ...` in scenario
time (seconds after traffic::BASE_NS). A result row is tab-separated: run, capture label,
tool configuration, what (vector or "false alarm"), target, latency in seconds or "-", name
the tool gave.
"""

import ipaddress
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
from collections import defaultdict

# Scenario time 0 (traffic::BASE_NS): 2026-11-22T10:00:00Z.
BASE_S = 1_795_341_600
# The background's own hosts (crates/rampart/tests/support/traffic.rs): web servers, bulk
# receiver, DNS server. A ban of one of them is not a carpet or horizontal-scan detection.
BACKGROUND = {"203.0.113.10", "203.0.113.20", "203.0.113.30", "203.0.113.53"}

TRUTH_LINE = re.compile(r"^(\S+) (\S+) (\S+) (?:from (\S+):)?.*first packet ([0-9.]+) s")


def truths(path):
    """The attacks and scans of a capture: dicts of vector, target, source, first (Unix s)."""
    with open(path) as f:
        lines = f.read().splitlines()
    out = []
    for line in lines[2:]:
        if line.startswith("#"):
            continue
        m = TRUTH_LINE.match(line)
        if not m:
            raise SystemExit(f"{path}: not a truth line: {line!r}")
        vector, _direction, target, source, first = m.groups()
        target = target.rstrip(":")
        out.append({"vector": vector, "target": target, "source": source,
                    "first": BASE_S + float(first)})
    return out, lines[1].split()[4:]


def frames(path):
    """(Unix s, record bytes) of each frame of a little-endian microsecond pcap."""
    with open(path, "rb") as f:
        f.read(24)
        while True:
            head = f.read(16)
            if len(head) < 16:
                return
            sec, usec, caplen, _ = struct.unpack("<IIII", head)
            yield sec + usec / 1e6, head + f.read(caplen)


def cmd_span(pcap):
    times = [t for t, _ in frames(pcap)]
    print(f"# span {times[-1] - times[0]:.6f}" if times else "# span 0")


def cmd_filters(truth_path):
    for i, t in enumerate(truths(truth_path)[0]):
        if t["source"]:
            f = f"src host {t['source']}"
        elif "/" in t["target"]:
            # Carpet bombing goes to .1 first; the background never does.
            net = ipaddress.ip_network(t["target"])
            f = f"dst host {net.network_address + 1}"
        else:
            f = f"dst host {t['target']}"
        print(f"{i}\t{f}")


def rfc3339(s):
    """`2026-11-22T10:00:02.600Z` to Unix seconds (UTC)."""
    from datetime import datetime, timezone
    day, frac = s.rstrip("Z"), "0"
    if "." in day:
        day, frac = day.split(".")
    t = datetime.strptime(day, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return t.timestamp() + float("0." + frac)


def analyze(binary, pcap, args):
    out = subprocess.run([binary, "analyze", pcap, *args, "--format", "json"],
                         check=True, capture_output=True, env={**os.environ, "RUST_LOG": "warn"})
    return json.loads(out.stdout)["detections"]


def matches(d, t):
    if d["target"] != t["target"]:
        return False
    return d["kind"] == "scan" if t["source"] else d["kind"] == "ddos"


def cut_pcap(src, dst, until):
    """Copies the frames of microsecond pcap `src` captured before `until` (Unix s)."""
    with open(src, "rb") as f:
        header = f.read(24)
    with open(dst, "wb") as o:
        o.write(header)
        for t, record in frames(src):
            if t >= until:
                break
            o.write(record)


def scan_latency(binary, pcap, args, t):
    """A scan detection's `start` is its first probe, not when it was found: the latency is
    the shortest prefix of the capture (in steps of 50 ms) in which analyze reports it."""
    with tempfile.TemporaryDirectory() as tmp:
        cut = os.path.join(tmp, "prefix.pcap")
        for step in range(1, 101):
            cut_pcap(pcap, cut, t["first"] + step * 0.05)
            if any(matches(d, t) for d in analyze(binary, cut, args)):
                return step * 0.05
    return None


def cmd_rampart(binary, pcap, truth_path, run, label):
    ts, args = truths(truth_path)
    found = analyze(binary, pcap, args)
    for t in ts:
        hits = [d for d in found if matches(d, t)]
        if not hits:
            row(run, label, "rampart", t["vector"], t["target"], None, "-")
            continue
        d = hits[0]
        if t["source"]:
            latency = scan_latency(binary, pcap, args, t)
            name = d["scan_type"] + "_scan"
        else:
            latency = rfc3339(d["start"]) - t["first"]
            name = d["vector"]
        row(run, label, "rampart", t["vector"], t["target"], latency, name)
    for d in found:
        if not any(matches(d, t) for t in ts):
            name = d.get("vector") or d.get("scan_type", "?") + "_scan"
            row(run, label, "rampart", "false alarm", d["target"], None, name)


def cmd_fastnetmon(truth_path, firsts_dir, events_path, run, label, config):
    ts, _ = truths(truth_path)
    bans = []  # (time, ip, type, protocol): the first ban of each address
    if os.path.exists(events_path):
        with open(events_path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 7 and p[4] == "ban" and p[1] not in {b[1] for b in bans}:
                    bans.append((float(p[0]), p[1], p[5], p[6]))
    used = set()
    for i, t in enumerate(ts):
        first = None
        try:
            with open(os.path.join(firsts_dir, f"first.{i}")) as f:
                first = float(f.read().split()[0])
        except (OSError, IndexError, ValueError):
            pass  # tcpdump saw nothing: reported below as not measured
        if "/" in t["target"]:
            net = ipaddress.ip_network(t["target"])
            hits = [b for b in bans if ipaddress.ip_address(b[1]) in net
                    and b[1] not in BACKGROUND]
        else:
            hits = [b for b in bans if b[1] == t["target"]]
        if not hits or first is None:
            why = "-" if first is not None else "first packet not seen"
            row(run, label, config, t["vector"], t["target"], None, why)
            continue
        b = min(hits)
        used.update(h[1] for h in hits)
        name = b[2] if b[2] != "unknown" else f"unknown ({b[3]})"
        if "/" in t["target"]:
            name += f", {len(hits)} host(s)"
        row(run, label, config, t["vector"], t["target"], b[0] - first, name)
    for b in bans:
        if b[1] not in used:
            name = b[2] if b[2] != "unknown" else f"unknown ({b[3]})"
            row(run, label, config, "false alarm", b[1], None, name)


def row(run, label, tool, what, target, latency, name):
    lat = "-" if latency is None else f"{latency:.3f}"
    print("\t".join([str(run), label, tool, what, target, lat, name]))


TOOLS = [("rampart", "Rampart"), ("fnm-5s", "FastNetMon, 5 s average (shipped)"),
         ("fnm-1s", "FastNetMon, 1 s average")]


def factor(label):
    m = re.search(r"([0-9.]+)x$", label)
    return float(m.group(1)) if m else 0.0


def attack_name(label, what):
    return f"carpet bombing ({what})" if label.startswith("carpet") else what


def cmd_table(results_path, runs, threshold, seconds):
    rows = []
    with open(results_path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) == 7:
                rows.append(p)
    runs = int(runs)
    firsts, cells, targets = {}, defaultdict(list), defaultdict(set)
    alarms = defaultdict(lambda: defaultdict(lambda: defaultdict(set)))
    for run, label, tool, what, target, lat, name in rows:
        if what == "false alarm":
            alarms[label][tool][f"{target} `{name}`"].add(run)
            continue
        key = (attack_name(label, what), factor(label))
        firsts.setdefault(key[0], len(firsts))
        targets[key].add(target)
        cells[(key, tool)].append((None if lat == "-" else float(lat), name))
    keys = sorted({k for k, _ in cells}, key=lambda k: (firsts[k[0]], k[1]))

    def cell(key, tool):
        got = cells.get((key, tool), [])
        if not got:
            return "not run"
        lats = [l for l, _ in got if l is not None]
        names = sorted({n for l, n in got if l is not None})
        unseen = sum(n == "first packet not seen" for l, n in got)
        note = f" ({unseen} run(s) unmeasured: first packet not seen)" if unseen else ""
        if not lats:
            return f"not found ({len(got)} runs){note}"
        s = f"**{statistics.median(lats):.2f} s**"
        if len(lats) > 1:
            s += f" [{min(lats):.2f}–{max(lats):.2f}]"
        if len(lats) < len(got):
            s += f" found in {len(lats)} of {len(got)} runs"
        return s + " `" + "`, `".join(names) + "`" + note

    print(f"Time from the first attack packet to detection: median of {runs} runs "
          f"[min–max], and the name each tool gave. Thresholds {int(threshold):,} pps per "
          f"vector (Rampart) or protocol (FastNetMon) and host.\n")
    print("| attack | × threshold | target | " + " | ".join(t[1] for t in TOOLS) + " |")
    print("| --- | --- | --- |" + " --- |" * len(TOOLS))
    for key in keys:
        what, f = key
        label = f"{f:g}x" if f else "–"
        print(f"| {what} | {label} | {', '.join(sorted(targets[key]))} | "
              + " | ".join(cell(key, t) for t, _ in TOOLS) + " |")
    print("\nFalse alarms, detections of anything not attacked (in how many runs), by capture:\n")
    print("| capture | " + " | ".join(t[1] for t in TOOLS) + " |")
    print("| --- |" + " --- |" * len(TOOLS))
    labels = sorted({r[1] for r in rows},
                    key=lambda l: (l != "benign", l.split()[0], factor(l)))
    for label in labels:
        out = []
        for tool, _ in TOOLS:
            got = alarms[label][tool]
            out.append("none" if not got else "; ".join(
                f"{k} ({len(v)}/{runs})" for k, v in sorted(got.items())))
        print(f"| {label} | " + " | ".join(out) + " |")


def main():
    cmds = {"span": cmd_span, "filters": cmd_filters, "rampart": cmd_rampart,
            "fastnetmon": cmd_fastnetmon, "table": cmd_table}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        raise SystemExit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
