"""A scriptable misbehaving SMTP provider for tests, built on aiosmtpd.

Each `Behaviour` makes one kind of trouble real providers make:
- `wrong_password`: AUTH answers 535 5.7.8;
- `app_password_required`: Google with 2-Step Verification: 534-5.7.9 Application-specific
  password required (support.google.com/mail/?p=InvalidSecondFactor);
- `basic_auth_disabled`: Microsoft 365 with SMTP AUTH off: 535 5.7.139;
- `busy_greeting`: 421 4.7.0 at connect; `temporary_failure`: 451 4.3.0 at MAIL FROM;
- `drop_in_data`: the connection closes in the middle of DATA;
- `stall`: the TCP connection is accepted and nothing is ever said;
- `untrusted_certificate`: STARTTLS with a certificate nobody trusts;
- `auth_not_offered`: EHLO lists no AUTH, even after STARTTLS (a relay-only port);
- `slow_final_reply`: takes the whole message, then holds its final reply for 15 s (a slow
  content filter): the message is received, the sender does not know it;
- `reject_some_recipients`: 550 5.1.1 for an address whose local part starts with "unknown",
  the others accepted; `reject_and_hang_up`: the same 550, then the connection closes.
Usage: `with misbehaving(Behaviour.WRONG_PASSWORD, certs) as port: ...`. `scripted_server(...,
pipelining=True)` offers PIPELINING (RFC 2920), as Gmail, Microsoft 365 and Dovecot do, and
counts the MAIL commands that came with their RCPT and DATA in one write.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from emulators.mail.tls import Certificates


class Behaviour(StrEnum):
    WRONG_PASSWORD = "wrong_password"
    APP_PASSWORD_REQUIRED = "app_password_required"
    BASIC_AUTH_DISABLED = "basic_auth_disabled"
    BUSY_GREETING = "busy_greeting"
    TEMPORARY_FAILURE = "temporary_failure"
    DROP_IN_DATA = "drop_in_data"
    STALL = "stall"
    UNTRUSTED_CERTIFICATE = "untrusted_certificate"
    TEMPORARY_ONCE = "temporary_once"  # 451 on the first MAIL FROM, then accepts
    REJECT_RECIPIENT = "reject_recipient"  # 550 5.1.1 for every recipient
    REJECT_SOME_RECIPIENTS = "reject_some_recipients"  # 550 5.1.1 for unknown…@
    REJECT_AND_HANG_UP = "reject_and_hang_up"  # 550 5.1.1 for unknown…@, then closes
    AUTH_NOT_OFFERED = "auth_not_offered"
    SLOW_FINAL_REPLY = "slow_final_reply"  # takes the data, answers 250 only after 15 s
    WELL_BEHAVED = "well_behaved"


SLOW_REPLY_S = 15.0
AUTH_REPLIES = {
    Behaviour.WRONG_PASSWORD: "535 5.7.8 Username and Password not accepted.",
    Behaviour.APP_PASSWORD_REQUIRED: "534 5.7.9 Application-specific password required. "
    "For more information, go to support.google.com/mail/"
    "?p=InvalidSecondFactor",
    Behaviour.BASIC_AUTH_DISABLED: "535 5.7.139 Authentication unsuccessful, "
    "SmtpClientAuthentication is disabled for the Tenant. Visit "
    "https://aka.ms/smtp_auth_disabled for more information.",
}


class _Handler:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.mail_commands = 0  # MAIL FROM commands seen: one per sending attempt
        self.logins = 0  # AUTH commands seen: each one carried a password
        self.peers: set[Any] = set()  # client addresses that sent mail: one per connection
        self.sessions: list[Any] = []
        self.pipelining = False  # PIPELINING offered
        self.pipelined = 0  # MAIL commands whose RCPT and DATA had come with them

    @property
    def connections(self) -> int:
        return len(self.peers)
        self.port = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if getattr(server, "behaviour", None) is Behaviour.AUTH_NOT_OFFERED:
            return [r for r in responses if not r[4:].startswith("AUTH")]
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.content)
        if getattr(server, "behaviour", None) is Behaviour.SLOW_FINAL_REPLY:
            await asyncio.sleep(SLOW_REPLY_S)
        return "250 2.0.0 OK"


class _ScriptedSMTP(SMTP):
    behaviour: Behaviour = Behaviour.WELL_BEHAVED

    def connection_made(self, transport: Any) -> None:
        self.event_handler.sessions.append(self)
        super().connection_made(transport)

    async def smtp_AUTH(self, arg: str) -> None:
        self.event_handler.logins += 1
        reply = AUTH_REPLIES.get(self.behaviour)
        if reply is None:
            await super().smtp_AUTH(arg)
            return
        await self.push(reply)

    async def smtp_MAIL(self, arg: str) -> None:
        self.event_handler.mail_commands += 1
        self.event_handler.peers.add(self.session.peer if self.session else None)
        waiting = bytes(getattr(self._reader, "_buffer", b""))  # read with it, not yet handled
        if b"DATA\r\n" in waiting.upper():
            self.event_handler.pipelined += 1
        first = self.event_handler.mail_commands == 1
        if self.behaviour is Behaviour.TEMPORARY_FAILURE or (
            self.behaviour is Behaviour.TEMPORARY_ONCE and first
        ):
            await self.push("451 4.3.0 Temporary system problem. Try again later.")
            return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str) -> None:
        unknown = arg.upper().startswith("TO:<UNKNOWN")
        if self.behaviour is Behaviour.REJECT_RECIPIENT or (
            self.behaviour in (Behaviour.REJECT_SOME_RECIPIENTS, Behaviour.REJECT_AND_HANG_UP)
            and unknown
        ):
            await self.push("550 5.1.1 The email account that you tried to reach does not exist.")
            if self.behaviour is Behaviour.REJECT_AND_HANG_UP and self.transport is not None:
                self.transport.close()  # as Postfix does after too many errors
            return
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg: str) -> None:
        if self.behaviour is Behaviour.DROP_IN_DATA:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            if self.transport is not None:
                self.transport.close()
            return
        await super().smtp_DATA(arg)


def _accept_any(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    return AuthResult(success=True)


class _Controller(Controller):
    def __init__(self, behaviour: Behaviour, tls: ssl.SSLContext, **kwargs: Any) -> None:
        self.behaviour = behaviour
        self._tls = tls
        super().__init__(_Handler(), hostname="127.0.0.1", port=_free_port(), **kwargs)

    def factory(self) -> SMTP:
        smtp = _ScriptedSMTP(
            self.handler,
            tls_context=self._tls,
            require_starttls=True,
            authenticator=_accept_any,
            auth_required=True,
        )
        smtp.behaviour = self.behaviour
        return smtp


def _stop(controller: _Controller) -> None:
    """Stop, closing connections clients still hold (a client may keep one open to reuse it)."""

    async def close_all() -> None:
        for session in controller.handler.sessions:
            if session.transport is not None:
                session.transport.abort()  # no TLS goodbye: the test server is leaving
        await asyncio.sleep(0.05)  # let the transports finish closing

    asyncio.run_coroutine_threadsafe(close_all(), controller.loop).result(timeout=5)
    controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _raw_server(greeting: bytes | None) -> Iterator[int]:
    """A TCP server that greets with `greeting` and closes, or (None) says nothing at all."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            if greeting is None:
                held.append(conn)  # stall: keep it open and silent
            else:
                conn.sendall(greeting)
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


@contextmanager
def scripted_server(
    behaviour: Behaviour, certs: Certificates, *, pipelining: bool = False
) -> Iterator[Any]:
    """An aiosmtpd server with the behaviour; yields its handler (`.port`, `.received`,
    `.mail_commands`, `.pipelined`) for tests that count what reached it."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.cert, certs.key)
    controller = _Controller(behaviour, context)
    controller.handler.pipelining = pipelining
    controller.start()
    controller.handler.port = controller.port
    try:
        yield controller.handler
    finally:
        _stop(controller)


@contextmanager
def misbehaving(behaviour: Behaviour, certs: Certificates) -> Iterator[int]:
    """Serve on a free loopback port (yielded) with the given behaviour."""
    if behaviour is Behaviour.STALL:
        with _raw_server(None) as port:
            yield port
        return
    if behaviour is Behaviour.BUSY_GREETING:
        with _raw_server(b"421 4.7.0 Try again later, closing connection\r\n") as port:
            yield port
        return
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if behaviour is Behaviour.UNTRUSTED_CERTIFICATE:
        context.load_cert_chain(certs.untrusted_cert, certs.untrusted_key)
    else:
        context.load_cert_chain(certs.cert, certs.key)
    controller = _Controller(behaviour, context)
    controller.start()
    try:
        yield controller.port
    finally:
        _stop(controller)
