#!/usr/bin/env python3
"""Live numbers of `rampart serve` (issue 4), run by bench/live.sh; see there for the setup.

Phase "latency": `rampart simulate --scenario syn-flood` sends continuous NetFlow v9 through a
UDP tee to `rampart serve` and to FastNetMon (5 s averaging as shipped, and 1 s). The attack
starts when simulate says so on stderr; Rampart's latency is until the attack is in
/api/v1/attacks (polled every 10 ms), FastNetMon's until its notify script is called with
"ban" (the script reads the clock first).

Phase "load": `rampart replay` sends a NetFlow v9 capture at RATE records/s for SECONDS while
the API is asked for status, attacks, traffic and exporters in turn (one request at a time, as
a console and a Grafana do); the daemon's resident memory is sampled every 0.2 s.
"""
import json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.request

RAMPART = os.environ.get("RAMPART", "target/release/rampart")
SYNTH = os.environ.get("SYNTH", "target/release/examples/synth_pcap")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Serve:
    """A `rampart serve` in a scratch directory on loopback ports of its own."""

    def __init__(self, work, flow_port, extra=()):
        self.api = f"127.0.0.1:{free_tcp_port()}"
        self.data = os.path.join(work, "rampart-data")
        common = ["--set", f'store.path="{self.data}"']
        args = [RAMPART, "serve", *common, "--protect", "203.0.113.0/24",
                "--set", f'listen.flow=["127.0.0.1:{flow_port}"]',
                "--set", f'api.listen="{self.api}"',
                "--set", "logs.syslog_udp=[]", "--set", "logs.syslog_tcp=[]", *extra]
        self.out = open(os.path.join(work, "serve.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(tuple(self.api.rsplit(":", 1)), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit("rampart serve did not start: see " + self.out.name)
        made = subprocess.run([RAMPART, "token", *common, "create", "--role", "viewer"],
                              capture_output=True, text=True, check=True)
        self.token = made.stdout.strip().split()[-1]

    def get(self, path):
        req = urllib.request.Request(f"http://{self.api}{path}",
                                     headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.out.close()


class FastNetMon:
    """FastNetMon with netflow on one port, /etc/fastnetmon.conf otherwise, a notify script
    that writes the clock, and the thresholds rampart uses by default (20,000 pps per host)."""

    def __init__(self, work, name, port, average):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        d = self.dir
        open(f"{d}/networks", "w").write("203.0.113.0/24\n")
        open(f"{d}/whitelist", "w").write("")
        self.events = f"{d}/events"
        open(f"{d}/notify.sh", "w").write(
            f'#!/bin/sh\nt=$(date +%s.%N)\ncat >/dev/null\necho "$t $1 $2 $3 $4" >>{self.events}\n')
        os.chmod(f"{d}/notify.sh", 0o755)
        sets = {
            "netflow": "on", "netflow_port": str(port), "netflow_host": "127.0.0.1",
            "enable_connection_tracking": "off", "networks_list_path": f"{d}/networks",
            "white_list_path": f"{d}/whitelist", "notify_script_path": f"{d}/notify.sh",
            "pid_path": f"{d}/fastnetmon.pid", "cli_stats_file_path": f"{d}/fastnetmon.dat",
            "cli_stats_ipv6_file_path": f"{d}/fastnetmon_ipv6.dat", "enable_api": "off",
            "prometheus": "off", "disable_usage_report": "on",
            "monitor_local_ip_addresses": "off", "enable_ban": "on",
            "ban_for_pps": "on", "threshold_pps": "20000", "ban_for_bandwidth": "off",
            "ban_for_flows": "off", "average_calculation_time": str(average),
            "speed_calculation_delay": "1", "logging_local_syslog_logging": "off",
        }
        lines = []
        with open("/etc/fastnetmon.conf") as f:
            for line in f:
                key = line.split("=")[0].strip()
                if key in sets and "=" in line and not line.lstrip().startswith("#"):
                    lines.append(f"{key} = {sets.pop(key)}\n")
                else:
                    lines.append(line)
        lines += [f"{k} = {v}\n" for k, v in sets.items()]
        open(f"{d}/fastnetmon.conf", "w").writelines(lines)
        self.log = f"{d}/fastnetmon.log"
        self.proc = subprocess.Popen(
            ["fastnetmon", "--configuration_file", f"{d}/fastnetmon.conf", "--log_file",
             self.log, "--disable_pid_logic"], stdin=subprocess.DEVNULL,
            stdout=open(f"{d}/fastnetmon.out", "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(self.log) and "netflow plugin will listen" in open(self.log).read():
                return
            time.sleep(0.1)
        raise SystemExit(f"FastNetMon did not start: see {self.log}")

    def first_ban(self, target):
        if not os.path.exists(self.events):
            return None
        for line in open(self.events):
            f = line.split()
            if len(f) >= 5 and f[1] == target and f[4] == "ban":
                return float(f[0])
        return None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def tee(listen_port, to_ports, stop):
    """Every datagram to each collector, in the order it came."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    rx.bind(("127.0.0.1", listen_port))
    rx.settimeout(0.2)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    while not stop.is_set():
        try:
            data = rx.recv(65536)
        except socket.timeout:
            continue
        for p in to_ports:
            tx.sendto(data, ("127.0.0.1", p))


def latency_run(work):
    target = "203.0.113.10"
    tee_port, serve_port, fnm5_port, fnm1_port = (free_udp_port() for _ in range(4))
    serve = Serve(work, serve_port)
    fnms = {"fastnetmon (5 s average)": FastNetMon(work, "fnm5", fnm5_port, 5),
            "fastnetmon (1 s average)": FastNetMon(work, "fnm1", fnm1_port, 1)}
    stop = threading.Event()
    t = threading.Thread(target=tee, args=(tee_port, [serve_port, fnm5_port, fnm1_port], stop))
    t.start()
    sim = subprocess.Popen([RAMPART, "simulate", "--to", f"127.0.0.1:{tee_port}",
                            "--scenario", "syn-flood", "--duration", "45"],
                           stderr=subprocess.PIPE, text=True, bufsize=1)
    start = {}

    def read_notices():
        for line in sim.stderr:
            if "attack on" in line and "starts" in line and "t" not in start:
                start["t"] = time.time()

    threading.Thread(target=read_notices, daemon=True).start()
    seen, api_ms = None, []
    deadline = time.time() + 60
    while time.time() < deadline and seen is None:
        t0 = time.perf_counter()
        attacks = serve.get("/api/v1/attacks?state=active")
        api_ms.append((time.perf_counter() - t0) * 1000)
        items = attacks if isinstance(attacks, list) else attacks.get("attacks", [])
        if "t" in start and any(a.get("target") == target for a in items):
            seen = time.time()
        time.sleep(0.01)
    deadline = time.time() + 20
    while time.time() < deadline and not all(f.first_ban(target) for f in fnms.values()):
        time.sleep(0.1)
    sim.terminate()
    sim.wait()
    stop.set()
    t.join()
    row = {"rampart": seen - start["t"] if seen and "t" in start else None}
    for name, f in fnms.items():
        b = f.first_ban(target)
        row[name] = b - start["t"] if b and "t" in start else None
        f.stop()
    serve.stop()
    return row


def load_run(work, rate, seconds):
    capture = os.path.join(work, "synth.pcap")
    if not os.path.exists(capture):
        subprocess.run([SYNTH, "netflow9", "10000", capture], check=True,
                       stdout=subprocess.DEVNULL)
    port = free_udp_port()
    serve = Serve(work, port)
    loops = max(1, int(rate * seconds / 300_000))  # 10,000 datagrams of 30 records
    replay = subprocess.Popen([RAMPART, "replay", capture, "--to", f"127.0.0.1:{port}",
                               "--rate-records", str(rate), "--loop", str(loops)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    paths = ["/api/v1/status", "/api/v1/attacks", "/api/v1/traffic", "/api/v1/exporters"]
    api_ms, rss, i, last_rss = [], [], 0, 0.0
    while replay.poll() is None:
        t0 = time.perf_counter()
        serve.get(paths[i % len(paths)])
        api_ms.append((time.perf_counter() - t0) * 1000)
        i += 1
        if time.time() - last_rss >= 0.2:
            rss.append(serve.rss_mb())
            last_rss = time.time()
        time.sleep(0.02)
    err = replay.stderr.read()
    # What the sockets still hold is drained before the count is read.
    processed, before = None, -1
    while processed != before:
        before = processed
        time.sleep(0.5)
        processed = serve.get("/api/v1/status")["pipeline"]["processed_records"]
    serve.stop()
    sent = loops * 300_000
    return {"rate": rate, "sent": sent, "processed": processed, "api_ms": api_ms,
            "rss_mb": rss, "replay": err.strip().splitlines()[-1:] }


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    rows, loads = [], []
    for r in range(runs):
        work = tempfile.mkdtemp(prefix="rampart-live-")
        try:
            log(f"latency run {r + 1}/{runs}")
            rows.append(latency_run(work))
            log(f"  {rows[-1]}")
            log(f"load run {r + 1}/{runs} at {rate} records/s")
            loads.append(load_run(work, rate, seconds))
            l = loads[-1]
            log(f"  processed {l['processed']} of {l['sent']}, API p99 {pct(l['api_ms'], 0.99):.1f} ms, "
                f"RSS max {max(l['rss_mb'] or [0]):.0f} MB; replay: {l['replay']}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print("| tool | detection latency, median (s) | each run (s) |")
    print("| --- | --- | --- |")
    for name in rows[0]:
        v = [x[name] for x in rows]
        ok = [x for x in v if x is not None]
        med = f"{statistics.median(ok):.2f}" if ok else "not detected"
        print(f"| {name} | {med} | {', '.join('-' if x is None else f'{x:.2f}' for x in v)} |")
    print()
    print("| run | records sent | processed | loss | API p50 (ms) | API p99 (ms) | requests | RSS median (MB) | RSS max (MB) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for i, l in enumerate(loads):
        loss = 1 - (l["processed"] or 0) / l["sent"]
        print(f"| {i + 1} | {l['sent']:,} | {l['processed'] or 0:,} | {loss:.3%} | "
              f"{pct(l['api_ms'], 0.5):.1f} | {pct(l['api_ms'], 0.99):.1f} | {len(l['api_ms'])} | "
              f"{statistics.median(l['rss_mb'] or [0]):.0f} | {max(l['rss_mb'] or [0]):.0f} |")


if __name__ == "__main__":
    main()
