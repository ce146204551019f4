"""The stack's mail servers as a mail client sees them: Dovecot's IMAP and submission with TLS
from the local CA, app passwords, a Sent folder, and the sink behind the relay."""

from __future__ import annotations

import os
import smtplib
import ssl
import subprocess
import sys
import uuid

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.integration.helpers import HOST, eventually, port, relay_messages, sink_messages


@pytest.fixture(scope="module")
def tls() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=os.environ["SENDVIA_TLS_CA_FILE"])


@pytest.fixture(scope="module")
def demo() -> tuple[str, str]:
    return os.environ["MAIL_DEMO_USER"], os.environ["MAIL_DEMO_PASSWORD"]


def test_imap_over_tls_lists_a_sent_folder(tls, demo):
    with IMAPClient(HOST, port=port("IMAPS"), ssl=True, ssl_context=tls, timeout=10) as client:
        client.login(*demo)
        folders = {name: flags for flags, _, name in client.list_folders()}
    assert b"\\Sent" in folders["Sent"]


def test_imap_with_starttls(tls, demo):
    with IMAPClient(HOST, port=port("IMAP"), ssl=False, timeout=10) as client:
        client.starttls(tls)
        client.login(*demo)


def test_tls_is_verified_against_the_local_ca(demo):
    untrusting = ssl.create_default_context()  # the system's CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(HOST, port=port("IMAPS"), ssl=True, ssl_context=untrusting, timeout=10)


def test_a_wrong_app_password_is_refused(tls, demo):
    with (
        IMAPClient(HOST, port=port("IMAPS"), ssl=True, ssl_context=tls, timeout=10) as client,
        pytest.raises(LoginError, match="AUTHENTICATIONFAILED"),
    ):
        client.login(demo[0], "wrongwrongwrong")
    with smtplib.SMTP(HOST, port("SUBMISSION"), timeout=10) as smtp:
        smtp.starttls(context=tls)
        with pytest.raises(smtplib.SMTPAuthenticationError) as error:
            smtp.login(demo[0], "wrongwrongwrong")
    assert error.value.smtp_code == 535


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["587-starttls", "465-tls"])
def test_submission_relays_to_the_sink(tls, demo, implicit_tls):
    recipient = f"ann-{uuid.uuid4().hex[:8]}@example.com"
    message = (
        f"From: {demo[0]}\r\nTo: {recipient}\r\nSubject: Appointment reminder\r\n"
        "Message-ID: <test@clinic.test>\r\n\r\nSee you at 10:00.\r\n"
    )
    if implicit_tls:
        smtp = smtplib.SMTP_SSL(HOST, port("SUBMISSIONS"), context=tls, timeout=10)
    else:
        smtp = smtplib.SMTP(HOST, port("SUBMISSION"), timeout=10)
        smtp.starttls(context=tls)
    with smtp:
        smtp.login(*demo)
        smtp.sendmail(demo[0], [recipient], message.encode())
    received = eventually(lambda: sink_messages(recipient), timeout=10)
    assert received[0]["subject"] == "Appointment reminder"
    assert received[0]["headers"]["Message-ID"] == "<test@clinic.test>"
    assert "See you at 10:00." in received[0]["raw"]


def test_the_cli_adds_a_mail_user_whose_app_password_works(tls):
    address = f"new-{uuid.uuid4().hex[:8]}@clinic.test"
    printed = subprocess.run(
        [sys.executable, "-m", "sendvia.cli", "dev", "mail-user", "add", address],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    password = printed.stdout.strip()
    assert len(password) == 16
    with IMAPClient(HOST, port=port("IMAPS"), ssl=True, ssl_context=tls, timeout=10) as client:
        client.login(address, password)


def test_the_default_relay_needs_starttls_and_its_secret(tls):
    from sendvia.adapters.google_clients import secret_manager_client

    password = (
        secret_manager_client()
        .access_secret_version(name=os.environ["SENDVIA_RELAY_PASSWORD"])
        .payload.data.decode()
    )
    relay_port = int(os.environ["SENDVIA_RELAY_PORT"])
    recipient = f"bob-{uuid.uuid4().hex[:8]}@example.com"
    with smtplib.SMTP(HOST, relay_port, timeout=10) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth")  # not before TLS
        smtp.starttls(context=tls)
        smtp.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(os.environ["SENDVIA_RELAY_USERNAME"], "wrong")
        smtp.login(os.environ["SENDVIA_RELAY_USERNAME"], password)
        smtp.sendmail(
            "noreply@platform.test",
            [recipient],
            b"From: noreply@platform.test\r\nTo: x\r\nSubject: relayed\r\n\r\nhi\r\n",
        )
    assert [m["subject"] for m in relay_messages(recipient)] == ["relayed"]
