"""Idempotency keys belong to their caller and live 24 hours; a retry mends what its first
request left undone (security review M7, H4.1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import Fakes
from tests.functional.conftest import TENANT, Client


def email(**changes: Any) -> dict[str, Any]:
    return {"to": ["pat@example.com"], "subject": "Invoice 123", "text": "Attached.", **changes}


def send(client: Client, token: str, key: str, body: dict[str, Any] | None = None):
    headers = {"Idempotency-Key": key}
    return client.call("POST", "send", token=token, body=body or email(), headers=headers)


def test_two_users_of_a_tenant_may_use_the_same_key(client, fakes: Fakes, admin, member):
    mine = send(client, admin, "invoice-123")
    theirs = send(client, member, "invoice-123", email(subject="Their invoice"))
    assert (mine.status_code, theirs.status_code) == (200, 200), theirs.json
    assert mine.json["delivery"]["id"] != theirs.json["delivery"]["id"]
    assert len(fakes.relay.sent) == 2


def test_a_key_names_one_email_for_24_hours_then_a_new_one(client, fakes: Fakes, admin):
    first = send(client, admin, "k").json["delivery"]["id"]
    fakes.clock.advance(hours=23)
    assert send(client, admin, "k").json["delivery"]["id"] == first
    assert len(fakes.relay.sent) == 1
    fakes.clock.advance(hours=2)
    later = send(client, admin, "k", email(subject="Next month's invoice"))
    assert later.status_code == 200, later.json
    assert later.json["delivery"]["id"] != first
    again = send(client, admin, "k", email(subject="Next month's invoice"))
    assert again.json["delivery"]["id"] == later.json["delivery"]["id"]  # retries find it
    assert len(fakes.relay.sent) == 2


def test_a_batch_key_and_a_single_send_key_do_not_collide(client, fakes: Fakes, admin):
    batch = client.call(
        "POST",
        "send",
        "/batch",
        token=admin,
        body={"messages": [email()]},
        headers={"Idempotency-Key": "K"},
    )
    single = send(client, admin, "K:0", email(subject="Another"))
    assert single.status_code == 200, single.json
    assert single.json["delivery"]["id"] != batch.json["results"][0]["delivery"]["id"]


@pytest.mark.parametrize("batch", [False, True])
def test_a_retry_creates_the_task_its_first_request_could_not(client, fakes: Fakes, admin, batch):
    body = email(mode="queue", category="appointment_reminder")
    fakes.queue.fail_next = 1
    if batch:

        def call():
            return client.call(
                "POST",
                "send",
                "/batch",
                token=admin,
                body={"messages": [body]},
                headers={"Idempotency-Key": "q"},
            )
    else:

        def call():
            return send(client, admin, "q", body)

    first = call()
    assert first.status_code == 500  # Cloud Tasks was down: the caller retries
    [delivery_id] = [d for (t, d) in fakes.deliveries.docs if t == TENANT]
    assert fakes.queue.tasks == {}  # queued, and nothing would ever run it
    retried = call()
    assert retried.status_code == 202, retried.json
    assert (TENANT, delivery_id, 0) in fakes.queue.tasks
