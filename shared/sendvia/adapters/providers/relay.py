"""The platform's own sender: an email service's SMTP relay (SendGrid, SES or any other).

The email names its tenant and delivery to the service in the service's own header, which it
strips before delivering and copies into every event it sends back (services/provider_events).
The relay's password is the platform's, not a customer's: when the relay refuses it, the email
waits (a transient failure) while the operator fixes it, and the password is read again.
"""

from __future__ import annotations

import json
from email.message import EmailMessage

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

    def send(self, outgoing: Outgoing, *, tenant_id: str, delivery_id: str) -> Sent:
        message = outgoing.message
        _name_the_delivery(message, self._settings.event_args, tenant_id, delivery_id)
        version = self._settings.password_version
        password = self._secrets.access(version).decode()
        try:
            send_over_smtp(
                self._mail,
                self._endpoint,
                password,
                sender=self._sender,
                recipients=list(outgoing.recipients),
                raw=message.as_bytes(),
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


def _name_the_delivery(message: EmailMessage, kind: str, tenant_id: str, delivery_id: str) -> None:
    """Name the tenant and delivery to the email service, which returns them in its events
    (and strips these headers before delivering)."""
    if kind == "sendgrid":
        args = {pe.TENANT_ARG: tenant_id, pe.DELIVERY_ARG: delivery_id}
        message["X-SMTPAPI"] = json.dumps({"unique_args": args})
    elif kind == "ses":
        message["X-SES-MESSAGE-TAGS"] = (
            f"{pe.TENANT_ARG}={_tag(tenant_id)}, {pe.DELIVERY_ARG}={_tag(delivery_id)}"
        )


def _tag(value: str) -> str:
    """SES tag values allow letters, digits, _ - . @ only."""
    return "".join(c if c.isalnum() or c in "_-.@" else "_" for c in value)[:256]
