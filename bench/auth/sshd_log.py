#!/usr/bin/env python3
"""A day of an Internet-facing OpenSSH 9.x server's log (rsyslog, traditional format), with
its attempt-level truth: every failed and successful login per source address.

The line shapes are those of a real OpenSSH 9.2p1 sshd logging through rsyslog
(crates/logs/tests/fixtures/own/openssh-9.2p1-pam-rsyslog.log): two hosts, `vm` with
UsePAM yes (pam_unix lines, "PAM N more authentication failures") and `bastion` with UsePAM
no; rsyslog's "message repeated N times: [ ... ]" where one connection's identical lines
follow each other with nothing between them; MaxAuthTries 6. Who is in it:

  brute      fast password guessing of root/admin from a few sources (PAM, MaxAuthTries)
  dict       dictionary scanners: many user names that do not exist (PAM and non-PAM)
  probe      scanners that name a user and leave without a password ("Invalid user" only)
  slow       one try every ~10 minutes all day from one source
  spray      one try on each of many real users, minutes apart
  stuffing   many sources, two tries each on distinct users, within ten minutes
  compromise failures as `deploy`, then a successful password login from the same source
  benign     key logins, and people who mistype once or twice then get in
  noise      kex errors, banner scans, timeouts: no attempts

Usage: sshd_log.py OUT.log TRUTH.json [--seed N] [--scale K] [--days D]
--scale multiplies every population (sources and their volume) and --days repeats the day
with fresh sources, for benchmark logs of millions of lines. The truth JSON has per-source
`failures` and `successes` (attempts, not lines), each source's `role`, and `lines`.
"""

import argparse
import datetime as dt
import heapq
import json
import random

HOSTS = {"vm": True, "bastion": False}  # host -> UsePAM
MAX_AUTH_TRIES = 6
REAL_USERS = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
    "deploy", "backup", "git", "postgres", "www-data", "ubuntu", "admin",
]
DICT = [
    "test", "oracle", "guest", "user", "ftpuser", "pi", "support", "administrator", "mysql",
    "nagios", "hadoop", "tomcat", "jenkins", "minecraft", "steam", "teamspeak", "user1",
    "test1", "test2", "ansible", "vagrant", "centos", "debian", "odoo", "es", "elastic",
    "kafka", "zabbix", "sinusbot", "demo", "dev", "developer", "student", "testuser",
    "webadmin", "server", "master", "client", "uucp", "pgadmin", "sftp", "tester", "bitnami",
]
KEYS = ["ED25519 SHA256:5BsqnnCt6j/NhLfLU8Rqk0BCyKl8uqFrw4kHZcAtIaM",
        "RSA SHA256:1M4RzhMyWuFS/86uPY/ce2prh/dVTHW7iD2RhpquOZA",
        "ECDSA SHA256:kzfjfps/WFgXAdNgzvHBLuI072Y+f+91rpinXJAAvkM"]


class Log:
    def __init__(self, rng, start):
        self.rng = rng
        self.start = start
        self.heap = []  # (t, seq, host, pid, msg)
        self.seq = 0
        self.pid = 20000
        self.truth = {}

    def source(self, addr, role):
        s = self.truth.setdefault(addr, {"failures": 0, "successes": 0, "role": role})
        return s

    def line(self, t, host, pid, msg):
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, host, pid, msg))

    def new_pid(self):
        self.pid += self.rng.randint(1, 40)
        if self.pid > 4_000_000:
            self.pid = 20000
        return self.pid

    def port(self):
        return self.rng.randint(32768, 65000)

    def conn_password(self, t, host, addr, user, fails, success=False, invalid=False,
                      fold=True, role="?"):
        """One connection: `fails` wrong passwords for `user` (then a success, or the
        connection's end), as sshd with or without PAM writes them."""
        pam = HOSTS[host]
        pid, port = self.new_pid(), self.port()
        s = self.source(addr, role)
        s["failures"] += fails
        tgt = f"invalid user {user}" if invalid else user
        if invalid:
            self.line(t, host, pid, f"Invalid user {user} from {addr} port {port}")
            t += 0.05
        # Identical consecutive lines of one connection fold only when nothing else was
        # logged between them; `fold` says whether this connection had the log to itself.
        failed = f"Failed password for {tgt} from {addr} port {port} ssh2"
        for i in range(fails):
            if pam and i == 0:
                if invalid:
                    self.line(t, host, pid, "pam_unix(sshd:auth): check pass; user unknown")
                    self.line(t, host, pid, "pam_unix(sshd:auth): authentication failure; "
                              f"logname= uid=0 euid=0 tty=ssh ruser= rhost={addr} ")
                else:
                    self.line(t, host, pid, "pam_unix(sshd:auth): authentication failure; "
                              f"logname= uid=0 euid=0 tty=ssh ruser= rhost={addr}  user={user}")
            t += self.rng.uniform(1.5, 2.5)
            if i == 1 and fold:
                # rsyslog writes the first repeat's time with the folded count at the next
                # different line; the count covers every repeat of the run.
                t2 = t + (fails - 2) * 2.0
                self.line(t2, host, pid, f"message repeated {fails - 1} times: [ {failed}]")
                t = t2
                break
            self.line(t, host, pid, failed)
        ended = "Disconnecting" if fails >= MAX_AUTH_TRIES else "closed"
        t += 0.2
        if success:
            s["successes"] += 1
            self.line(t, host, pid, f"Accepted password for {user} from {addr} port {port} ssh2")
            if pam:
                self.line(t, host, pid, f"pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)")
            t += self.rng.uniform(30, 900)
            self.line(t, host, pid, f"Received disconnect from {addr} port {port}:11: disconnected by user")
            self.line(t, host, pid, f"Disconnected from user {user} {addr} port {port}")
            if pam:
                self.line(t, host, pid, f"pam_unix(sshd:session): session closed for user {user}")
            return
        who = "invalid user" if invalid else "authenticating user"
        if ended == "Disconnecting":
            self.line(t, host, pid, f"error: maximum authentication attempts exceeded for {tgt} from {addr} port {port} ssh2 [preauth]")
            self.line(t, host, pid, f"Disconnecting {who} {user} {addr} port {port}: Too many authentication failures [preauth]")
        elif self.rng.random() < 0.5:
            self.line(t, host, pid, f"Received disconnect from {addr} port {port}:11: Bye Bye [preauth]")
            self.line(t, host, pid, f"Disconnected from {who} {user} {addr} port {port} [preauth]")
        else:
            self.line(t, host, pid, f"Connection closed by {who} {user} {addr} port {port} [preauth]")
        if pam and fails > 1:
            extra = "" if invalid else f" user={user}"
            self.line(t, host, pid, f"PAM {fails - 1} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={addr} {extra}")

    def conn_probe(self, t, host, addr, user):
        """A scanner naming a user and leaving: one attempt (the user name)."""
        pid, port = self.new_pid(), self.port()
        self.source(addr, "probe")["failures"] += 1
        self.line(t, host, pid, f"Invalid user {user} from {addr} port {port}")
        t += 0.1
        self.line(t, host, pid, f"Received disconnect from {addr} port {port}:11: Bye Bye [preauth]")
        self.line(t, host, pid, f"Disconnected from invalid user {user} {addr} port {port} [preauth]")

    def conn_key(self, t, host, addr, user):
        pid, port = self.new_pid(), self.port()
        self.source(addr, "benign")["successes"] += 1
        key = self.rng.choice(KEYS)
        self.line(t, host, pid, f"Accepted publickey for {user} from {addr} port {port} ssh2: {key}")
        if HOSTS[host]:
            self.line(t, host, pid, f"pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)")
        t += self.rng.uniform(60, 3600)
        self.line(t, host, pid, f"Received disconnect from {addr} port {port}:11: disconnected by user")
        self.line(t, host, pid, f"Disconnected from user {user} {addr} port {port}")
        if HOSTS[host]:
            self.line(t, host, pid, f"pam_unix(sshd:session): session closed for user {user}")

    def conn_noise(self, t, host, addr):
        pid, port = self.new_pid(), self.port()
        self.source(addr, "noise")
        kind = self.rng.randrange(4)
        if kind == 0:
            self.line(t, host, pid, "error: kex_exchange_identification: Connection closed by remote host")
            self.line(t, host, pid, f"Connection closed by {addr} port {port}")
        elif kind == 1:
            self.line(t, host, pid, 'error: kex_exchange_identification: client sent invalid protocol identifier "GET / HTTP/1.1"')
            self.line(t, host, pid, f"banner exchange: Connection from {addr} port {port}: invalid format")
        elif kind == 2:
            self.line(t, host, pid, f"Connection closed by {addr} port {port} [preauth]")
        else:
            self.line(t + 120, host, pid, f"Timeout before authentication for {addr} port {port}")

    def write(self, path):
        n = 0
        with open(path, "w") as f:
            while self.heap:
                t, _, host, pid, msg = heapq.heappop(self.heap)
                stamp = self.start + dt.timedelta(seconds=t)
                f.write(f"{stamp.strftime('%b')} {stamp.day:2d} {stamp.strftime('%H:%M:%S')} "
                        f"{host} sshd[{pid}]: {msg}\n")
                n += 1
        return n


def addr_pool(rng, prefix_count):
    """Distinct public-looking addresses (none of them real hosts we know)."""
    seen = set()
    while True:
        a = f"{rng.choice([45, 61, 80, 91, 103, 117, 141, 159, 178, 185, 193, 212])}." \
            f"{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        if a not in seen:
            seen.add(a)
            yield a


def day(log, rng, t0, scale, addrs):
    span = 86_400

    def at():
        return t0 + rng.uniform(0, span - 3600)

    for _ in range(3 * scale):  # fast brute force
        a, host = next(addrs), rng.choice(list(HOSTS))
        t = at()
        for c in range(rng.randint(20, 60)):
            fails = MAX_AUTH_TRIES if rng.random() < 0.7 else rng.randint(1, 5)
            log.conn_password(t, host, a, rng.choice(["root", "admin", "ubuntu"]), fails,
                              fold=rng.random() < 0.6, role="brute")
            t += rng.uniform(3, 20)
    for _ in range(2 * scale):  # dictionary scanners
        a, host = next(addrs), rng.choice(list(HOSTS))
        t = at()
        for u in rng.sample(DICT, rng.randint(25, len(DICT))):
            log.conn_password(t, host, a, u, rng.choice([1, 1, 2]), invalid=True,
                              fold=rng.random() < 0.5, role="dict")
            t += rng.uniform(1, 6)
    for _ in range(scale):  # user-name probes
        a, host = next(addrs), rng.choice(list(HOSTS))
        t = at()
        for u in rng.sample(DICT, 30):
            log.conn_probe(t, host, a, u)
            t += rng.uniform(0.5, 2)
    for _ in range(scale):  # slow brute force: all day
        a = next(addrs)
        t = t0 + rng.uniform(0, 600)
        while t < t0 + span - 600:
            log.conn_password(t, "vm", a, "root", 1, role="slow")
            t += rng.uniform(480, 720)
    for _ in range(scale):  # spray: one try per real user, minutes apart
        a = next(addrs)
        t = at()
        for u in rng.sample(REAL_USERS, 16):
            log.conn_password(t, "vm", a, u, 1, role="spray")
            t += rng.uniform(120, 240)
    for _ in range(scale):  # stuffing: 40 sources, 2 tries each, within ten minutes
        t = at()
        for i in range(40):
            a = next(addrs)
            for k in range(2):
                log.conn_password(t + rng.uniform(0, 600), "bastion", a,
                                  f"{rng.choice(REAL_USERS)}{rng.randint(1, 99)}", 1,
                                  role="stuffing")
    for _ in range(scale):  # compromise: failures, then in
        a = next(addrs)
        t = at()
        log.conn_password(t, "vm", a, "deploy", MAX_AUTH_TRIES, role="compromise")
        log.conn_password(t + 30, "vm", a, "deploy", 2, success=True, role="compromise")
    for _ in range(30 * scale):  # benign key logins, several a day each
        a, user = next(addrs), rng.choice(REAL_USERS[:19])
        for _ in range(rng.randint(1, 4)):
            log.conn_key(at(), rng.choice(list(HOSTS)), a, user)
    for _ in range(10 * scale):  # mistyped once or twice, then in
        a, user = next(addrs), rng.choice(REAL_USERS[:19])
        log.conn_password(at(), rng.choice(list(HOSTS)), a, user, rng.randint(1, 2),
                          success=True, fold=False, role="benign")
    for _ in range(40 * scale):  # handshake noise
        a = next(addrs)
        for _ in range(rng.randint(1, 3)):
            log.conn_noise(at(), rng.choice(list(HOSTS)), a)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("truth")
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--scale", type=int, default=1)
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--start", default="2026-11-29T00:00:00")
    a = p.parse_args()
    rng = random.Random(a.seed)
    log = Log(rng, dt.datetime.fromisoformat(a.start))
    addrs = addr_pool(rng, 0)
    for d in range(a.days):
        day(log, rng, d * 86_400, a.scale, addrs)
    n = log.write(a.out)
    attackers = sorted(k for k, v in log.truth.items()
                       if v["role"] not in ("benign", "noise"))
    with open(a.truth, "w") as f:
        json.dump({"lines": n, "attackers": attackers, "sources": log.truth}, f,
                  indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
