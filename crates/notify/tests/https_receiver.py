#!/usr/bin/env python3
"""An HTTPS webhook receiver for the tests (Python's standard library only): serves on
127.0.0.1:PORT with CERT and KEY, checks each POST's signature with verify_webhook.py's
verify(), writes OUT/N.json with the verdict, headers and body, and answers 204 (401 when
the signature is wrong). Prints "ready PORT" once listening; runs until stdin closes."""

import http.server
import json
import os
import ssl
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify_webhook import verify  # noqa: E402

port, cert, key, out, secret = sys.argv[1:6]
count = 0
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = verify(secret.encode(), self.headers.get("X-Rampart-Timestamp", "0"), body,
                    self.headers.get("X-Rampart-Signature", ""))
        with lock:
            count += 1
            n = count
        record = {"verified": ok, "path": self.path, "headers": dict(self.headers),
                  "body": body.decode("utf-8", "replace"), "tls": self.request.version()}
        with open(os.path.join(out, f".{n}.json"), "w") as f:
            json.dump(record, f)
        os.rename(os.path.join(out, f".{n}.json"), os.path.join(out, f"{n}.json"))
        self.send_response(204 if ok else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"ready {port}", flush=True)
sys.stdin.read()
server.shutdown()
