#!/usr/bin/env python3
"""Checks one Rampart webhook delivery as a receiver should (the example of docs/notify.md):
usage: verify_webhook.py SECRET X-RAMPART-TIMESTAMP X-RAMPART-SIGNATURE BODY_FILE"""
import hashlib
import hmac
import sys
import time


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, tolerance: int = 300) -> bool:
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    if not hmac.compare_digest("sha256=" + mac.hexdigest(), signature):
        return False  # not from Rampart, or altered on the way
    return abs(time.time() - int(timestamp)) <= tolerance  # older: a replay


if __name__ == "__main__":
    secret, timestamp, signature, body_file = sys.argv[1:5]
    with open(body_file, "rb") as f:
        body = f.read()
    sys.exit(0 if verify(secret.encode(), timestamp, body, signature) else 1)
