#!/usr/bin/env python3
"""Response latency of `rampart serve` (issue 5): from the moment a flood is detected to
the FlowSpec route in BIRD's table, and to the webhook received. One flood after another,
each toward its own target, sent as NetFlow v5 on loopback; BIRD 2 is the BGP peer, a small
HTTP server here the webhook. Detection time is the attack's first timeline entry (written
by the daemon when the detector reports the start); arrival times are this script's clock,
the same wall clock. Prints a Markdown table; see bench/respond.sh."""

import http.server, json, os, socket, struct, subprocess, sys, tempfile, threading, time
import urllib.request, statistics

RAMPART, ROUNDS = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
work = tempfile.mkdtemp(prefix="rampart-respond-bench-")
procs = []


def free_port(kind=socket.SOCK_STREAM, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, kind)
    s.bind((host, 0))
    p = s.getsockname()[1]
    s.close()
    return p


# --- the webhook receiver: arrival time per attack target
arrivals = {}


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        t = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        n = json.loads(body)
        if n.get("event") == "attack.started":
            arrivals.setdefault(n["detection"]["target"], t)

    def log_message(self, *a):
        pass


hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()

# --- BIRD, passive on 127.0.0.3
bgp_port = free_port(host="127.0.0.3")
conf = os.path.join(work, "bird.conf")
sock = os.path.join(work, "bird.ctl")
open(conf, "w").write(f"""
router id 127.0.0.3;
flow4 table flowtab4;
protocol device {{ }}
protocol bgp rampart {{
  local 127.0.0.3 port {bgp_port} as 65002; neighbor 127.0.0.1 as 65001;
  passive on; multihop;
  ipv4 {{ import all; export none; }};
  flow4 {{ table flowtab4; import all; export none; }};
}}
""")
procs.append(subprocess.Popen(["bird", "-c", conf, "-s", sock, "-f"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def birdc(cmd):
    return subprocess.run(["birdc", "-s", sock] + cmd.split(), capture_output=True,
                          text=True).stdout


# --- the daemon
api_port, flow_port = free_port(), free_port(socket.SOCK_DGRAM)
env = dict(os.environ, RUST_LOG="warn")
token = subprocess.run([RAMPART, "token", "create", "--role", "viewer"], cwd=work,
                       capture_output=True, text=True).stdout.split()[-1]
peers = (f'respond.bgp.peers=[{{address="127.0.0.3", port={bgp_port}, peer_as=65002, '
         f'local_as=65001, router_id="127.0.0.1", local_address="127.0.0.1", '
         f'connect_retry_s=1, families=["ipv4", "flow4"]}}]')
hooks = f'notify.webhooks=[{{url="http://127.0.0.1:{hook.server_address[1]}/h"}}]'
args = [RAMPART, "serve", "--protect", "203.0.113.0/24",
        "--set", f'listen.flow=["127.0.0.1:{flow_port}"]',
        "--set", f'api.listen="127.0.0.1:{api_port}"',
        "--set", 'logs.syslog_udp=["127.0.0.1:0"]', "--set", 'logs.syslog_tcp=["127.0.0.1:0"]',
        "--set", "respond.dry_run=false", "--set", peers, "--set", hooks,
        "--set", "respond.escalate_after_s=0", "--set", "respond.hold_s=1",
        "--set", "respond.max_new_per_minute=1000",
        "--set", "detect.ddos.end_after_s=1", "--set", "detect.ddos.vector_pps.syn_flood=1000"]
procs.append(subprocess.Popen(args, cwd=work, env=env, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(work, "serve.log"), "w")))


def api(path):
    req = urllib.request.Request(f"http://127.0.0.1:{api_port}{path}",
                                 headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(req, timeout=5))


def cleanup():
    for p in procs:
        p.kill()
        p.wait()


try:
    for _ in range(100):
        try:
            if api("/api/v1/bgp")["peers"][0]["state"] == "established":
                break
        except Exception:
            pass
        time.sleep(0.2)
    else:
        sys.exit("the BGP session with BIRD did not come up")

    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def burst(target_last):
        now = time.time()
        uptime = 3_600_000
        recs = b""
        for i in range(30):
            recs += struct.pack(">4s4s4sHHIIIIHHBBBBHHBBH",
                                bytes([198, 51, 100, i + 1]), bytes([203, 0, 113, target_last]),
                                b"\0" * 4, 0, 0, 200, 200 * 60, uptime - 500, uptime,
                                1024 + i, 80, 0, 0x02, 6, 0, 0, 0, 0, 0, 0)
        head = struct.pack(">HHIIIIBBH", 5, 30, uptime, int(now), int(now % 1 * 1e9), 0, 0, 0, 0)
        out.sendto(head + recs, ("127.0.0.1", flow_port))

    seen_route = {}
    for r in range(ROUNDS):
        target = 10 + r
        name = f"203.0.113.{target}"
        # Poll BIRD's FlowSpec table in a tight loop while the flood goes on.
        stop = time.time() + 6
        next_burst = 0.0
        while time.time() < stop:
            if time.time() >= next_burst:
                burst(target)
                next_burst = time.time() + 0.25
            if name not in seen_route and name in birdc("show route table flowtab4"):
                seen_route[name] = time.time()
            if name in seen_route and name in arrivals:
                break
        time.sleep(3)  # the attack ends and its mitigation is withdrawn

    attacks = api("/api/v1/attacks?limit=1000")["attacks"]
    detected = {}
    for a in attacks:
        t = a["timeline"][0]["at"]
        from datetime import datetime
        detected.setdefault(a["target"], datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())
    to_bird = sorted((seen_route[k] - detected[k]) * 1000 for k in seen_route if k in detected)
    to_hook = sorted((arrivals[k] - detected[k]) * 1000 for k in arrivals if k in detected)

    def row(name, xs, target):
        if not xs:
            print(f"| {name} | no data | | | {target} |")
            return
        p90 = xs[min(len(xs) - 1, int(len(xs) * 0.9))]
        print(f"| {name} | {len(xs)} | {statistics.median(xs):.1f} | {p90:.1f} | {target} |")

    print("| from detection to | n | median ms | p90 ms | target |")
    print("| --- | --- | --- | --- | --- |")
    row("FlowSpec route in BIRD's table (birdc poll)", to_bird, "median < 100 ms")
    row("webhook received", to_hook, "< 50 ms")
finally:
    cleanup()
