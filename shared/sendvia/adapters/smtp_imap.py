"""SMTP and IMAP with app passwords: a stepwise connection test, sending, and the Sent copy.

Every step has its own time limit, so a stalled server cannot hang a function. The SMTP host is
resolved first and every address checked (no SSRF into the platform's network); the connection
then goes to the checked address while TLS still verifies the host name. Failures are classified
into a cause and a fix, because the servers' own words rarely say what to do (seed 001: "no
indication as to why the connection failed").
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import ipaddress
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sendvia.domain.mailbox import Server as Endpoint
from sendvia.domain.network import refusal

STEP_LIMIT_S = 10.0
# Reused SMTP connections: servers drop idle sessions (RFC 5321 §4.5.3.2.7 suggests 5 minutes;
# many providers use less), so only recently used ones are tried.
IDLE_LIMIT_S = 30.0
# One parked this recently is taken as is; an older one is asked NOOP first (a round trip).
CHECK_AFTER_S = 1.0
# Connections open at once to one server with one login: providers cap them (Gmail's SMTP
# about 10–15 per account), and more would only be opened to be closed again. A send waits for
# one of these, up to the step limit.
MAX_CONNECTIONS_PER_SERVER = 10
MAX_IDLE_PER_SERVER = MAX_CONNECTIONS_PER_SERVER
RESOLVE_LIMIT_S = 5.0
# A server on an implicit-TLS port (465, 993) waits for our TLS handshake and never greets.
GREETING_LIMIT_S = 6.0

HINTS = {
    "host_not_allowed": "Use your provider's public server name; addresses inside private or "
    "internal networks are not allowed.",
    "unreachable": "Check the server name and port with your provider's settings (for Gmail: "
    "smtp.gmail.com 587 and imap.gmail.com 993; Office 365: smtp.office365.com "
    "587 and outlook.office365.com 993).",
    "timeout": "The server did not answer in time. Check the port and that the server accepts "
    "connections from the internet; then try again.",
    "tls_mismatch": "Ports 465 and 993 use TLS from the start ('tls'); ports 587 and 143 start "
    "plain and switch with STARTTLS ('starttls'). Match the security setting "
    "to the port.",
    "certificate_untrusted": "The server's certificate is not from a trusted authority or does "
    "not match the server name. Use the provider's official server "
    "name.",
    "wrong_password": "Check the user name (usually the full email address, with no spaces) and "
    "the password. If 2-Step Verification is on, create an app password and "
    "use it here.",
    "app_password_required": "2-Step Verification is on for this account: create an app "
    "password in the account's security settings and enter it here "
    "instead of the normal password.",
    "basic_auth_disabled": "Microsoft has switched off SMTP AUTH (basic authentication, which "
    "app passwords use) for this mailbox or tenant. An Exchange admin can "
    "enable 'Authenticated SMTP' for the mailbox; Microsoft is retiring "
    "it, so plan to connect with Microsoft sign-in instead.",
    "auth_not_offered": "The server does not offer to log in on this connection; it may need "
    "STARTTLS or another port.",
    "server_unavailable": "The server refused new connections for now; try again later.",
    "server_busy": "Many emails are going out through this server at once; it is retried.",
    "temporary_failure": "The server refused for now (a temporary error); try again later.",
    "rejected": "The server refused the message; its reply says why.",
    "connection_dropped": "The server closed the connection in the middle; try again, and check "
    "the provider's sending limits.",
    "folder_missing": "Pick the Sent folder from the list of folders on the server.",
    "imap_error": "The IMAP server answered with an error; its reply says which.",
    "quota_exceeded": "The mailbox's sending limit is reached; sending resumes when it resets.",
}


class StepFailed(Exception):  # noqa: N818 - a step's outcome
    def __init__(self, cause: str, reply: str) -> None:
        super().__init__(f"{cause}: {reply}")
        self.cause = cause
        self.reply = reply


@dataclass
class Steps:
    """Runs named steps in order, each within its limit, and keeps their outcomes."""

    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r["ok"] for r in self.results)

    def run(
        self,
        name: str,
        action: Callable[[], Any],
        limit_s: float = STEP_LIMIT_S,
        describe: Callable[[Any], str] = lambda _: "OK",
    ) -> Any:
        if not self.ok:
            return None
        started = time.monotonic()
        future = _step_pool().submit(action)
        try:
            result = future.result(timeout=limit_s + 1.0)  # sockets time out first, normally
            outcome = {"ok": True, "reply": describe(result), "cause": None, "hint": None}
        except concurrent.futures.TimeoutError:
            result = None
            outcome = _failed("timeout", f"No answer within {limit_s:g} s during '{name}'.")
        except StepFailed as failure:
            result = None
            outcome = _failed(failure.cause, failure.reply)
        except Exception as exc:
            result = None
            outcome = _failed(*classify(name, exc, limit_s))
        elapsed = round((time.monotonic() - started) * 1000)
        self.results.append({"name": name, **outcome, "elapsed_ms": elapsed})
        return result


_STEP_WORKERS = 256
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _step_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The threads steps run on, so that a step can be given up on at its limit; shared by the
    instance (a thread per step would cost more than a send on a reused connection)."""
    global _pool  # noqa: PLW0603 - one pool per process, made on first use
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=_STEP_WORKERS, thread_name_prefix="mail-step"
            )
        return _pool


def _failed(cause: str, reply: str) -> dict[str, Any]:
    return {"ok": False, "reply": reply, "cause": cause, "hint": HINTS.get(cause)}


def classify_reply(code: int, text: str, *, at_login: bool = False) -> str:
    """The cause of an SMTP reply (RFC 5321 codes, RFC 3463 enhanced status codes)."""
    if "5.7.139" in text or "5.7.30" in text:  # Microsoft: SMTP AUTH / basic auth is off
        return "basic_auth_disabled"
    if code == 534 or "5.7.9" in text or "application-specific" in text.lower():  # Google
        return "app_password_required"
    if at_login or code == 535:
        return "wrong_password"
    # Sending limits: Gmail's daily limit over SMTP is 550 5.4.5; Microsoft throttles with 4.3.2
    # (FACTS.md). Waiting is the fix, not a retry storm or a failed email.
    if "5.4.5" in text or "4.3.2" in text:
        return "quota_exceeded"
    if code == 421:
        return "server_unavailable"
    return "temporary_failure" if 400 <= code < 500 else "rejected"


# Exceptions that carry no reply of the server, by the first class that matches.
_EXCEPTION_CAUSES: tuple[tuple[type[BaseException], str], ...] = (
    (smtplib.SMTPNotSupportedError, "auth_not_offered"),
    (ssl.SSLCertVerificationError, "certificate_untrusted"),
    (ssl.SSLError, "tls_mismatch"),
    (ConnectionRefusedError, "unreachable"),
    (OSError, "unreachable"),
)


def classify(step: str, exc: BaseException, limit_s: float) -> tuple[str, str]:
    """A cause (a key of HINTS) and the server's own words for a failed step."""
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        at_login = isinstance(exc, smtplib.SMTPAuthenticationError)
        return classify_reply(exc.smtp_code, reply, at_login=at_login), reply
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, words = next(iter(exc.recipients.values()))
        reply = f"{code} {_text(words)}"
        return classify_reply(code, reply), reply
    if _timed_out(exc):  # smtplib reports a read timeout as a disconnection
        return "timeout", f"No answer within {limit_s:g} s during '{step}'."
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "connection_dropped", str(exc) or "The server closed the connection."
    for kind, cause in _EXCEPTION_CAUSES:
        if isinstance(exc, kind):
            return cause, _describe(exc)
    return _classify_imap(exc)


def _classify_imap(exc: BaseException) -> tuple[str, str]:
    text = _text(exc.args[0]) if exc.args else str(exc)
    if type(exc).__name__ == "LoginError":  # IMAPClient's; the text is the server's
        return classify_reply(0, text, at_login=True), text
    return "imap_error", text[:300]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "The server refused the connection (nothing listens on that port)."
    if isinstance(exc, OSError):
        return f"Could not connect: {exc.strerror or exc}"
    return str(exc)


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or "timed out" in str(exc)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _PinnedSMTP(smtplib.SMTP):
    """smtplib on a socket we opened ourselves (to a checked address), so that the connection,
    TLS and greeting are separate steps; STARTTLS still verifies the configured host name."""

    def __init__(self, sock: socket.socket, host: str, timeout: float) -> None:
        self._prepared = sock
        super().__init__(timeout=timeout)
        self._host = host  # STARTTLS verifies the certificate against this name

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
    ) -> None:
        self._ca_file = ca_file
        self._allow_loopback = allow_loopback
        self._idle: dict[tuple[Endpoint, str], list[tuple[float, _PinnedSMTP]]] = {}
        self._idle_lock = threading.Lock()
        self._slots: dict[tuple[Endpoint, str], threading.BoundedSemaphore] = {}
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

    def resolve(self, host: str, port: int) -> str:
        """The first address of `host`, after checking every address it resolves to."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise StepFailed("unreachable", f"{host} could not be found ({exc.strerror}).") from exc
        addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            reason = refusal(ipaddress.ip_address(address), allow_loopback=self._allow_loopback)
            if reason:
                raise StepFailed(
                    "host_not_allowed", f"{host} resolves to {address}, a {reason} address."
                )
        return addresses[0]

    def open_smtp(self, endpoint: Endpoint, password: str, steps: Steps) -> _PinnedSMTP | None:
        """resolve → connect → tls → auth, each a step; a logged-in client, or None."""
        address = steps.run(
            "resolve",
            lambda: self.resolve(endpoint.host, endpoint.port),
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
            describe=lambda r: f"{r[0]} {_text(r[1])}",
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
                _timed_out(exc)
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
        self, endpoint: Endpoint, password: str
    ) -> Iterator[tuple[_PinnedSMTP | None, Steps]]:
        """A logged-in SMTP connection, reused within the instance: one that worked goes back
        to the idle pool, one that failed is closed. The steps say why a new one failed."""
        key = (endpoint, hashlib.sha256(password.encode()).hexdigest())
        steps = Steps()
        with self._idle_lock:
            slot = self._slots.setdefault(
                key, threading.BoundedSemaphore(MAX_CONNECTIONS_PER_SERVER)
            )
        if not slot.acquire(timeout=self.step_limit_s):
            steps.results.append(
                {
                    "name": "connect",
                    **_failed(
                        "server_busy",
                        f"All {MAX_CONNECTIONS_PER_SERVER} connections to {endpoint.host} "
                        f"stayed busy for {self.step_limit_s:g} s.",
                    ),
                    "elapsed_ms": round(self.step_limit_s * 1000),
                }
            )
            yield None, steps
            return
        client = self._reuse(key)
        if client is None:
            client = self.open_smtp(endpoint, password, steps)
        worked = False
        try:
            yield client, steps
            worked = steps.ok
        finally:
            if client is not None and worked:
                with self._idle_lock:
                    idle = self._idle.setdefault(key, [])
                    if len(idle) < MAX_IDLE_PER_SERVER:
                        idle.append((time.monotonic(), client))
                        client = None
            if client is not None:
                _quit(client)
            slot.release()  # after parking: the next sender finds the connection

    def _reuse(self, key: tuple[Endpoint, str]) -> _PinnedSMTP | None:
        while True:
            with self._idle_lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                parked_at, client = idle.pop()
            idle_s = time.monotonic() - parked_at
            if idle_s < CHECK_AFTER_S:
                return client
            if idle_s < IDLE_LIMIT_S:
                try:
                    if client.noop()[0] == 250:  # still there?
                        return client
                except (smtplib.SMTPException, OSError):
                    pass
            _quit(client)

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
        refused = client.sendmail(sender, recipients, raw)
        if refused:
            code, text = next(iter(refused.values()))
            raise StepFailed("rejected", f"{code} {_text(text)}")
        return "250 accepted"

    def open_imap(self, endpoint: Endpoint, password: str) -> Any:
        """Connect and log in to IMAP (after the same address check)."""
        from imapclient import IMAPClient

        self.resolve(endpoint.host, endpoint.port)
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
                _text(f)
                for f in flags
                if _text(f) in ("\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\All")
            ]
            listed.append({"name": str(name), "special_use": uses[0] if uses else None})
        return listed

    def append_sent(self, client: Any, folder: str, raw: bytes) -> str:
        if not client.folder_exists(folder):
            raise StepFailed("folder_missing", f"There is no folder {folder!r} on the server.")
        client.append(folder, raw, flags=[b"\\Seen"])
        return f"Saved a copy in {folder}"


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
