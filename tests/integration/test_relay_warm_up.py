"""The relay's connection opens in the background on an instance's first email (SmtpRelay.warm),
and that email goes on it: one connection and one login, not two, against a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sendvia.adapters.providers.relay import SmtpRelay
from sendvia.adapters.smtp_imap import MailServers
from sendvia.config import RelaySettings
from sendvia.ports import Outgoing

from emulators.mail.misbehaving import Behaviour, scripted_server
from tests.fakes.platform import FakeSecrets


@pytest.fixture
def mail(certs) -> Iterator[MailServers]:
    servers = MailServers(ca_file=str(certs.ca), allow_loopback=True)
    yield servers
    servers.close_idle()


def relay_at(port: int, mail: MailServers) -> tuple[SmtpRelay, FakeSecrets]:
    secrets = FakeSecrets()
    version = secrets.add_version("relay", b"relay-password", {})
    settings = RelaySettings("127.0.0.1", port, "starttls", "apikey", version, "sendgrid")
    return SmtpRelay(settings, "noreply@platform.test", mail, secrets), secrets


def outgoing(to: str) -> Outgoing:
    message = EmailMessage()
    message["From"] = "noreply@platform.test"
    message["To"] = to
    message["Subject"] = "Invoice"
    message.set_content("Attached.")
    return Outgoing(message, message.as_bytes(), (to,))


def test_the_first_email_goes_on_the_connection_the_warm_up_opened(certs, mail):
    with scripted_server(Behaviour.WELL_BEHAVED, certs) as server:
        relay, _ = relay_at(server.port, mail)
        relay.warm()
        relay.warm()  # once per instance
        relay.send(outgoing("pat@example.com"), tenant_id="t1", delivery_id="d1")
        relay.send(outgoing("pat@example.com"), tenant_id="t1", delivery_id="d2")
        assert (server.connections, server.logins, len(server.received)) == (1, 1, 2)
        assert b"X-SMTPAPI:" in server.received[0]


def test_a_warm_up_that_fails_leaves_the_email_to_fail_or_succeed_on_its_own(certs, mail):
    with scripted_server(Behaviour.WELL_BEHAVED, certs) as server:
        relay, secrets = relay_at(server.port, mail)
        secrets.versions.clear()  # the password cannot be read during the warm-up
        relay.warm()
        relay._warming.join()  # type: ignore[union-attr]
        secrets.versions["relay/versions/1"] = b"relay-password"  # readable again
        relay.send(outgoing("pat@example.com"), tenant_id="t1", delivery_id="d1")
        assert (server.connections, len(server.received)) == (1, 1)
