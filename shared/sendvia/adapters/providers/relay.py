"""The platform's own sender: an email service's SMTP relay (SendGrid, SES or any other).

The email names its tenant and delivery to the service in the service's own header, which it
strips before delivering and copies into every event it sends back (services/provider_events).
The relay's password is the platform's, not a customer's: when the relay refuses it, the email
waits (a transient failure) while the operator fixes it, and the password is read again.
"""

from __future__ import annotations

import contextlib
import json
import string
import threading

from sendvia.adapters.providers.smtp import send_over_smtp
from sendvia.adapters.smtp_imap import MailServers
from sendvia.config import RelaySettings
from sendvia.domain import provider_events as pe
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import Server
from sendvia.ports import Outgoing, Secrets, Sent


class SmtpRelay:
    def __init__(
        self, settings: RelaySettings, sender: str, mail: MailServers, secrets: Secrets
    ) -> None:
        self._settings = settings
        self._sender = sender  # the envelope sender: the platform's address
        self._endpoint = Server(settings.host, settings.port, settings.security, settings.username)
        self._mail = mail
        self._secrets = secrets
        self._warming: threading.Thread | None = None
        self._warm_lock = threading.Lock()

    def warm(self) -> None:
        """Once per instance, read the password and open a connection to the relay in the
        background, while the request reads and writes its delivery: on a cold start, the two
        run side by side instead of one after the other (bench/cold_start.py). The connection
        waits in the pool for the email; one that idles past the pool's limit is closed the
        next time the pool is used (adapters/mail_pool)."""
        with self._warm_lock:
            if self._warming is not None:
                return
            self._warming = threading.Thread(target=self._open, name="relay-warm-up")
            self._warming.daemon = True
            self._warming.start()

    def _open(self) -> None:
        # What fails here fails again for the email's own attempt, which reports it.
        with contextlib.suppress(Exception):
            password = self._secrets.access(self._settings.password_version).decode()
            with self._mail.connection(self._endpoint, password, trusted=True):
                pass

    def send(self, outgoing: Outgoing, *, tenant_id: str, delivery_id: str) -> Sent:
        warming = self._warming
        if warming is not None and warming.is_alive():
            # Its connection, rather than a second one opened beside it; past a step's limit,
            # the email opens its own.
            warming.join(timeout=self._mail.step_limit_s)
        named = _naming(self._settings.event_args, tenant_id, delivery_id)
        version = self._settings.password_version
        password = self._secrets.access(version).decode()
        try:
            send_over_smtp(
                self._mail,
                self._endpoint,
                password,
                sender=self._sender,
                recipients=list(outgoing.recipients),
                raw=named + outgoing.raw,
                trusted=True,  # the operator's relay may live inside the platform's network
            )
        except ProviderFailure as failure:
            if failure.kind is not FailureKind.AUTH:
                raise
            self._secrets.forget(version)
            raise ProviderFailure(
                FailureKind.TRANSIENT,
                "relay_auth_failed",
                "The platform's sender refused its credentials; the email will be retried.",
            ) from failure
        return Sent()


def _naming(kind: str, tenant_id: str, delivery_id: str) -> bytes:
    """The header naming the tenant and delivery to the email service, which returns them in
    its events (and strips the header before delivering); put before the composed message, as
    a header line of ASCII folded at its spaces."""
    if kind == "sendgrid":
        args = {pe.TENANT_ARG: tenant_id, pe.DELIVERY_ARG: delivery_id}
        return _header("X-SMTPAPI", json.dumps({"unique_args": args}))  # ASCII: ensure_ascii
    if kind == "ses":
        tags = f"{pe.TENANT_ARG}={_tag(tenant_id)}, {pe.DELIVERY_ARG}={_tag(delivery_id)}"
        return _header("X-SES-MESSAGE-TAGS", tags)
    return b""


def _header(name: str, value: str, width: int = 78) -> bytes:
    words = value.split(" ")
    lines = [f"{name}: {words[0]}"]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) > width:
            lines.append(f" {word}")  # a continuation: unfolded, the same value
        else:
            lines[-1] += f" {word}"
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _tag(value: str) -> str:
    """SES tag values allow ASCII letters, digits, _ - . @ only."""
    return "".join(c if c in _TAG_CHARACTERS else "_" for c in value)[:256]


_TAG_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-.@")
