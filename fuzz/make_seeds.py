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
# Threat intelligence (crates/intel): these targets take the text itself, no prefixes.
def text_seed(target, name, text):
    out = root / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_text(text)


patterns = [
    "[ipv4-addr:value = '203.0.113.5']",
    "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    "[ipv6-addr:value = '2001:db8::1'] OR [domain-name:value = 'evil.example']",
    "[url:value = 'http://evil.example/a?b=c' OR file:hashes.'SHA-256' = "
    "'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
    "[ipv4-addr:value IN ('192.0.2.1', '192.0.2.2')]",
    "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e'] AND [x:y > 5] WITHIN 300 SECONDS",
    "([a:b = t'2016-06-01T00:00:00Z'] REPEATS 5 TIMES) FOLLOWEDBY [c:d[*].'e f' MATCHES '^x\\\\y']",
    "[ipv4-addr:value = '192.0.2.1'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
]
for i, p in enumerate(patterns):
    text_seed("stix_pattern", "p%d" % i, p)
indicator = (
    '{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",'
    '"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-02T00:00:00.000Z","pattern":"%s",'
    '"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","valid_until":"2027-01-01T00:00:00Z",'
    '"confidence":70,"labels":["x"],"object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}'
)
objects = [indicator % p.replace("\\", "\\\\") for p in patterns[:4]]
objects.append('{"type":"identity","spec_version":"2.1","id":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",'
               '"created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","name":"x"}')
objects.append('{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","revoked":true,'
               '"pattern":"[a:b = \'c\']","pattern_type":"stix"}')
text_seed("stix_bundle", "bundle", '{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[%s]}'
          % ",".join(objects))
text_seed("stix_bundle", "envelope", '{"more":true,"next":"7","objects":[%s]}' % objects[0])
attrs = [
    ("ip-dst", "203.0.113.5", "true"), ("ip-src|port", "198.51.100.7|4444", '"1"'),
    ("domain|ip", "c2.example|192.0.2.9", "1"), ("url", "HTTP://Evil.Example/x", "false"),
    ("filename|sha1", "a.exe|da39a3ee5e6b4b0d3255bfef95601890afd80709", "true"), ("email-src", "a@b.example", "true"),
]
attr_json = ",".join(
    '{"uuid":"11111111-1111-4111-8111-11111111111%d","type":"%s","category":"Network activity","value":"%s",'
    '"to_ids":%s,"timestamp":"1700000001","Tag":[{"name":"tlp:red"}]}' % (i, t, v, ids)
    for i, (t, v, ids) in enumerate(attrs))
text_seed("misp_event", "event", '{"Event":{"uuid":"5f1b9c5e-0d3c-4a0e-9b0e-0a0b0c0d0e0f","info":"ev",'
          '"timestamp":"1700000000","Orgc":{"name":"CIRCL"},"Tag":[{"name":"tlp:green"}],"Attribute":[%s],'
          '"Object":[{"name":"file","Attribute":[%s]}]}}' % (attr_json, attr_json))
text_seed("misp_event", "manifest", '{"5f1b9c5e-0d3c-4a0e-9b0e-0a0b0c0d0e0f":{"info":"ev","timestamp":"1700000000"},'
          '"{5F1B9C5E-0D3C-4A0E-9B0E-0A0B0C0D0E0F}":{"timestamp":1}}')
# GeoIP target: the test databases written by crates/geo/tests/fixtures/make-test-dbs.pl.
geo = root.parent / "crates" / "geo" / "tests" / "fixtures"
out = root / "corpus" / "geo_mmdb"
out.mkdir(parents=True, exist_ok=True)
for f in sorted(geo.glob("*.mmdb")):
    (out / f.name).write_bytes(f.read_bytes())
