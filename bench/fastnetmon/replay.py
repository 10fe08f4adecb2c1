#!/usr/bin/env python3
"""Plays a microsecond pcap onto an interface at its recorded speed, for bench/fastnetmon.sh:
each frame is sent when its capture time, counted from the first frame, has passed on the
monotonic clock. tcpreplay 4.4 sleeps each packet's gap after the previous send, so every
send's cost adds up: on a busy 2-core machine it played a 16.8 s capture in 20 to 38 s,
turning a 1.2x attack into one under its threshold. Here a late frame is sent at once and
the schedule stays put, so lateness never accumulates.

  replay.py INTERFACE PCAP    (root; prints frames sent, span and lateness on stdout)
"""

import socket
import struct
import sys
import time


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\xd4\xc3\xb2\xa1":
        raise SystemExit(f"{path}: not a little-endian microsecond pcap")
    out, at = [], 24
    while at + 16 <= len(data):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", data, at)
        out.append((sec + usec / 1e6, data[at + 16:at + 16 + caplen]))
        at += 16 + caplen
    return out


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    interface, path = sys.argv[1:]
    todo = frames(path)
    if not todo:
        raise SystemExit(f"{path}: no frames")
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((interface, 0))
    first = todo[0][0]
    start = time.monotonic() + 0.01
    late_max, late_10ms, sent = 0.0, 0, 0
    for t, frame in todo:
        due = start + (t - first)
        now = time.monotonic()
        if due - now > 0.0005:
            time.sleep(due - now)
            now = time.monotonic()
        late = now - due
        late_max = max(late_max, late)
        late_10ms += late > 0.01
        s.send(frame)
        sent += 1
    elapsed = time.monotonic() - start
    print(f"sent {sent} frames in {elapsed:.3f} s, span {todo[-1][0] - first:.3f} s, "
          f"latest {late_max * 1e3:.1f} ms behind schedule, {late_10ms} more than 10 ms")


if __name__ == "__main__":
    main()
