#!/usr/bin/env python3
"""Builds starting corpora for the fuzz targets from the project's real fixtures.

The datagram targets take a sequence of length-prefixed datagrams (two bytes, little
endian), so each seed is a vendor's template datagram followed by its data datagram, as an
exporter would send them. The pcap target starts from the capture fixtures.
Usage: fuzz/make_seeds.py  (writes fuzz/corpus/TARGET/)
"""
import pathlib
import struct

root = pathlib.Path(__file__).resolve().parent
fixtures = root.parent / "crates" / "flow" / "tests" / "fixtures"
vectors = sorted((fixtures / "netflow-vectors").glob("*.dat"))


def seed(target, name, datagrams):
    out = root / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(b"".join(struct.pack("<H", len(d)) + d for d in datagrams))


by_version = {"netflow5": 5, "netflow9": 9, "ipfix": 10}
for target, version in by_version.items():
    files = [f for f in vectors if f.read_bytes()[:2] == struct.pack(">H", version)]
    for f in files:
        seed(target, f.stem, [f.read_bytes()[:1500]])
    # Template then data, the order exporters use.
    tpls = [f for f in files if "tpl" in f.stem]
    for t in tpls:
        vendor = t.stem.split("_tpl")[0]
        for d in files:
            if d.stem.startswith(vendor) and "data" in d.stem:
                seed(target, f"{t.stem}+{d.stem}", [t.read_bytes()[:1500], d.read_bytes()[:1500]])

for pcap in list((fixtures / "pcaps").glob("*.pcap*")) + list(fixtures.glob("**/*.pcapng")):
    out = root / "corpus" / "pcap"
    out.mkdir(parents=True, exist_ok=True)
    (out / pcap.name).write_bytes(pcap.read_bytes()[:64 * 1024])


def sflow_datagram():
    """One sFlow v5 datagram: a flow sample, an expanded flow sample and a counter sample."""
    eth = bytes.fromhex(
        "020000000001" "020000000002" "0800"  # Ethernet
        "4500" "0028" "0000" "4000" "4006" "0000" "c6336401" "cb00710a"  # IPv4
        "0400" "0050" "00000001" "00000000" "5002" "2000" "0000" "0000"  # TCP SYN
    )
    eth = eth + bytes(-len(eth) % 4)
    raw = struct.pack(">IIII", 1, 64, 4, len(eth)) + eth
    rec = struct.pack(">II", 1, len(raw)) + raw
    flow = struct.pack(">IIIIIIII", 1, 3, 512, 512000, 0, 3, 4, 1) + rec
    expanded = struct.pack(">IIIIIIIIIIII", 2, 0, 3, 512, 512000, 0, 0, 3, 0, 4, 1, 1)[:44] + rec
    counters = struct.pack(">III", 1, 0, 3) + struct.pack(">II", 1, 8) + bytes(8)
    samples = [(1, flow), (3, expanded), (2, counters)]
    body = b"".join(struct.pack(">II", fmt, len(s)) + s for fmt, s in samples)
    return struct.pack(">IIIIIII", 5, 1, 0xC0000201, 0, 1, 1000, len(samples)) + body


seed("sflow", "three-samples", [sflow_datagram()])


# BGP: the first byte picks the start (1 = an established session), then chunks each led by
# a length byte. Messages are the wire fixtures of crates/bgp's unit tests.
def bgp_msg(kind, body):
    return b"\xff" * 16 + struct.pack(">HB", 19 + len(body), kind) + body


def bgp_seed(name, mode, messages):
    out = root / "corpus" / "bgp_message"
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(bytes([mode]) + b"".join(bytes([len(m)]) + m for m in messages))


blackhole = bytes.fromhex(
    "0000002a" "40010100" "400206020100" "00fde9" "400304c0000201" "c00804ffff029a"
    "c0200c0000fde90000029a00000001" "20cb00710a"
)
flow4 = bytes.fromhex(
    "00000028" "40010100" "400206020100" "00fde9" "900e0012" "000185" "0000"
    "0c0120cb00710a0381110681" "35" "c010088006000000000000"
)
unreach6 = bytes.fromhex("00000009" "800f06000201" "40" "2001")
bgp_seed("keepalive", 1, [bgp_msg(4, b"")])
bgp_seed("blackhole", 1, [bgp_msg(2, blackhole)])
bgp_seed("flowspec", 1, [bgp_msg(2, flow4), bgp_msg(2, unreach6)])
bgp_seed("refresh", 1, [bgp_msg(5, bytes.fromhex("00010085")), bgp_msg(3, bytes.fromhex("0602"))])
bgp_seed("open", 0, [bgp_msg(1, bytes.fromhex("0400010000c00a0000020602040200010000"))])
# Log targets: the log fixtures whole for the stream target (a first byte picks framing,
# format and chunk size), and their lines for the dispatcher target (a first byte per line
# picks the header; 20 is the bare line, so the fixtures' own headers are kept).
logs = root.parent / "crates" / "logs" / "tests" / "fixtures"
for f in sorted(logs.glob("*/*.log")):
    text = f.read_bytes()[:4096]
    for ctl in (0x00, 0x01, 0x52, 0x2b):
        out = root / "corpus" / "log_stream"
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{f.stem}-{ctl:02x}").write_bytes(bytes([ctl]) + text)
    out = root / "corpus" / "log_lines"
    out.mkdir(parents=True, exist_ok=True)
    lines = [bytes([20]) + l for l in text.split(b"\n") if l]
    (out / f.stem).write_bytes(b"\n".join(lines[:200]))
# GeoIP target: the test databases written by crates/geo/tests/fixtures/make-test-dbs.pl.
geo = root.parent / "crates" / "geo" / "tests" / "fixtures"
out = root / "corpus" / "geo_mmdb"
out.mkdir(parents=True, exist_ok=True)
for f in sorted(geo.glob("*.mmdb")):
    (out / f.name).write_bytes(f.read_bytes())
