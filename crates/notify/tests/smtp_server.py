#!/usr/bin/python3
"""A real SMTP server for the e-mail tests: aiosmtpd (Debian python3-aiosmtpd) on loopback,
with STARTTLS required (or TLS from the first byte, or no TLS at all) and optional AUTH LOGIN/PLAIN. Each
message it accepts is written to OUT/N.json with the envelope, whether the session was
encrypted (and how), who logged in, and the raw message. Prints "ready PORT" when it
listens; runs until its standard input closes."""

import argparse
import json
import os
import ssl
import sys
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, out):
        self.out = out
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        ssl_obj = server.transport.get_extra_info("ssl_object") if server.transport else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "starttls": session.ssl is not None,
            "tls_version": ssl_obj.version() if ssl_obj else None,
            "authenticated": bool(session.authenticated),
            "login": session.auth_data.login.decode()
            if isinstance(session.auth_data, LoginPassword)
            else None,
            "content": envelope.original_content.decode("utf-8", "replace"),
        }
        self.n += 1
        tmp = os.path.join(self.out, f".{self.n}.json")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.out, f"{self.n}.json"))
        return "250 OK"


def main():
    # aiosmtpd itself sets the deprecated attribute on every login.
    warnings.filterwarnings("ignore", message="Session.login_data")
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--mode", choices=["starttls", "tls", "plain"], default="starttls")
    p.add_argument("--user")
    p.add_argument("--password")
    a = p.parse_args()

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == a.user
            and auth_data.password.decode() == a.password
        )
        # handled=False: aiosmtpd answers a failure with 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    kwargs = dict(hostname="127.0.0.1", port=a.port, auth_require_tls=True)
    if a.user:
        kwargs.update(authenticator=authenticator, auth_required=True)
    if a.mode == "starttls":
        kwargs.update(tls_context=ctx, require_starttls=True)
    elif a.mode == "tls":
        kwargs.update(ssl_context=ctx, server_hostname="127.0.0.1")
    controller = Controller(Recorder(a.out), **kwargs)
    controller.start()
    print(f"ready {a.port}", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
