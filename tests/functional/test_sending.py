"""`send` and `deliver` in process: the route each email takes, idempotency, suppression, broken
and throttled mailboxes, the batch, cancelling, and what a queued email's outcome records."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sendvia.domain import provider_events as pe
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.services import deliver

from tests.fakes import NOW, Fakes
from tests.functional.conftest import OTHER, TENANT, Client, gmail_mailbox, smtp_mailbox, switch_on


def email(to: str = "pat@example.com", **changes: Any) -> dict[str, Any]:
    return {"to": [to], "subject": "Your invoice", "text": "Attached.", **changes}


def send(client: Client, token: str, body: dict[str, Any], key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.call("POST", "send", token=token, body=body, headers=headers)


def test_without_a_mailbox_the_platform_relay_sends_with_reply_to(client, fakes: Fakes, admin):
    answer = send(client, admin, email())
    assert answer.status_code == 200, answer.json
    delivery = answer.json["delivery"]
    assert (delivery["state"], delivery["route"]["via"]) == ("sent", "default")
    [(message, recipients, tenant, delivery_id)] = fakes.relay.sent
    assert (recipients, tenant, delivery_id) == (("pat@example.com",), TENANT, delivery["id"])
    assert message["Reply-To"] == "ann@clinic.test"
    assert message["From"] == "Ann <noreply@platform.test>"


def test_an_active_mailbox_sends_through_its_own_provider_only(client, fakes: Fakes, admin):
    switch_on(client, admin, smtp_imap=True)
    smtp_mailbox(fakes)
    answer = send(client, admin, email(bcc=["audit@example.com"]))
    assert answer.status_code == 200, answer.json
    assert answer.json["delivery"]["route"]["via"] == "mailbox"
    [(address, message, recipients)] = fakes.smtp.received.sent
    assert address == f"desk@{TENANT}.test"
    assert recipients == ("pat@example.com", "audit@example.com")
    assert "Bcc" not in message
    assert fakes.gmail.received.sent == fakes.relay.sent == []


def test_the_same_key_sends_once_and_another_email_conflicts(client, fakes: Fakes, admin):
    first = send(client, admin, email(), key="k-1")
    again = send(client, admin, email(), key="k-1")
    assert again.status_code == 200
    assert again.json["delivery"]["id"] == first.json["delivery"]["id"]
    other = send(client, admin, email(subject="Another"), key="k-1")
    assert (other.status_code, other.json["error"]["code"]) == (409, "idempotency_conflict")
    assert len(fakes.relay.sent) == 1


def test_a_key_of_another_tenant_is_another_email(client, fakes: Fakes, admin):
    send(client, admin, email(), key="shared-key")
    theirs = send(client, fakes.token(OTHER, "olga"), email(subject="Theirs"), key="shared-key")
    assert theirs.status_code == 200, theirs.json
    assert len(fakes.relay.sent) == 2


def test_a_suppressed_recipient_is_refused_before_anything_is_sent(client, fakes: Fakes, admin):
    fakes.recipients.recipients[(TENANT, "pat@example.com")] = pe.Recipient(
        "pat@example.com", pe.Status.HARD_BOUNCED, status_since=NOW, status_reason="550 no user"
    )
    answer = send(client, admin, email())
    assert answer.status_code == 422
    assert answer.json["error"]["delivery_id"]
    assert fakes.relay.sent == []


def test_a_refused_password_breaks_the_mailbox_and_fails_with_the_providers_hint(
    client, fakes: Fakes, admin
):
    switch_on(client, admin, smtp_imap=True)
    smtp_mailbox(fakes)
    fakes.smtp.fail_with = ProviderFailure(FailureKind.AUTH, "wrong_password", "535 no")
    answer = send(client, admin, email())
    assert answer.status_code == 422
    error = answer.json["error"]
    assert (error["code"], error["hint"]) == ("mailbox_broken", "smtp hint for auth")
    assert fakes.mailboxes.get(TENANT, "tenant").state.value == "broken"
    again = send(client, admin, email())
    assert again.json["error"]["code"] == "mailbox_broken"
    assert len(fakes.notifications.of(TENANT)) == 1  # the admins are told once
    assert fakes.relay.sent == []


def test_or_the_platform_sends_it_when_the_tenant_chose_so(client, fakes: Fakes, admin):
    client.call("PATCH", "settings", token=admin, body={"on_broken": "default"})
    switch_on(client, admin, gmail=True)
    gmail_mailbox(fakes)
    fakes.gmail.fail_with = ProviderFailure(FailureKind.AUTH, "token_revoked", "invalid_grant")
    answer = send(client, admin, email())
    assert answer.status_code == 200, answer.json
    assert answer.json["delivery"]["route"]["reason"] == "mailbox_broken_fallback"
    assert len(fakes.relay.sent) == 1


def test_a_providers_limit_is_a_429_and_the_mailbox_waits(client, fakes: Fakes, admin):
    switch_on(client, admin, gmail=True)
    gmail_mailbox(fakes)
    fakes.gmail.fail_with = ProviderFailure(
        FailureKind.QUOTA, "rateLimitExceeded", "limit", retry_after_s=120
    )
    answer = send(client, admin, email())
    assert (answer.status_code, answer.json["error"]["code"]) == (429, "rateLimitExceeded")
    waiting = fakes.mailboxes.get(TENANT, "tenant")
    assert waiting.throttled_until == NOW + dt.timedelta(seconds=120)
    assert waiting.state.value == "active"
    fakes.gmail.fail_with = None
    asked = len(fakes.gmail.received.credentials)
    assert send(client, admin, email()).status_code == 429  # not asked again meanwhile
    assert len(fakes.gmail.received.credentials) == asked


def test_credentials_the_provider_rotates_while_sending_replace_the_stored_ones(
    client, fakes: Fakes, admin
):
    switch_on(client, admin, gmail=True)
    old = gmail_mailbox(fakes)
    fakes.gmail.rotate_to = b"1//rotated"
    assert send(client, admin, email()).status_code == 200
    mailbox = fakes.mailboxes.get(TENANT, "tenant")
    assert fakes.secrets.access(mailbox.secret_version) == b"1//rotated"
    assert fakes.secrets.live() == [b"1//rotated"]  # the old token does not linger
    assert send(client, admin, email()).status_code == 200
    assert fakes.gmail.received.credentials == [old, "1//rotated"]


def test_members_may_be_kept_from_sending(client, fakes: Fakes, admin, member):
    client.call("PATCH", "settings", token=admin, body={"members_may_send": False})
    answer = send(client, member, email())
    assert (answer.status_code, answer.json["error"]["code"]) == (403, "not_allowed")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": "Invoice\r\nBcc: victim@evil.test"}, "subject"),
        ({"to": ["not an address"]}, "to.0"),
        ({"mode": "later"}, "mode"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, fakes: Fakes, admin, change, field):
    answer = send(client, admin, email(**change))
    assert (answer.status_code, answer.json["error"]["field"]) == (400, field)
    assert fakes.relay.sent == []


# -- queued, scheduled, batch, cancel, deliver -------------------------------------------------


def queued(client: Client, token: str, **changes: Any) -> dict[str, Any]:
    answer = send(client, token, email(mode="queue", category="appointment_reminder", **changes))
    assert answer.status_code == 202, answer.json
    delivery: dict[str, Any] = answer.json["delivery"]
    return delivery


def test_a_queued_email_is_delivered_once(client, fakes: Fakes, admin):
    delivery = queued(client, admin)
    assert (TENANT, delivery["id"], 0) in fakes.queue.tasks
    assert deliver.deliver(fakes.runtime, TENANT, delivery["id"]) == (200, {"outcome": "sent"})
    assert deliver.deliver(fakes.runtime, TENANT, delivery["id"]) == (200, {"outcome": "done"})
    assert len(fakes.relay.sent) == 1
    stored = fakes.deliveries.of(TENANT, delivery["id"])
    assert (stored["state"], stored["content"], stored["lease_until"]) == ("sent", None, None)


def test_a_transient_failure_is_retried_and_a_permanent_one_fails_once(client, fakes: Fakes, admin):
    delivery = queued(client, admin)
    fakes.relay.fail_with = ProviderFailure(FailureKind.TRANSIENT, "timeout", "no answer")
    status, body = deliver.deliver(fakes.runtime, TENANT, delivery["id"])
    assert (status, body["outcome"]) == (503, "retry")
    assert fakes.deliveries.of(TENANT, delivery["id"])["state"] == "queued"
    fakes.relay.fail_with = ProviderFailure(FailureKind.PERMANENT, "rejected", "550 no")
    status, body = deliver.deliver(fakes.runtime, TENANT, delivery["id"])
    assert (status, body["outcome"]) == (200, "failed")
    stored = fakes.deliveries.of(TENANT, delivery["id"])
    assert stored["state"] == "failed"
    assert [a["outcome"] for a in stored["attempts_log"]] == ["failed", "failed"]
    assert [n["kind"] for n in fakes.notifications.of(TENANT)] == ["send_failed"]


def test_a_limit_defers_a_queued_email_to_a_new_task(client, fakes: Fakes, admin):
    switch_on(client, admin, gmail=True)
    gmail_mailbox(fakes)
    delivery = queued(client, admin)
    fakes.gmail.fail_with = ProviderFailure(
        FailureKind.QUOTA, "dailyLimitExceeded", "limit", retry_after_s=600
    )
    status, body = deliver.deliver(fakes.runtime, TENANT, delivery["id"])
    assert (status, body["outcome"]) == (200, "deferred")
    until = NOW + dt.timedelta(seconds=600)
    assert fakes.queue.tasks[(TENANT, delivery["id"], 1)] == until
    assert fakes.deliveries.of(TENANT, delivery["id"])["state"] == "queued"


def test_a_recipient_suppressed_since_it_was_queued_stops_it(client, fakes: Fakes, admin):
    delivery = queued(client, admin)
    fakes.recipients.recipients[(TENANT, "pat@example.com")] = pe.Recipient(
        "pat@example.com", pe.Status.COMPLAINED, status_since=NOW, status_reason="spam"
    )
    assert deliver.deliver(fakes.runtime, TENANT, delivery["id"]) == (
        200,
        {"outcome": "suppressed"},
    )
    assert fakes.relay.sent == []
    assert [n["kind"] for n in fakes.notifications.of(TENANT)] == ["send_suppressed"]


def test_a_scheduled_email_can_be_cancelled_until_it_is_sent(client, fakes: Fakes, admin, member):
    at = (NOW + dt.timedelta(days=2)).isoformat()
    delivery = queued(client, admin, send_at=at)
    assert delivery["state"] == "scheduled"
    assert fakes.queue.tasks == {}  # `reminders` gives it a task when it is due
    path = f"/{delivery['id']}:cancel"
    assert client.call("POST", "send", path, token=member).status_code == 404  # not theirs
    cancelled = client.call("POST", "send", path, token=admin)
    assert cancelled.json["delivery"]["state"] == "cancelled"
    again = client.call("POST", "send", path, token=admin)
    assert (again.status_code, again.json["error"]["code"]) == (409, "too_late")


def test_a_batch_answers_each_message_in_order(client, fakes: Fakes, admin):
    body = {"messages": [email(), email(to="bad address"), email(to="sam@example.com")]}
    answer = client.call("POST", "send", "/batch", token=admin, body=body)
    assert answer.status_code == 202
    first, bad, third = answer.json["results"]
    assert first["delivery"]["state"] == third["delivery"]["state"] == "queued"
    assert bad["error"]["field"] == "messages.1.to.0"
    assert len(fakes.queue.tasks) == 2


def test_a_display_name_with_line_breaks_in_the_token_still_sends(client, fakes: Fakes):
    from sendvia.adapters.firebase_identity import principal_from_claims

    principal = principal_from_claims(
        {"tenant_id": TENANT, "uid": "eve", "role": "admin", "name": "Eve\r\nBcc: x@evil.test"}
    )
    token = fakes.identity.token(principal)
    answer = send(client, token, email())
    assert answer.status_code == 200, answer.json
    [(message, recipients, _, _)] = fakes.relay.sent
    assert recipients == ("pat@example.com",)
    assert "\n" not in str(message["From"])
