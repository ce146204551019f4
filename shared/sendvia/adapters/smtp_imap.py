"""SMTP and IMAP with app passwords: a stepwise connection test, sending, and the Sent copy.

Every step has its own time limit (adapters/mail_steps), so a stalled server cannot hang a
function. The SMTP host is resolved first and every address checked (no SSRF into the platform's
network); the connection then goes to the checked address while TLS still verifies the host name.
Logged-in SMTP and IMAP connections are pooled per server and login, within the limits
providers set (adapters/mail_pool).
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import ipaddress
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sendvia.adapters import imap_append
from sendvia.adapters.mail_pool import Pool
from sendvia.adapters.mail_sockets import abandon, dot_stuffed, pinned_imap_client
from sendvia.adapters.mail_steps import (
    PLATFORM,
    STEP_LIMIT_S,
    StepFailed,
    Steps,
    failed_step,
    text_of,
    timed_out,
)
from sendvia.adapters.smtp_envelope import envelope
from sendvia.domain.mailbox import Server as Endpoint
from sendvia.domain.network import refusal

IMAP_CONNECTIONS = 4  # per account and instance, for the copies in Sent
RESOLVE_LIMIT_S = 5.0
# After the message data, a server's content filter may take a while to answer: RFC 5321
# §4.5.3.2.6 allows 10 minutes; we wait this long, and past it the outcome is unknown (the
# server may have taken it), never retried as if nothing was sent.
REPLY_LIMIT_S = 30.0
# A server on an implicit-TLS port (465, 993) waits for our TLS handshake and never greets.
GREETING_LIMIT_S = 6.0


class _PinnedSMTP(smtplib.SMTP):
    """smtplib on a socket we opened ourselves (to a checked address), so that the connection,
    TLS and greeting are separate steps; STARTTLS still verifies the configured host name."""

    def __init__(self, sock: socket.socket, host: str, timeout: float) -> None:
        self._prepared = sock
        super().__init__(timeout=timeout)
        self._host = host  # STARTTLS verifies the certificate against this name
        self.handed_over = False  # the current message's data is on its way

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self._prepared


class MailServers:
    def __init__(
        self,
        *,
        ca_file: str | None,
        allow_loopback: bool,
        step_limit_s: float = STEP_LIMIT_S,
        greeting_limit_s: float = GREETING_LIMIT_S,
        reply_limit_s: float = REPLY_LIMIT_S,
    ) -> None:
        self.reply_limit_s = reply_limit_s
        self._ca_file = ca_file
        self._allow_loopback = allow_loopback
        self._smtp_pool: Pool[_PinnedSMTP] = Pool(alive=_answers_smtp, close=_quit)
        # The Sent copies: fewer at once, and fewer kept, than the sends (IMAP logins count
        # against the limit the account's own mail apps share).
        self._imap_pool: Pool[Any] = Pool(
            alive=_answers_imap, close=_logout, max_open=IMAP_CONNECTIONS, max_idle=IMAP_CONNECTIONS
        )
        self.step_limit_s = step_limit_s
        self.greeting_limit_s = greeting_limit_s
        self._tls_context: ssl.SSLContext | None = None

    def tls_context(self) -> ssl.SSLContext:
        """One verifying context for the instance (loading the CA store costs milliseconds; a
        context is safe to share between threads)."""
        if self._tls_context is None:
            context = ssl.create_default_context()
            if self._ca_file:
                context.load_verify_locations(cafile=self._ca_file)
            self._tls_context = context
        return self._tls_context

    def resolve(self, host: str, port: int, *, trusted: bool = False) -> str:
        """The first address of `host`, after checking every address it resolves to. A
        `trusted` host — the platform's own relay, set by its operator — may be internal (a
        relay inside the VPC); a tenant's never."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise StepFailed("unreachable", f"{host} could not be found ({exc.strerror}).") from exc
        addresses = [str(info[4][0]) for info in infos]
        for address in [] if trusted else addresses:
            reason = refusal(ipaddress.ip_address(address), allow_loopback=self._allow_loopback)
            if reason:
                raise StepFailed(
                    "host_not_allowed", f"{host} resolves to {address}, a {reason} address."
                )
        return addresses[0]

    def open_smtp(
        self, endpoint: Endpoint, password: str, steps: Steps, *, trusted: bool = False
    ) -> _PinnedSMTP | None:
        """resolve → connect → tls → auth, each a step; a logged-in client, or None."""
        address = steps.run(
            "resolve",
            lambda: self.resolve(endpoint.host, endpoint.port, trusted=trusted),
            limit_s=RESOLVE_LIMIT_S,
            describe=lambda a: f"{endpoint.host} is {a}",
        )
        sock = steps.run(
            "connect",
            lambda: socket.create_connection((address, endpoint.port), timeout=self.step_limit_s),
            describe=lambda _: f"Connected to {endpoint.host}:{endpoint.port}",
        )
        if sock is None:
            return None
        client: _PinnedSMTP | None = steps.run(
            "tls",
            lambda: self._secure_smtp(sock, address, endpoint),
            limit_s=self.step_limit_s + self.greeting_limit_s,
            describe=lambda c: f"{c.sock.version()} with a verified certificate",
        )
        if client is None:
            sock.close()
            return None
        steps.run(
            "auth",
            lambda: client.login(endpoint.username, password),
            describe=lambda r: f"{r[0]} {text_of(r[1])}",
        )
        if not steps.ok:
            _quit(client)
            return None
        if client.sock is not None:
            client.sock.settimeout(self.step_limit_s)
        return client

    def _secure_smtp(self, sock: socket.socket, address: str, endpoint: Endpoint) -> _PinnedSMTP:
        context = self.tls_context()
        if endpoint.security == "tls":
            sock.settimeout(self.step_limit_s)
            sock = context.wrap_socket(sock, server_hostname=endpoint.host)
        sock.settimeout(self.greeting_limit_s)
        client = _PinnedSMTP(sock, endpoint.host, timeout=self.step_limit_s)
        try:
            code, greeting = client.connect(endpoint.host, endpoint.port)  # reads the greeting
        except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
            if (
                timed_out(exc)
                and endpoint.security == "starttls"
                and self._speaks_tls(address, endpoint.port)
            ):
                raise StepFailed(
                    "tls_mismatch",
                    f"No greeting: port {endpoint.port} expects TLS from the start (choose 'tls').",
                ) from exc
            raise
        if code != 220:
            client.close()
            raise smtplib.SMTPConnectError(code, greeting)
        sock.settimeout(self.step_limit_s)
        client.ehlo()
        if endpoint.security == "starttls":
            if not client.has_extn("starttls"):
                raise StepFailed("tls_mismatch", f"Port {endpoint.port} does not offer STARTTLS.")
            client.starttls(context=context)
            client.ehlo()
        return client

    @contextmanager
    def connection(
        self, endpoint: Endpoint, password: str, *, trusted: bool = False, lane: str = PLATFORM
    ) -> Iterator[tuple[_PinnedSMTP | None, Steps]]:
        """A logged-in SMTP connection, reused within the instance: one that worked goes back
        to the idle pool, one that failed is closed. The steps say why a new one failed."""
        key = (endpoint, hashlib.sha256(password.encode()).hexdigest())
        steps = Steps(lane=lane)
        slot = self._smtp_pool.slot(key, self.step_limit_s)
        if slot is None:
            steps.results.append(self._busy("connect", endpoint, self._smtp_pool.max_open))
            yield None, steps
            return
        client = self._smtp_pool.take(key)
        if client is None:
            client = self.open_smtp(endpoint, password, steps, trusted=trusted)
        worked = False
        try:
            yield client, steps
            worked = steps.ok and not steps.cut
        finally:
            if client is not None and worked and self._smtp_pool.park(key, client):
                client = None  # parked before the slot is released: the next sender finds it
            if client is not None and _timed_out(steps):
                abandon(client)  # its step's thread may still be reading from it
            elif client is not None:
                _quit(client)
            slot.release()

    @contextmanager
    def imap_connection(self, endpoint: Endpoint, password: str, steps: Steps) -> Iterator[Any]:
        """A logged-in IMAP client (or None, the steps saying why), reused within the instance
        as SMTP's connections are: one that worked goes back to the pool."""
        key = (endpoint, hashlib.sha256(password.encode()).hexdigest())
        slot = self._imap_pool.slot(key, self.step_limit_s)
        if slot is None:
            steps.results.append(self._busy("imap_login", endpoint, self._imap_pool.max_open))
            yield None
            return
        client = self._imap_pool.take(key)
        if client is None:
            client = steps.run("imap_login", lambda: self.open_imap(endpoint, password))
        worked = False
        try:
            yield client
            worked = steps.ok and not steps.cut
        finally:
            if client is not None and worked and self._imap_pool.park(key, client):
                client = None
            if client is not None and _timed_out(steps):
                with contextlib.suppress(imaplib.IMAP4.error, OSError):
                    client.shutdown()  # its step's thread may still be using it: no LOGOUT
            elif client is not None:
                _logout(client)
            slot.release()

    def close_idle(self) -> None:
        """Close the connections kept for later emails."""
        self._smtp_pool.close_idle()
        self._imap_pool.close_idle()

    def _busy(self, step: str, endpoint: Endpoint, most: int) -> dict[str, Any]:
        return {
            "name": step,
            **failed_step(
                "server_busy",
                f"All {most} connections to {endpoint.host} "
                f"stayed busy for {self.step_limit_s:g} s.",
            ),
            "elapsed_ms": round(self.step_limit_s * 1000),
        }

    def _speaks_tls(self, address: str, port: int) -> bool:
        """Whether a silent server answers a TLS handshake: then it wanted TLS from the start."""
        probe = ssl.create_default_context()
        probe.check_hostname = False
        probe.verify_mode = ssl.CERT_NONE  # only asking whether it speaks TLS at all
        try:
            with (
                socket.create_connection((address, port), timeout=3) as raw,
                probe.wrap_socket(raw),
            ):
                return True
        except (OSError, ssl.SSLError):
            return False

    def send(self, client: smtplib.SMTP, sender: str, recipients: list[str], raw: bytes) -> str:
        """MAIL, RCPT and DATA as smtplib's sendmail does them — in one write where the server
        allows PIPELINING (RFC 2920) — marking the client once the message data is on its way
        (`handed_over`): from then on a timeout or a dropped connection leaves the outcome
        unknown — the server may have taken the message — where before it the server surely
        has not."""
        if isinstance(client, _PinnedSMTP):
            client.handed_over = False
        client.ehlo_or_helo_if_needed()
        envelope(client, sender, recipients)
        if isinstance(client, _PinnedSMTP):
            client.handed_over = True
        client.send(dot_stuffed(raw) + b".\r\n")
        if client.sock is not None:  # a content filter may take a while to answer the data
            client.sock.settimeout(self.reply_limit_s)
        code, text = client.getreply()
        if client.sock is not None:
            client.sock.settimeout(self.step_limit_s)
        if code != 250:
            raise smtplib.SMTPDataError(code, text)
        return "250 accepted"

    def open_imap(self, endpoint: Endpoint, password: str) -> Any:
        """Connect and log in to IMAP — to the address that passed the check, as SMTP does, so a
        name that resolves elsewhere the second time cannot reach inside the platform's network
        (TLS still verifies the configured host name)."""
        address = self.resolve(endpoint.host, endpoint.port)
        IMAPClient = pinned_imap_client(address)  # noqa: N806 - a class made for this address
        context = self.tls_context()
        if endpoint.security == "tls":
            client = IMAPClient(
                endpoint.host,
                port=endpoint.port,
                ssl=True,
                ssl_context=context,
                timeout=self.step_limit_s,
            )
        else:
            client = IMAPClient(
                endpoint.host, port=endpoint.port, ssl=False, timeout=self.greeting_limit_s
            )
            client.starttls(context)
        client.login(endpoint.username, password)
        return client

    def folders(self, client: Any) -> list[dict[str, str | None]]:
        """Every folder with its special use (RFC 6154), e.g. `\\Sent`."""
        listed = []
        for flags, _, name in client.list_folders():
            uses = [
                text_of(f)
                for f in flags
                if text_of(f) in ("\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\All")
            ]
            listed.append({"name": str(name), "special_use": uses[0] if uses else None})
        return listed

    def holds(self, client: Any, folder: str, message_id: str) -> bool:
        """Whether `folder` holds a message with this Message-ID header (opened read-only)."""
        if not client.folder_exists(folder):
            raise StepFailed("folder_missing", f"There is no folder {folder!r} on the server.")
        client.select_folder(folder, readonly=True)
        found = client.search(["HEADER", "Message-ID", message_id.strip()])
        return bool(found)

    def append_sent(self, client: Any, folder: str, raw: bytes) -> str:
        """APPEND, and only when it is refused, ask whether the folder is there (a round trip
        per email fewer)."""
        try:
            imap_append.append(client, folder, raw)
        except imaplib.IMAP4.error as refused:
            try:
                missing = not client.folder_exists(folder)
            except (imaplib.IMAP4.error, OSError):
                raise refused from None  # the connection went: the refusal says more
            if missing:
                raise StepFailed(
                    "folder_missing", f"There is no folder {folder!r} on the server."
                ) from None
            raise
        return f"Saved a copy in {folder}"


def _timed_out(steps: Steps) -> bool:
    """Whether the last step ran out of time or was cut: its connection must not be written to."""
    return steps.cut or bool(steps.results and steps.results[-1]["cause"] == "timeout")


def _answers_smtp(client: smtplib.SMTP) -> bool:
    try:
        return bool(client.noop()[0] == 250)
    except (smtplib.SMTPException, OSError):
        return False


def _answers_imap(client: Any) -> bool:
    try:
        client.noop()
    except (imaplib.IMAP4.error, OSError):
        return False
    return True


def _logout(client: Any) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        client.logout()


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
