"""A task carrying its delivery as `send` created it (decision 0009), in process: `deliver` sends
from it without reading, and whatever changed the delivery since — a cancel, an earlier dispatch,
a suppression — or a ticket that does not verify sends it back to reading. It sends what is
stored, once, or nothing."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

import pytest
from sendvia.adapters.ticket_key import TicketKey
from sendvia.domain import provider_events as pe
from sendvia.domain import ticket
from sendvia.services import deliver

from tests.fakes import NOW, Fakes, fake_runtime
from tests.functional.conftest import TENANT, Client, queue_email

TASKS = {
    "SENDVIA_DELIVER_URL": "https://functions.test/deliver",
    "SENDVIA_TASKS_SERVICE_ACCOUNT": "tasks@demo.iam.gserviceaccount.com",
    "SENDVIA_SCHEDULER_AUTH": "off",
}


@pytest.fixture
def fakes() -> Fakes:
    fakes = fake_runtime(**TASKS)
    name = fakes.secrets.add_version("ticket-key", secrets.token_bytes(32), {})
    fakes.runtime = replace(fakes.runtime, ticket_key=TicketKey(fakes.secrets, name))
    return fakes


@pytest.fixture
def reads(fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The deliveries `deliver` read."""
    seen: list[str] = []
    look = fakes.deliveries.look

    def counted(tenant_id: str, delivery_id: str, *args: Any) -> Any:
        seen.append(delivery_id)
        return look(tenant_id, delivery_id, *args)

    monkeypatch.setattr(fakes.deliveries, "look", counted)
    return seen


def queued(client: Client, token: str, **changes: Any) -> tuple[str, dict[str, str]]:
    """A triggered email: its id and its task's ticket."""
    delivery_id = queue_email(client, token, **changes)
    return delivery_id, client.fakes.queue.seals[(TENANT, delivery_id)]


def run(fakes: Fakes, delivery_id: str, seal: dict[str, str] | None) -> tuple[int, Any]:
    return deliver.deliver(fakes.runtime, TENANT, delivery_id, seal)


def subjects(fakes: Fakes) -> list[str]:
    return [str(message["Subject"]) for message, *_ in fakes.relay.sent]


def test_a_task_with_its_ticket_is_sent_without_reading_the_delivery(
    client, fakes: Fakes, admin, reads
):
    delivery_id, seal = queued(client, admin)
    assert run(fakes, delivery_id, seal) == (200, {"outcome": "sent"})
    assert reads == []
    assert subjects(fakes) == ["Reminder"]
    stored = fakes.deliveries.of(TENANT, delivery_id)
    assert (stored["state"], stored["attempts"], stored["content"]) == ("sent", 1, None)


def test_the_same_ticket_dispatched_again_finds_it_sent(client, fakes: Fakes, admin, reads):
    delivery_id, seal = queued(client, admin)
    assert run(fakes, delivery_id, seal) == (200, {"outcome": "sent"})
    assert run(fakes, delivery_id, seal) == (200, {"outcome": "done"})
    assert reads == [delivery_id]  # the second dispatch's ticket failed its condition
    assert len(fakes.relay.sent) == 1


def test_an_email_cancelled_after_it_was_queued_is_not_sent(client, fakes: Fakes, admin, reads):
    delivery_id, seal = queued(client, admin)
    cancelled = client.call("POST", "send", f"/{delivery_id}:cancel", token=admin)
    assert cancelled.status_code == 200, cancelled.json
    assert run(fakes, delivery_id, seal) == (200, {"outcome": "done"})
    assert fakes.relay.sent == []
    assert fakes.deliveries.of(TENANT, delivery_id)["state"] == "cancelled"


def test_a_ticket_whose_content_was_changed_sends_what_is_stored(
    client, fakes: Fakes, admin, reads
):
    delivery_id, seal = queued(client, admin)
    forged = {**seal, "doc": seal["doc"].replace("Reminder", "Pay here")}
    assert forged["doc"] != seal["doc"]
    assert run(fakes, delivery_id, forged) == (200, {"outcome": "sent"})
    assert subjects(fakes) == ["Reminder"]
    assert reads == [delivery_id]


@pytest.mark.parametrize("field", ["tenant", "delivery", "version", "key"])
def test_a_ticket_is_good_for_its_own_delivery_version_and_key_only(
    client, fakes: Fakes, admin, reads, field
):
    delivery_id, seal = queued(client, admin)
    _, other_seal = queued(client, admin, subject="Another")
    key = fakes.runtime.ticket_key.get()  # type: ignore[union-attr]
    assert key is not None
    if field == "tenant":  # another tenant's ticket for a delivery of the same id
        found = ticket.unseal(key, TENANT, delivery_id, seal)
        assert found is not None
        seal = ticket.seal(key, "clinic-2", delivery_id, *found) or {}
    elif field == "delivery":  # another delivery's ticket
        seal = other_seal
    elif field == "version":
        seal = {**seal, "version": other_seal["version"]}
    else:
        found = ticket.unseal(key, TENANT, delivery_id, seal)
        assert found is not None
        seal = ticket.seal(secrets.token_bytes(32), TENANT, delivery_id, *found) or {}
    assert run(fakes, delivery_id, seal) == (200, {"outcome": "sent"})
    assert subjects(fakes) == ["Reminder"]
    assert reads == [delivery_id]


def test_a_recipient_suppressed_since_it_was_queued_stops_it(client, fakes: Fakes, admin, reads):
    delivery_id, seal = queued(client, admin)
    fakes.recipients.recipients[(TENANT, "pat@example.com")] = pe.Recipient(
        "pat@example.com", pe.Status.COMPLAINED, status_since=NOW, status_reason="spam"
    )
    assert run(fakes, delivery_id, seal) == (200, {"outcome": "suppressed"})
    assert fakes.relay.sent == []
    assert reads == [delivery_id]  # people are told only what a read showed
    assert fakes.deliveries.of(TENANT, delivery_id)["state"] == "suppressed"
    assert [n["kind"] for n in fakes.notifications.of(TENANT)] == ["send_suppressed"]


def test_nobody_is_told_of_a_failure_of_an_email_cancelled_since_it_was_queued(
    client, fakes: Fakes, admin, member, reads
):
    """The ticket would fail its condition only at the outcome's write: told first, the sender
    would hear that an email they cancelled could not be sent."""
    delivery_id, seal = queued(client, member)
    client.call("PATCH", "settings", token=admin, body={"members_may_send": False})
    cancelled = client.call("POST", "send", f"/{delivery_id}:cancel", token=member)
    assert cancelled.status_code == 200, cancelled.json
    assert run(fakes, delivery_id, seal) == (200, {"outcome": "done"})
    assert fakes.notifications.of(TENANT) == []
    assert fakes.deliveries.of(TENANT, delivery_id)["state"] == "cancelled"


def test_a_failure_decided_from_a_ticket_is_told_after_a_read(
    client, fakes: Fakes, admin, member, reads
):
    delivery_id, seal = queued(client, member)
    client.call("PATCH", "settings", token=admin, body={"members_may_send": False})
    status, body = run(fakes, delivery_id, seal)
    assert (status, body["outcome"]) == (200, "failed")
    assert reads == [delivery_id]
    told = fakes.notifications.of(TENANT)
    assert told and {n["kind"] for n in told} == {"send_failed"}
    stored = fakes.deliveries.of(TENANT, delivery_id)
    assert (stored["state"], stored["attempts"]) == ("failed", 1)


def test_a_failure_before_the_hand_over_is_recorded_through_the_ticket(
    client, fakes: Fakes, admin, reads
):
    from sendvia.domain.failures import FailureKind, ProviderFailure

    delivery_id, seal = queued(client, admin)
    fakes.relay.fail_with = ProviderFailure(FailureKind.TRANSIENT, "connection_refused", "down")
    status, body = run(fakes, delivery_id, seal)
    assert (status, body["outcome"]) == (503, "retry")
    stored = fakes.deliveries.of(TENANT, delivery_id)
    assert (stored["state"], stored["attempts"], stored["retries"]) == ("queued", 1, 1)
    fakes.relay.fail_with = None
    assert run(fakes, delivery_id, seal) == (200, {"outcome": "sent"})  # Cloud Tasks' retry
    assert reads == [delivery_id]
    assert fakes.deliveries.of(TENANT, delivery_id)["attempts"] == 2


def test_without_a_readable_key_tasks_carry_ids_and_are_read(client, admin):
    fakes = fake_runtime()
    fakes.runtime = replace(
        fakes.runtime, ticket_key=TicketKey(fakes.secrets, "ticket-key/versions/9")
    )
    client = Client(fakes)
    answer = client.call(
        "POST",
        "send",
        token=fakes.token(TENANT, "ann"),
        body={"to": ["pat@example.com"], "subject": "Hi", "text": "x", "mode": "queue"},
    )
    assert answer.status_code == 202, answer.json
    delivery_id = answer.json["delivery"]["id"]
    assert fakes.queue.seals == {}
    assert (TENANT, delivery_id, 0) in fakes.queue.tasks
    assert deliver.deliver(fakes.runtime, TENANT, delivery_id) == (200, {"outcome": "sent"})


def test_a_batch_seals_each_new_delivery(client, fakes: Fakes, admin, reads):
    messages = [
        {"to": [f"p{i}@example.com"], "subject": f"Reminder {i}", "text": "Tomorrow."}
        for i in range(3)
    ]
    answer = client.call("POST", "send", "/batch", token=admin, body={"messages": messages})
    assert answer.status_code == 202, answer.json
    ids = [result["delivery"]["id"] for result in answer.json["results"]]
    for delivery_id in ids:
        seal = fakes.queue.seals[(TENANT, delivery_id)]
        assert run(fakes, delivery_id, seal) == (200, {"outcome": "sent"})
    assert subjects(fakes) == ["Reminder 0", "Reminder 1", "Reminder 2"]
    assert reads == []


def test_a_malformed_ticket_is_refused_naming_its_field(client, fakes: Fakes):
    body = {"tenant_id": TENANT, "delivery_id": "d1"}
    good = {"version": "2026-12-02T07:30:00.123456789Z", "doc": "[{},{}]", "mac": "0" * 64}
    for seal, field in (
        ("not an object", "as_created"),
        ({"version": good["version"], "doc": "[]"}, "as_created"),
        ({**good, "extra": "x"}, "as_created"),
        ({**good, "version": 1}, "as_created.version"),
        ({**good, "version": "yesterday"}, "as_created.version"),
        ({**good, "doc": "x" * 128_001}, "as_created.doc"),
        ({**good, "doc": "[\ud800]"}, "as_created.doc"),  # a lone surrogate
        ({**good, "doc": '["\u00e9"]'}, "as_created.doc"),  # not as `seal` writes it
        ({**good, "mac": ""}, "as_created.mac"),
        ({**good, "mac": "\ud800" * 64}, "as_created.mac"),
        ({**good, "mac": "A" * 64}, "as_created.mac"),
    ):
        answer = client.call(
            "POST", "deliver", body={**body, "as_created": seal}, token="task-token"
        )
        assert (answer.status_code, answer.json["error"]["field"]) == (400, field), seal
    surrogate = client.call(
        "POST", "deliver", body={**body, "delivery_id": "d\ud800"}, token="task-token"
    )
    assert (surrogate.status_code, surrogate.json["error"]["field"]) == (400, "delivery_id")
    # Well formed but not ours: ignored, and the delivery read (there is none).
    unknown = client.call("POST", "deliver", body={**body, "as_created": good}, token="task-token")
    assert (unknown.status_code, unknown.json) == (200, {"outcome": "missing"})


def test_an_error_before_anything_was_written_is_checked_against_a_read(
    client, fakes: Fakes, admin, reads
):
    """No relay configured any more, and the email cancelled meanwhile: the read shows there
    is nothing to do, where the ticket alone would have answered a 5xx for Cloud Tasks to retry
    until it gave up."""
    delivery_id, seal = queued(client, admin)
    assert client.call("POST", "send", f"/{delivery_id}:cancel", token=admin).status_code == 200
    fakes.runtime = replace(fakes.runtime, relay=None)
    assert run(fakes, delivery_id, seal) == (200, {"outcome": "done"})
    assert reads == [delivery_id]


def test_a_batch_key_used_again_after_it_expired_queues_a_new_sealed_email(
    client, fakes: Fakes, admin, reads
):
    """And the sender hears of a recipient suppressed meanwhile, as for any new email."""
    headers = {"Idempotency-Key": "monthly"}
    messages = [
        {"to": ["pat@example.com"], "subject": "Reminder", "text": "x"},
        {"to": ["sam@example.com"], "subject": "Reminder", "text": "x"},
    ]
    first = client.call(
        "POST", "send", "/batch", token=admin, body={"messages": messages}, headers=headers
    )
    assert first.status_code == 202, first.json
    fakes.clock.advance(hours=25)
    fakes.recipients.recipients[(TENANT, "sam@example.com")] = pe.Recipient(
        "sam@example.com", pe.Status.COMPLAINED, status_since=NOW, status_reason="spam"
    )
    again = client.call(
        "POST", "send", "/batch", token=admin, body={"messages": messages}, headers=headers
    )
    assert again.status_code == 202, again.json
    ids = [result["delivery"]["id"] for result in again.json["results"]]
    assert ids != [result["delivery"]["id"] for result in first.json["results"]]
    assert [result["delivery"]["state"] for result in again.json["results"]] == [
        "queued",
        "suppressed",
    ]
    assert run(fakes, ids[0], fakes.queue.seals[(TENANT, ids[0])]) == (200, {"outcome": "sent"})
    assert reads == []
    assert (TENANT, ids[1]) not in fakes.queue.seals
    told = fakes.notifications.of(TENANT)
    assert {n["kind"] for n in told} == {"send_suppressed"}


def test_an_email_too_large_to_seal_travels_as_ids_and_is_read(client, fakes: Fakes, admin, reads):
    text = "Dear patient, «your results» are in.\n" * 2_000  # 76,000 characters, escaped more
    delivery_id = queue_email(client, admin, text=text)
    assert (TENANT, delivery_id) not in fakes.queue.seals
    assert run(fakes, delivery_id, None) == (200, {"outcome": "sent"})
    assert reads == [delivery_id]
    assert "«your results»" in fakes.relay.sent[0][0].get_content()
