"""Triggered emails: `send` (mode queue) → a named Cloud Task → `deliver` → the provider.
Every email is sent once, or fails once with a reason; nothing is lost."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from google.cloud import firestore, tasks_v2

from emulators.mail.misbehaving import Behaviour, scripted_server
from tests.integration.api import call
from tests.integration.clinic import Clinic, connect, settings_of
from tests.integration.google_flow import fake
from tests.integration.helpers import (
    QUEUE,
    deliver_task,
    delivery,
    delivery_task_id,
    email,
    eventually,
    queue_idle,
    queued,
    relay_messages,
    send,
    smtp_mailbox_at,
    state_is,
)


def extra_task(tasks: tasks_v2.CloudTasksClient, clinic: Clinic, delivery_id: str) -> None:
    """What an at-least-once dispatch looks like from `deliver`: the same body again."""
    deliver_task(tasks, {"tenant_id": clinic.tenant, "delivery_id": delivery_id})


def test_a_triggered_email_goes_once_even_when_dispatched_again(clinic, recipient, tasks, project):
    delivery_id = queued(clinic, recipient)
    eventually(state_is(project, clinic, delivery_id, "sent"))
    for _ in range(3):
        extra_task(tasks, clinic, delivery_id)
    eventually(lambda: queue_idle(tasks))
    assert len(relay_messages(recipient)) == 1
    stored = delivery(project, clinic, delivery_id)
    assert stored["attempts"] == 1
    assert stored["content"] is None  # the content is not kept once sent
    assert stored["message_id"] == relay_messages(recipient)[0]["headers"]["Message-ID"]


def test_racing_deliveries_send_once(clinic, recipient, tasks, project):
    tasks.pause_queue(name=QUEUE)
    try:
        delivery_id = queued(clinic, recipient)
        for _ in range(5):
            extra_task(tasks, clinic, delivery_id)
    finally:
        tasks.resume_queue(name=QUEUE)  # six dispatches of one delivery at once
    eventually(state_is(project, clinic, delivery_id, "sent"))
    eventually(lambda: queue_idle(tasks))
    assert len(relay_messages(recipient)) == 1


def test_a_retried_send_with_the_same_key_queues_once(clinic, recipient, tasks, project):
    key = str(uuid.uuid4())
    first = queued(clinic, recipient, key)
    again = send(
        clinic, email(recipient, mode="queue", category="appointment_reminder", attachments=[]), key
    )
    assert again.status_code == 202
    assert again.json()["delivery"]["id"] == first
    eventually(state_is(project, clinic, first, "sent"))
    eventually(lambda: queue_idle(tasks))
    assert len(relay_messages(recipient)) == 1


# A server that offers PIPELINING (Gmail, Microsoft 365, Dovecot) gets MAIL, RCPT and DATA in
# one write; one that does not, each after the last was answered. Refusals read the same.
PIPELINING = pytest.mark.parametrize(
    "pipelining", [False, True], ids=["command by command", "pipelined"]
)


@PIPELINING
def test_a_temporary_451_is_retried_and_then_sent(clinic, recipient, certs, project, pipelining):
    with scripted_server(Behaviour.TEMPORARY_ONCE, certs, pipelining=pipelining) as server:
        smtp_mailbox_at(clinic, project, server.port)
        delivery_id = queued(clinic, recipient)
        eventually(state_is(project, clinic, delivery_id, "sent"))
        assert server.mail_commands == 2  # the 451, then the accepted retry
        assert len(server.received) == 1
        assert server.pipelined == (2 if pipelining else 0)
    stored = delivery(project, clinic, delivery_id)
    assert stored["attempts"] == 2
    assert stored["last_error"]["code"] == "temporary_failure"


@PIPELINING
def test_a_permanent_550_fails_once_without_retries(
    clinic, recipient, certs, project, tasks, pipelining
):
    with scripted_server(Behaviour.REJECT_RECIPIENT, certs, pipelining=pipelining) as server:
        smtp_mailbox_at(clinic, project, server.port)
        delivery_id = queued(clinic, recipient)
        other_id = queued(clinic, f"other-{recipient}")
        eventually(state_is(project, clinic, delivery_id, "failed"))
        eventually(state_is(project, clinic, other_id, "failed"))
        eventually(lambda: queue_idle(tasks))
        time.sleep(1.5)  # a retry would have come by now (backoff 0.5 s)
        assert server.mail_commands == 2
    stored = delivery(project, clinic, delivery_id)
    assert (stored["error"]["class"], stored["error"]["code"]) == ("permanent", "rejected")
    assert "550 5.1.1" in stored["error"]["message"]
    notices = call("GET", "activity", "/notifications", bearer=clinic.admin).json()
    told = sorted(n["delivery_id"] for n in notices["notifications"] if n["kind"] == "send_failed")
    assert told == sorted([delivery_id, other_id])  # each email's failure told, once


@PIPELINING
def test_an_email_with_one_unknown_recipient_reaches_no_one(
    clinic, recipient, certs, project, pipelining
):
    """Sending to the recipients the server took would deliver part of an email: it fails
    whole. Pipelined, the server has already said 354 and waits for the data; none is sent."""
    with scripted_server(Behaviour.REJECT_SOME_RECIPIENTS, certs, pipelining=pipelining) as server:
        smtp_mailbox_at(clinic, project, server.port)
        refused = queued(clinic, recipient, to=[recipient, f"unknown-{recipient}"])
        eventually(state_is(project, clinic, refused, "failed"))
        fine = queued(clinic, recipient)  # the next email goes, on a connection of its own
        eventually(state_is(project, clinic, fine, "sent"))
        assert [b"unknown" not in message for message in server.received] == [True]
        assert server.pipelined == (2 if pipelining else 0)
    stored = delivery(project, clinic, refused)
    assert (stored["error"]["class"], stored["error"]["code"]) == ("permanent", "rejected")
    assert "550 5.1.1" in stored["error"]["message"]


@PIPELINING
def test_a_refusal_followed_by_a_hang_up_is_still_a_refusal(
    clinic, recipient, certs, project, tasks, pipelining
):
    """A server may close the connection after refusing a recipient (Postfix after too many
    errors): what it said is the answer, not a dropped connection to try again."""
    with scripted_server(Behaviour.REJECT_AND_HANG_UP, certs, pipelining=pipelining) as server:
        smtp_mailbox_at(clinic, project, server.port)
        refused = queued(clinic, recipient, to=[f"unknown-{recipient}", recipient])
        eventually(state_is(project, clinic, refused, "failed"))
        eventually(lambda: queue_idle(tasks))
        assert server.received == []
        assert server.mail_commands == 1  # not tried again
    stored = delivery(project, clinic, refused)
    assert (stored["error"]["class"], stored["error"]["code"]) == ("permanent", "rejected")


def test_a_revoked_gmail_token_breaks_the_mailbox_and_fails_the_email(clinic, recipient, project):
    account = clinic.google("queued-revoked")
    connect(clinic, account)
    fake(f"/_fake/accounts/{account}:revoke", "POST")
    delivery_id = queued(clinic, recipient)
    eventually(state_is(project, clinic, delivery_id, "failed"))
    assert delivery(project, clinic, delivery_id)["error"]["code"] == "mailbox_broken"
    assert settings_of(clinic.admin)["mailboxes"]["tenant"]["state"] == "broken"
    assert relay_messages(recipient) == []


def test_a_gmail_daily_limit_defers_instead_of_failing(clinic, recipient, project, tasks):
    account = clinic.google("queued-limited")
    connect(clinic, account)
    fake(f"/_fake/accounts/{account}:limits", "POST", json={"daily_limit": 0})
    delivery_id = queued(clinic, recipient)
    stored = eventually(lambda: (d := delivery(project, clinic, delivery_id)).get("send_at") and d)
    assert stored["state"] == "queued"
    assert stored["last_error"]["class"] == "quota"
    mailbox = (
        firestore.Client(project=project)
        .document(f"tenants/{clinic.tenant}/mailboxes/tenant")
        .get()
        .to_dict()
    )
    assert mailbox["throttled_until"] > stored["created_at"]
    waiting = [
        t
        for t in tasks.list_tasks(parent=QUEUE)
        if t.schedule_time.timestamp() > time.time() + 3600
    ]
    assert waiting  # a new task for when Gmail's limit resets
    for task in waiting:
        tasks.delete_task(name=task.name)


def test_a_throttled_mailbox_waits_without_asking_gmail_again(clinic, project, tasks):
    account = clinic.google("queued-throttled")
    connect(clinic, account)
    fake(f"/_fake/accounts/{account}:limits", "POST", json={"daily_limit": 0})
    codes = []
    for _ in range(2):  # one after the other: the second finds the mailbox waiting
        delivery_id = queued(clinic, f"pat-{uuid.uuid4().hex[:8]}@example.com")
        eventually(lambda d=delivery_id: delivery(project, clinic, d).get("send_at"))
        codes.append(delivery(project, clinic, delivery_id)["last_error"]["code"])
    assert codes == ["rateLimitExceeded", "mailbox_throttled"]  # Gmail was asked once
    for task in tasks.list_tasks(parent=QUEUE):
        if task.schedule_time.timestamp() > time.time() + 3600:
            tasks.delete_task(name=task.name)


def test_a_limit_reached_goes_by_the_platform_sender_when_the_tenant_chose_so(
    clinic, recipient, project
):
    account = clinic.google("queued-limit-fallback")
    connect(clinic, account)
    call("PATCH", "settings", bearer=clinic.admin, body={"on_broken": "default"})
    fake(f"/_fake/accounts/{account}:limits", "POST", json={"daily_limit": 0})
    delivery_id = queued(clinic, recipient)
    eventually(state_is(project, clinic, delivery_id, "sent"))
    route = delivery(project, clinic, delivery_id)["route"]
    assert (route["via"], route["reason"]) == ("default", "mailbox_throttled_fallback")
    assert len(relay_messages(recipient)) == 1


def test_header_injection_in_a_triggered_email_is_refused_before_queueing(clinic, recipient, tasks):
    response = send(
        clinic, email(recipient, mode="queue", subject="Reminder\r\nBcc: victim@evil.test")
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "subject"
    assert queue_idle(tasks)


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic x"])
def test_deliver_refuses_callers_without_a_task_token(authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = call("POST", "deliver", body={"tenant_id": "t", "delivery_id": "d"}, headers=headers)
    assert response.status_code == 401


def test_the_delivery_log_by_contact_state_and_category(clinic, recipient, project):
    sent = send(clinic, email(recipient, contact_id="contact-42")).json()["delivery"]["id"]
    triggered = queued(clinic, recipient, contact_id="contact-42")
    eventually(state_is(project, clinic, triggered, "sent"))
    send(clinic, email(recipient, contact_id="contact-99"))

    def listed(query: str, bearer: str | None = None) -> list[str]:
        response = call("GET", "activity", f"/deliveries{query}", bearer=bearer or clinic.admin)
        assert response.status_code == 200, response.text
        return [d["id"] for d in response.json()["deliveries"]]

    assert listed("?contact_id=contact-42") == [triggered, sent]  # newest first
    assert triggered in listed("?category=appointment_reminder")
    assert sent not in listed("?category=appointment_reminder")
    assert set(listed("?state=sent")) >= {sent, triggered}
    first = call("GET", "activity", "/deliveries?page_size=1", bearer=clinic.admin).json()
    second = call(
        "GET",
        "activity",
        f"/deliveries?page_size=1&page_token={first['next_page_token']}",
        bearer=clinic.admin,
    ).json()
    assert first["deliveries"][0]["id"] != second["deliveries"][0]["id"]
    assert listed("", bearer=clinic.member) == []  # members see what they sent
    one = call("GET", "activity", f"/deliveries/{triggered}", bearer=clinic.admin).json()
    assert [a["outcome"] for a in one["attempts_log"]] == ["sent"]
    assert (
        call("GET", "activity", f"/deliveries/{triggered}", bearer=clinic.member).status_code == 404
    )
    assert (
        call("GET", "activity", "/deliveries?page_size=0", bearer=clinic.admin).status_code == 400
    )


def scheduled(clinic: Clinic, address: str, at: dt.datetime) -> str:
    response = send(
        clinic,
        email(address, category="appointment_reminder", attachments=[], send_at=at.isoformat()),
        str(uuid.uuid4()),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["delivery"]["id"])


def test_scheduled_reminders_are_enqueued_once_by_the_batch(clinic, recipient, project, tasks):
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    due = [scheduled(clinic, recipient, soon) for _ in range(3)]
    waiting = scheduled(clinic, recipient, later)
    first = call("POST", "reminders", body={}).json()
    second = call("POST", "reminders", body={}).json()
    # Due within the horizon: queued at send time, so the batches find the names taken.
    assert first["enqueued"] == second["enqueued"] == 0
    assert first["already_queued"] >= 3
    names = {t.name.rsplit("/", 1)[1] for t in tasks.list_tasks(parent=QUEUE)}
    for delivery_id in due:
        assert any(delivery_task_id(clinic, delivery_id) == n for n in names)
    assert delivery(project, clinic, waiting)["state"] == "scheduled"
    for delivery_id in due:  # tidy the queue: they are minutes away
        call("POST", "send", f"/{delivery_id}:cancel", bearer=clinic.admin)
    for task in tasks.list_tasks(parent=QUEUE):
        tasks.delete_task(name=task.name)


def test_the_batch_enqueues_what_became_due(clinic, recipient, project, tasks):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    delivery_id = scheduled(clinic, recipient, later)
    # Time passes: make it due in 1 s (as if two days went by).
    firestore.Client(project=project).document(
        f"tenants/{clinic.tenant}/deliveries/{delivery_id}"
    ).update({"send_at": dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)})
    first = call("POST", "reminders", body={}).json()
    assert first["enqueued"] >= 1
    assert call("POST", "reminders", body={}).json()["enqueued"] == 0  # no duplicates
    eventually(state_is(project, clinic, delivery_id, "sent"))
    assert len(relay_messages(recipient)) == 1


def test_a_scheduled_email_can_be_cancelled_until_it_is_sent(clinic, recipient, project):
    delivery_id = scheduled(clinic, recipient, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    response = call("POST", "send", f"/{delivery_id}:cancel", bearer=clinic.admin)
    assert response.status_code == 200
    assert response.json()["delivery"]["state"] == "cancelled"
    again = call("POST", "send", f"/{delivery_id}:cancel", bearer=clinic.admin)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "too_late")
    assert call("POST", "send", "/no-such-delivery:cancel", bearer=clinic.admin).status_code == 404
    assert call("POST", "send", f"/{delivery_id}:cancel", bearer=clinic.member).status_code == 404


def test_a_batch_queues_each_message_and_reports_errors_in_order(clinic, project, tasks):
    addresses = [f"batch-{uuid.uuid4().hex[:8]}@example.com" for _ in range(3)]
    messages = [email(a, attachments=[], category="appointment_reminder") for a in addresses]
    messages.insert(1, email("x@example.com", subject="Bad\r\nBcc: evil@evil.test"))
    key = str(uuid.uuid4())

    def post_batch():
        return call(
            "POST",
            "send",
            "/batch",
            bearer=clinic.admin,
            body={"messages": messages},
            headers={"Idempotency-Key": key},
        )

    response = post_batch()
    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert [("delivery" in r) for r in results] == [True, False, True, True]
    assert results[1]["error"]["field"] == "messages.1.subject"
    again = post_batch().json()["results"]
    assert [r.get("delivery", {}).get("id") for r in again] == [
        r.get("delivery", {}).get("id") for r in results
    ]
    for address in addresses:
        eventually(lambda a=address: len(relay_messages(a)) == 1)
    eventually(lambda: queue_idle(tasks))
    assert all(len(relay_messages(a)) == 1 for a in addresses)  # a retried batch: once each


@pytest.mark.parametrize(
    "body", [{"messages": []}, {"messages": "x"}, {}, {"messages": [{}] * 501}]
)
def test_bad_batches(clinic, body):
    response = call("POST", "send", "/batch", bearer=clinic.admin, body=body)
    assert (response.status_code, response.json()["error"]["field"]) == (400, "messages")


def test_smtp_connections_are_reused_between_emails(clinic, recipient, certs, project):
    with scripted_server(Behaviour.WELL_BEHAVED, certs) as server:
        smtp_mailbox_at(clinic, project, server.port)
        for _ in range(3):
            response = send(clinic, email(recipient, attachments=[]))
            assert response.status_code == 200, response.text
        assert (server.mail_commands, len(server.received)) == (3, 3)
        assert server.connections == 1


def test_a_mailbox_mended_elsewhere_is_used_though_this_instance_remembers_it_broken(
    clinic, recipient, certs, project
):
    """`deliver` keeps a tenant's settings and mailboxes for a while; a route that fails on its
    credentials is read again before the email's fate is decided."""
    mailbox = firestore.Client(project=project).document(
        f"tenants/{clinic.tenant}/mailboxes/tenant"
    )
    with scripted_server(Behaviour.WELL_BEHAVED, certs) as server:
        smtp_mailbox_at(clinic, project, server.port)
        mailbox.update({"state": "broken"})  # as another instance would: this one is not told
        first = queued(clinic, recipient)
        later = scheduled(clinic, recipient, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=4))
        eventually(state_is(project, clinic, first, "failed"))  # and the broken route cached
        mailbox.update({"state": "active"})  # re-authorized elsewhere
        eventually(state_is(project, clinic, later, "sent"))
        assert len(server.received) == 1
    assert delivery(project, clinic, later)["route"]["via"] == "mailbox"


def test_old_credentials_failing_do_not_break_a_reconnected_mailbox(clinic, project):
    from sendvia.adapters.firestore.mailboxes import FirestoreMailboxes

    db = firestore.Client(project=project)
    ref = db.document(f"tenants/{clinic.tenant}/mailboxes/tenant")
    ref.set({"state": "active", "address": "front@riverside.example", "secret_version": "v2"})
    mailboxes = FirestoreMailboxes(db)
    now = dt.datetime.now(dt.UTC)
    error = {"code": "wrong_password", "message": "535"}
    notice = {"kind": "mailbox_broken", "audience": "admins"}
    assert not mailboxes.mark_broken(clinic.tenant, "tenant", error, notice, now, credentials="v1")
    assert (ref.get().to_dict() or {})["state"] == "active"
    assert mailboxes.mark_broken(clinic.tenant, "tenant", error, notice, now, credentials="v2")
    assert (ref.get().to_dict() or {})["state"] == "broken"


def test_a_burst_of_gmail_emails_is_sent_once_each(clinic, project):
    """Many `deliver` calls at once on one instance share the mailbox's Gmail client: each send
    gets a connection of its own, and the token is refreshed once."""
    account = clinic.google("queued-burst")
    connect(clinic, account)
    messages = [
        email(f"burst-{i}-{uuid.uuid4().hex[:6]}@example.com", attachments=[]) for i in range(60)
    ]
    response = call("POST", "send", "/batch", bearer=clinic.admin, body={"messages": messages})
    ids = [r["delivery"]["id"] for r in response.json()["results"]]
    for delivery_id in ids:
        eventually(state_is(project, clinic, delivery_id, "sent"), timeout=60)
    assert len(fake(f"/_fake/accounts/{account}/sent").json()["messages"]) == 60
