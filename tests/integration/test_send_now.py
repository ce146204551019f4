"""`send` in mode `now`: the route's provider, idempotency, refused input that never reaches a
server, and broken mailboxes — against the default relay, Dovecot and the fake Google."""

from __future__ import annotations

import base64
import os
import re
import time
import uuid

import pytest

from tests.integration.api import call
from tests.integration.clinic import connect, settings_of
from tests.integration.google_flow import fake
from tests.integration.helpers import (
    email,
    relay_messages,
    run_test,
    save,
    send,
    settings_body,
    sink_for,
)


def test_without_a_mailbox_the_platform_sender_is_used_with_reply_to(clinic, recipient):
    response = send(clinic, email(recipient))
    assert response.status_code == 200, response.text
    delivery = response.json()["delivery"]
    assert delivery["state"] == "sent"
    assert delivery["route"]["via"] == "default"
    assert (delivery["category"], delivery["contact_id"]) == ("invoice", "contact-7")
    [message] = relay_messages(recipient)
    assert message["headers"]["From"] == "Ann Admin <noreply@platform.test>"
    assert message["headers"]["Reply-To"] == clinic.admin_email  # replies are not lost
    assert message["headers"]["Message-ID"] == delivery["message_id"]
    assert 'filename="invoice.pdf"' in message["raw"]
    assert "multipart/alternative" in message["raw"]


def test_the_same_key_sends_once_and_another_payload_conflicts(clinic, recipient):
    key = str(uuid.uuid4())
    first = send(clinic, email(recipient), key)
    again = send(clinic, email(recipient), key)
    assert again.status_code == 200
    assert again.json()["delivery"]["id"] == first.json()["delivery"]["id"]
    assert len(relay_messages(recipient)) == 1
    other = send(clinic, email(recipient, subject="Another"), key)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_conflict")
    assert len(relay_messages(recipient)) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": "Invoice\r\nBcc: victim@evil.test"}, "subject"),
        ({"subject": "=?utf-8?q?hi=0D=0ABcc:_x@evil.test?="}, "subject"),
        ({"to": ["bob@example.com\nBcc: x@evil.test"]}, "to.0"),
        ({"cc": ["=?utf-8?q?x?= <x@example.com>"]}, "cc.0"),
        (
            {"attachments": [{"filename": "a\r\nb.pdf", "content": "QQ=="}]},
            "attachments.0.filename",
        ),
    ],
)
def test_header_injection_is_refused_and_never_reaches_a_server(clinic, recipient, change, field):
    response = send(clinic, email(recipient, **change))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field
    time.sleep(0.2)
    assert relay_messages(recipient) == []
    assert relay_messages("victim@evil.test") == []
    assert all("evil.test" not in r for m in relay_messages(recipient) for r in m["rcpt_to"])


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"to": [f"r{i}@example.com" for i in range(101)]}, 400, ""),
        ({"text": None, "html": None}, 400, ""),
        ({"to": ["not an address"]}, 400, "to.0"),
        ({"attachments": [{"filename": "a.pdf", "content": "not base64!"}]}, 400, "attachments"),
        ({"mode": "later"}, 400, "mode"),
        ({"category": "Has Spaces"}, 400, "category"),
        (
            {
                "attachments": [
                    {
                        "filename": "big.bin",
                        "content": base64.b64encode(b"x" * (10 * 1024 * 1024 + 1)).decode(),
                    }
                ]
            },
            413,
            "attachments",
        ),
    ],
)
def test_bad_requests(clinic, recipient, change, status, field):
    response = send(clinic, email(recipient, **change))
    assert response.status_code == status, response.text
    if field:
        assert response.json()["error"]["field"] == field
    assert relay_messages(recipient) == []


def test_members_may_be_kept_from_sending(clinic, recipient):
    call("PATCH", "settings", bearer=clinic.admin, body={"members_may_send": False})
    refused = send(clinic, email(recipient), bearer=clinic.member)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_allowed")


def test_an_active_smtp_mailbox_sends_and_keeps_a_copy_in_sent(clinic, recipient):
    call("PATCH", "settings", bearer=clinic.admin, body={"integrations": {"smtp_imap": True}})
    save(clinic, settings_body())
    run_test(clinic)
    code = re.search(
        r"confirmation code is (\d{6})", sink_for(clinic.admin_email, "SMTP Test")[-1]["raw"]
    ).group(1)
    call(
        "POST",
        "test_connection/confirm",
        bearer=clinic.admin,
        body={"mailbox": "tenant", "code": code},
    )
    response = send(clinic, email(recipient, bcc=["audit@example.com"]))
    assert response.status_code == 200, response.text
    delivery = response.json()["delivery"]
    assert delivery["route"]["via"] == "mailbox"
    assert "delivery is reported by your email provider" in delivery["delivery_note"]
    [message] = sink_for(recipient, "Your invoice")
    assert message["headers"]["From"] == f"Riverside Reception <{os.environ['MAIL_DEMO_USER']}>"
    assert "Bcc" not in message["headers"]
    assert sink_for("audit@example.com", "Your invoice")  # Bcc went by the envelope


def test_a_gmail_mailbox_sends_through_the_gmail_api(clinic, recipient):
    account = clinic.google("sender")
    connect(clinic, account)
    response = send(clinic, email(recipient))
    assert response.status_code == 200, response.text
    sent = fake(f"/_fake/accounts/{account}/sent").json()["messages"]
    assert [m["subject"] for m in sent] == ["Your invoice"]
    assert response.json()["delivery"]["provider_message_id"] == sent[0]["id"]


def test_a_revoked_gmail_token_breaks_the_mailbox_and_fails_the_send(clinic, recipient):
    account = clinic.google("revoked")
    connect(clinic, account)
    fake(f"/_fake/accounts/{account}:revoke", "POST")
    failed = send(clinic, email(recipient))
    assert failed.status_code == 422
    error = failed.json()["error"]
    assert error["code"] == "mailbox_broken"
    assert error["message"].startswith("Failed to send email:")
    assert "re-authoriz" in error["hint"].lower()
    assert error["delivery_id"]
    assert settings_of(clinic.admin)["mailboxes"]["tenant"]["state"] == "broken"
    assert send(clinic, email(recipient)).json()["error"]["code"] == "mailbox_broken"
    notices = call("GET", "activity", "/notifications", bearer=clinic.admin).json()
    assert [n["kind"] for n in notices["notifications"]] == ["mailbox_broken"]  # one only
    assert relay_messages(recipient) == []


def test_or_falls_back_to_the_platform_sender_when_the_tenant_chose_so(clinic, recipient):
    call("PATCH", "settings", bearer=clinic.admin, body={"on_broken": "default"})
    account = clinic.google("fallback")
    connect(clinic, account)
    fake(f"/_fake/accounts/{account}:revoke", "POST")
    response = send(clinic, email(recipient))
    assert response.status_code == 200, response.text
    assert response.json()["delivery"]["route"]["reason"] == "mailbox_broken_fallback"
    assert len(relay_messages(recipient)) == 1
    assert settings_of(clinic.admin)["mailboxes"]["tenant"]["state"] == "broken"


def test_a_gmail_daily_limit_is_a_quota_error_not_a_broken_mailbox(clinic, recipient):
    account = clinic.google("limited")
    connect(clinic, account)
    fake(f"/_fake/accounts/{account}:limits", "POST", json={"daily_limit": 0})
    response = send(clinic, email(recipient))
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rateLimitExceeded"
    assert settings_of(clinic.admin)["mailboxes"]["tenant"]["state"] == "active"
