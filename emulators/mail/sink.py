"""The mail sink: "the internet" behind the stack's mail servers (and, with --auth-user, the
platform's own relay, the default sender). It accepts every message over
SMTP (aiosmtpd) and lists what it received over HTTP, with headers and raw source.

    GET  /messages                 every message, oldest first
    GET  /messages?to=ADDRESS      those for one recipient
    DELETE /messages               forget them all
    POST /_undeliverable           {"addresses": [...]}: mail to them is taken, then bounced back
                                   to its sender's mailbox (over Dovecot's LMTP, with
                                   --bounce-lmtp-port) as a Postfix-style RFC 3464 report
    POST /_faults                  {"transient": p, "drop_before_data": p, "drop_after_data": p,
                                    "stall": p, "stall_s": s}: misbehave at random, at those odds
    GET  /_faults                  the odds, and the faults injected so far by kind

    python -m emulators.mail.sink --smtp-port 8025 --http-port 8026
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hmac
import json
import random
import ssl
import threading
from collections import Counter
from email import message_from_bytes, policy
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

from emulators.http_json import JsonHandler

FAULTS = ("transient", "drop_before_data", "drop_after_data", "stall")


class Inbox:
    """Keeps what it receives; with faults set, misbehaves as servers do: a 451 at MAIL FROM,
    the connection dropped before the data or after it (the message kept, no reply), or the
    final reply held past the sender's patience (the message kept)."""

    def __init__(self, bounce_lmtp_port: int | None = None) -> None:
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self.undeliverable: set[str] = set()
        self.bounce_lmtp_port = bounce_lmtp_port
        self.faults: dict[str, float] = {}
        self.injected: Counter[str] = Counter()
        self._rng = random.Random(7)  # noqa: S311 - reproducible misbehaviour

    def _fault(self, kind: str) -> bool:
        with self.lock:
            hit = self._rng.random() < self.faults.get(kind, 0.0)
            if hit:
                self.injected[kind] += 1
            return hit

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self._fault("transient"):
            return "451 4.3.0 Temporary system problem (injected)"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self._fault("drop_before_data"):
            server.transport.close()
            return "421 4.4.2 Connection dropped (injected)"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = self._keep(envelope)
        with self.lock:
            failed = [r for r in envelope.rcpt_tos if r.lower() in self.undeliverable]
        if failed and self.bounce_lmtp_port and envelope.mail_from:
            raw = envelope.original_content or envelope.content
            threading.Thread(
                target=self._bounce, args=(envelope.mail_from, failed, raw), daemon=True
            ).start()
        if self._fault("drop_after_data"):
            server.transport.close()
        elif self._fault("stall"):
            await asyncio.sleep(self.faults.get("stall_s", 60.0))
        return answer

    def _bounce(self, sender: str, failed: list[str], raw: bytes) -> None:
        """What the recipient's MTA does minutes later: a delivery status notification to the
        sender, in Postfix's layout, delivered to the sender's mailbox."""
        import smtplib

        from emulators.bounces import render

        port = self.bounce_lmtp_port
        if port is None:
            return
        original = message_from_bytes(raw, policy=policy.default)
        original_id = str(original.get("Message-ID", "")).strip()
        for recipient in failed:
            report = render(
                "postfix_dsn", original_id=original_id, recipient=recipient, receiver=sender
            )
            try:
                with smtplib.LMTP("127.0.0.1", port) as lmtp:
                    lmtp.sendmail("", [sender], report)
            except (OSError, smtplib.SMTPException):
                pass  # the sender is not one of the stack's mailboxes: nowhere to bounce to

    def _keep(self, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw, policy=policy.default)
        with self.lock:
            self.messages.append(
                {
                    "id": len(self.messages) + 1,
                    # To the microsecond: bench/pipeline.py measures latency to the receipt.
                    "received_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
                    "mail_from": envelope.mail_from,
                    "rcpt_to": list(envelope.rcpt_tos),
                    "headers": {k: str(v) for k, v in parsed.items()},
                    "subject": str(parsed.get("Subject", "")),
                    "raw": raw.decode("utf-8", errors="replace"),
                }
            )
        return "250 2.0.0 Ok: queued"


def serve_http(inbox: Inbox, port: int) -> ThreadingHTTPServer:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/healthz":
                self.send_json(200, {"ok": True})
                return
            if url.path == "/_faults":
                with inbox.lock:
                    self.send_json(200, {"faults": inbox.faults, "injected": dict(inbox.injected)})
                return
            if url.path != "/messages":
                self.send_json(404, {"error": "use /messages"})
                return
            wanted = parse_qs(url.query).get("to", [None])[0]
            with inbox.lock:
                found = [
                    m
                    for m in inbox.messages
                    if wanted is None or wanted.lower() in (r.lower() for r in m["rcpt_to"])
                ]
            self.send_json(200, {"messages": found})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            wanted = json.loads(self.rfile.read(length) or b"{}")
            if path == "/_undeliverable":
                with inbox.lock:
                    inbox.undeliverable |= {a.lower() for a in wanted.get("addresses", [])}
                    listed = sorted(inbox.undeliverable)
                self.send_json(200, {"undeliverable": listed})
                return
            if path != "/_faults":
                self.send_json(404, {"error": "use /_faults or /_undeliverable"})
                return
            with inbox.lock:
                inbox.faults = {k: float(v) for k, v in wanted.items()}
            self.send_json(200, {"faults": inbox.faults})

        def do_DELETE(self) -> None:
            with inbox.lock:
                inbox.messages.clear()
            self.send_json(200, {"messages": []})

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _authenticator(username: str, password: str) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == username
            and hmac.compare_digest(data.password.decode(), password)
        )
        # handled=False lets aiosmtpd answer the refusal (535) itself.
        return AuthResult(success=ok, handled=ok)

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description="SMTP sink with an HTTP listing")
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--auth-user", help="require AUTH (after STARTTLS) as this user")
    parser.add_argument("--auth-password-file", help="the AUTH password, kept off the command line")
    parser.add_argument("--bounce-lmtp-port", type=int, help="Dovecot's LMTP, for bounces")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    inbox = Inbox(args.bounce_lmtp_port)
    options: dict[str, Any] = {}
    if args.auth_user:
        # The platform's relay: like an ESP's SMTP endpoint, STARTTLS then AUTH.
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        with open(args.auth_password_file) as handle:
            password = handle.read().strip()
        options = {
            "tls_context": context,
            "require_starttls": True,
            "auth_required": True,
            "authenticator": _authenticator(args.auth_user, password),
        }
    controller = Controller(inbox, hostname="127.0.0.1", port=args.smtp_port, **options)
    controller.start()
    serve_http(inbox, args.http_port)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
