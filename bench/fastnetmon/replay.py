#!/usr/bin/env python3
"""Plays a microsecond pcap onto an interface at its recorded speed, for bench/fastnetmon.sh:
each frame is sent when its capture time, counted from the first frame, has passed on the
monotonic clock. tcpreplay 4.4 sleeps each packet's gap after the previous send, so every
send's cost adds up: on a busy 2-core machine it played a 16.8 s capture in 20 to 38 s,
turning a 1.2x attack into one under its threshold. Here a late frame is sent at once and
the schedule stays put, so lateness never accumulates; frames that are due together go in
one sendmmsg(2) call (at most BATCH, so that the receiving side's backlog of 1,000 frames
does not overflow), which a Python loop of send() calls could not do at 50,000 frames/s.

  replay.py INTERFACE PCAP    (root; prints frames sent, lateness and drops on stdout)
"""

import bisect
import ctypes
import ctypes.util
import errno
import os
import socket
import struct
import sys
import time

BATCH = 64


class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.c_void_p), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", Msghdr), ("len", ctypes.c_uint)]


def frames(data):
    """(capture time in s, offset, length) of each frame of a little-endian µs pcap."""
    if data[:4] != b"\xd4\xc3\xb2\xa1":
        raise SystemExit("not a little-endian microsecond pcap")
    out, at = [], 24
    while at + 16 <= len(data):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", data, at)
        out.append((sec + usec / 1e6, at + 16, caplen))
        at += 16 + caplen
    return out


def drops():
    """Frames dropped so far by the interfaces of this network namespace."""
    total = 0
    for name in os.listdir("/sys/class/net"):
        for what in ("tx_dropped", "rx_dropped"):
            try:
                with open(f"/sys/class/net/{name}/statistics/{what}") as f:
                    total += int(f.read())
            except OSError:
                pass
    return total


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    interface, path = sys.argv[1:]
    with open(path, "rb") as f:
        data = bytearray(f.read())
    todo = frames(data)
    if not todo:
        raise SystemExit(f"{path}: no frames")
    n = len(todo)
    base = ctypes.addressof((ctypes.c_char * len(data)).from_buffer(data))
    iovs = (Iovec * n)()
    msgs = (Mmsghdr * n)()
    iov_at, iov_size = ctypes.addressof(iovs), ctypes.sizeof(Iovec)
    for i, (_, at, length) in enumerate(todo):
        iovs[i].base, iovs[i].len = base + at, length
        msgs[i].hdr.iov, msgs[i].hdr.iovlen = iov_at + i * iov_size, 1
    times = [t - todo[0][0] for t, _, _ in todo]
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((interface, 0))
    fd, size = s.fileno(), ctypes.sizeof(Mmsghdr)
    dropped_before = drops()
    start = time.monotonic() + 0.01
    late_max, late_10ms, i = 0.0, 0, 0
    while i < n:
        now = time.monotonic() - start
        if times[i] > now:
            if times[i] - now > 0.0002:
                time.sleep(times[i] - now)
            continue
        j = min(bisect.bisect_right(times, now, i), i + BATCH)
        late_max = max(late_max, now - times[i])
        late_10ms += bisect.bisect_right(times, now - 0.01, i, j) - i
        sent = libc.sendmmsg(fd, ctypes.c_void_p(ctypes.addressof(msgs) + i * size), j - i, 0)
        if sent < 0:
            e = ctypes.get_errno()
            if e in (errno.EAGAIN, errno.ENOBUFS, errno.EINTR):
                time.sleep(0.0001)
                continue
            raise OSError(e, os.strerror(e))
        i += sent
    elapsed = time.monotonic() - start
    print(f"sent {n} frames in {elapsed:.3f} s, span {times[-1]:.3f} s, "
          f"latest {late_max * 1e3:.1f} ms behind schedule, {late_10ms} more than 10 ms, "
          f"{drops() - dropped_before} dropped")


if __name__ == "__main__":
    main()
