"""Nothing sent twice, nothing lost, in process (security review H3, H4, L11): an outcome the
provider left unknown is not retried, an attempt that died after handing the message over is
not repeated, a stale attempt cannot overwrite a later one, retries that run out fail the email
and say so, and what nothing would run is found and run."""

from __future__ import annotations

from typing import Any

import pytest
from sendvia.domain.delivery import LEASE, VERIFY_AFTER
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.services import deliver, reminders

from tests.fakes import NOW, Fakes
from tests.functional.conftest import TENANT, Client, gmail_mailbox, switch_on
from tests.functional.conftest import queue_email as queued

UNKNOWN = ProviderFailure(FailureKind.UNKNOWN, "outcome_unknown", "no answer after the data")


def run(fakes: Fakes, delivery_id: str) -> tuple[int, dict[str, Any]]:
    return deliver.deliver(fakes.runtime, TENANT, delivery_id)


def state(fakes: Fakes, delivery_id: str) -> str:
    return str(fakes.deliveries.of(TENANT, delivery_id)["state"])


def test_an_unknown_outcome_is_recorded_unconfirmed_and_never_sent_again(
    client, fakes: Fakes, admin
):
    delivery_id = queued(client, admin)
    fakes.relay.fail_with = UNKNOWN
    assert run(fakes, delivery_id) == (200, {"outcome": "unconfirmed"})
    assert state(fakes, delivery_id) == "sent_unconfirmed"
    fakes.relay.fail_with = None
    assert run(fakes, delivery_id) == (200, {"outcome": "done"})  # a duplicate task
    assert fakes.relay.sent == []
    assert fakes.notifications.of(TENANT) == []  # not a failure


def test_a_manual_send_with_an_unknown_outcome_answers_the_delivery_not_an_error(
    client, fakes: Fakes, admin
):
    fakes.relay.fail_with = UNKNOWN
    body = {"to": ["pat@example.com"], "subject": "Invoice", "text": "Attached."}
    answer = client.call("POST", "send", token=admin, body=body)
    assert answer.status_code == 200, answer.json
    assert answer.json["delivery"]["state"] == "sent_unconfirmed"
    assert "not sent again" in answer.json["delivery"]["error"]["message"]


def test_an_attempt_that_died_after_handing_over_is_not_repeated(client, fakes: Fakes, admin):
    delivery_id = queued(client, admin)
    _, claimed = fakes.deliveries.claim(TENANT, delivery_id, NOW, LEASE)
    assert fakes.deliveries.hand_over(TENANT, delivery_id, claimed.attempts)  # then it died
    assert run(fakes, delivery_id) == (409, {"outcome": "busy"})  # its lease still runs
    fakes.clock.advance(minutes=6)
    assert run(fakes, delivery_id) == (200, {"outcome": "unconfirmed"})
    assert fakes.relay.sent == []
    assert fakes.deliveries.of(TENANT, delivery_id)["error"]["code"] == (
        "interrupted_after_handover"
    )


def test_an_attempt_that_died_before_handing_over_is_sent_by_the_next(client, fakes: Fakes, admin):
    delivery_id = queued(client, admin)
    fakes.deliveries.claim(TENANT, delivery_id, NOW, LEASE)  # then it died
    fakes.clock.advance(minutes=6)
    assert run(fakes, delivery_id) == (200, {"outcome": "sent"})
    assert len(fakes.relay.sent) == 1


def test_a_stale_attempt_can_neither_send_nor_overwrite_a_later_one(client, fakes: Fakes, admin):
    """Attempt 1 is slow: its lease passes while the relay holds it, and attempt 2 claims the
    delivery. Attempt 2 finds attempt 1's hand-over and does not send; attempt 1's late
    success cannot overwrite what attempt 2 recorded."""
    delivery_id = queued(client, admin)
    answers: list[tuple[int, dict[str, Any]]] = []
    original = fakes.relay.send

    def slow_send(outgoing: Any, **kwargs: Any) -> Any:
        fakes.clock.advance(minutes=6)
        answers.append(run(fakes, delivery_id))  # Cloud Tasks' retry, meanwhile
        return original(outgoing, **kwargs)

    fakes.relay.send = slow_send  # type: ignore[method-assign]
    first = run(fakes, delivery_id)
    assert answers == [(200, {"outcome": "unconfirmed"})]
    assert first == (409, {"outcome": "superseded"})  # Cloud Tasks retries it, finds it done
    assert len(fakes.relay.sent) == 1  # once, by attempt 1
    assert state(fakes, delivery_id) == "sent_unconfirmed"


def test_retries_that_run_out_fail_the_email_and_tell_its_sender_once(client, fakes: Fakes, admin):
    delivery_id = queued(client, admin)
    fakes.relay.fail_with = ProviderFailure(FailureKind.TRANSIENT, "timeout", "no answer")
    answers = [run(fakes, delivery_id)[0] for _ in range(20)]
    assert answers == [503] * 19 + [200]
    stored = fakes.deliveries.of(TENANT, delivery_id)
    assert stored["state"] == "failed"
    assert "after 20 attempts" in stored["error"]["message"]
    assert [n["kind"] for n in fakes.notifications.of(TENANT)] == ["send_failed"]


def test_a_failure_is_told_before_it_is_recorded_and_only_once(client, fakes: Fakes, admin):
    delivery_id = queued(client, admin)
    fakes.relay.fail_with = ProviderFailure(FailureKind.PERMANENT, "rejected", "550 no")
    finish = fakes.deliveries.finish
    calls = {"n": 0}

    def failing_once(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("Firestore is unavailable")
        return finish(*args, **kwargs)

    fakes.deliveries.finish = failing_once  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):  # a 5xx: Cloud Tasks retries
        run(fakes, delivery_id)
    assert [n["kind"] for n in fakes.notifications.of(TENANT)] == ["send_failed"]
    from sendvia.services import notices

    delivery = fakes.runtime.deliveries.get(TENANT, delivery_id)
    notices.not_sent(fakes.runtime, TENANT, delivery, kind="send_failed", error={})
    assert len(fakes.notifications.of(TENANT)) == 1  # told once, however often


def test_the_batch_run_recovers_what_nothing_would_run(client, fakes: Fakes, admin):
    fakes.queue.fail_next = 1
    body = {"to": ["pat@example.com"], "subject": "Lost", "text": "x", "mode": "queue"}
    died = client.call("POST", "send", token=admin, body=body)
    assert died.status_code == 500  # after writing its delivery; and nobody retried it
    [orphan] = [d for (t, d) in fakes.deliveries.docs if t == TENANT]
    dying = queued(client, admin, subject="Another")
    fakes.deliveries.claim(TENANT, dying, NOW, LEASE)  # its attempt dies while sending
    fakes.queue.tasks.clear()
    fakes.clock.advance(minutes=11)
    summary = reminders.run(fakes.runtime)
    assert summary["recovered"] == 2
    assert set(fakes.queue.tasks) == {(TENANT, orphan, 0), (TENANT, dying, 1)}
    assert reminders.run(fakes.runtime)["recovered"] == 0  # the same tasks: nothing new
    assert run(fakes, orphan) == (200, {"outcome": "sent"})
    assert run(fakes, dying) == (200, {"outcome": "sent"})
    assert len(fakes.relay.sent) == 2


def test_a_retried_manual_send_whose_first_request_died_is_sent_once(client, fakes: Fakes, admin):
    body = {"to": ["pat@example.com"], "subject": "Invoice", "text": "Attached."}
    headers = {"Idempotency-Key": "inv-9"}
    fakes.relay.fail_with = RuntimeError("the instance was killed")  # type: ignore[assignment]
    died = client.call("POST", "send", token=admin, body=body, headers=headers)
    assert died.status_code == 500
    fakes.relay.fail_with = None
    early = client.call("POST", "send", token=admin, body=body, headers=headers)
    assert early.status_code == 202  # its lease still runs: as it stands
    fakes.clock.advance(minutes=6)
    late = client.call("POST", "send", token=admin, body=body, headers=headers)
    assert late.status_code == 200, late.json
    # The first request died inside the relay, after the hand-over: not sent again.
    assert late.json["delivery"]["state"] == "sent_unconfirmed"
    assert fakes.relay.sent == []


def test_a_members_queued_email_is_not_sent_once_members_may_no_longer_send(
    client, fakes: Fakes, admin, member
):
    """The rule is checked when the email goes, not only when it was queued (review L13)."""
    delivery_id = queued(client, member)
    client.call("PATCH", "settings", token=admin, body={"members_may_send": False})
    status, body = run(fakes, delivery_id)
    assert (status, body["outcome"]) == (200, "failed")
    assert body["error"]["code"] == "not_allowed"
    assert fakes.relay.sent == []


def test_deferrals_to_the_providers_time_do_not_spend_the_retries(client, fakes: Fakes, admin):
    """A mailbox over its limit defers its emails, each deferral a new task: a busy week of
    deferrals must not make the next transient failure the last (found by the soak)."""
    from tests.functional.conftest import gmail_mailbox, switch_on

    switch_on(client, admin, gmail=True)
    gmail_mailbox(fakes)
    delivery_id = queued(client, admin)
    fakes.gmail.fail_with = ProviderFailure(
        FailureKind.QUOTA, "rateLimitExceeded", "limit", retry_after_s=1
    )
    for _ in range(25):
        assert run(fakes, delivery_id)[1]["outcome"] == "deferred"
        fakes.clock.advance(seconds=2)
    fakes.gmail.fail_with = ProviderFailure(FailureKind.TRANSIENT, "backendError", "503")
    assert run(fakes, delivery_id)[0] == 503  # retried, not failed
    fakes.gmail.fail_with = None
    assert run(fakes, delivery_id) == (200, {"outcome": "sent"})


# -- unknown outcomes in a mailbox that can be searched (Message-ID lookup) ---------------------


def mailbox_queued(client: Client, fakes: Fakes, admin: str, *, files_sent: bool | None) -> str:
    switch_on(client, admin, gmail=True)
    gmail_mailbox(fakes)
    fakes.gmail.files_sent = files_sent
    return queued(client, admin)


def test_an_unknown_outcome_in_a_searchable_mailbox_is_confirmed_by_finding_it(
    client, fakes: Fakes, admin
):
    delivery_id = mailbox_queued(client, fakes, admin, files_sent=True)
    fakes.gmail.after_send = UNKNOWN  # Gmail took it; the answer was lost
    status, answer = run(fakes, delivery_id)
    assert (status, answer["outcome"]) == (200, "verifying")
    assert fakes.queue.tasks[(TENANT, delivery_id, 1)] == NOW + VERIFY_AFTER  # after the wait
    assert state(fakes, delivery_id) == "queued"
    cancelled = client.call("POST", "send", f"/{delivery_id}:cancel", token=admin)
    assert cancelled.status_code == 409  # the provider may have it: too late to cancel
    fakes.gmail.after_send = None
    fakes.clock.advance(minutes=3)
    assert run(fakes, delivery_id) == (200, {"outcome": "sent"})
    found = fakes.deliveries.of(TENANT, delivery_id)
    assert found["state"] == "sent"
    assert "found it in the mailbox" in found["delivery_note"]
    assert len(fakes.gmail.received.sent) == 1  # searched, not sent again
    assert fakes.gmail.searched == [found["message_id"]]


def test_an_attempt_that_died_is_sent_when_a_filing_provider_does_not_have_it(
    client, fakes: Fakes, admin
):
    delivery_id = mailbox_queued(client, fakes, admin, files_sent=True)
    fakes.gmail.fail_with = RuntimeError("the instance was killed")  # type: ignore[assignment]
    with pytest.raises(RuntimeError):  # died after the hand-over, before Gmail had it
        run(fakes, delivery_id)
    fakes.gmail.fail_with = None
    fakes.clock.advance(minutes=6)
    assert run(fakes, delivery_id) == (200, {"outcome": "sent"})
    assert len(fakes.gmail.received.sent) == 1
    assert len(fakes.gmail.searched) == 1


def test_an_attempt_that_died_after_gmail_took_it_is_confirmed_not_resent(
    client, fakes: Fakes, admin
):
    delivery_id = mailbox_queued(client, fakes, admin, files_sent=True)
    fakes.gmail.after_send = RuntimeError("the instance was killed")
    with pytest.raises(RuntimeError):
        run(fakes, delivery_id)
    fakes.gmail.after_send = None
    fakes.clock.advance(minutes=6)
    assert run(fakes, delivery_id) == (200, {"outcome": "sent"})
    assert len(fakes.gmail.received.sent) == 1


def test_a_missing_copy_proves_nothing_where_sendvia_files_it_itself(client, fakes: Fakes, admin):
    """An SMTP mailbox's Sent copy is sendvia's to make, after the send: its absence is no
    proof, and the email stays `sent_unconfirmed`."""
    delivery_id = mailbox_queued(client, fakes, admin, files_sent=False)
    fakes.gmail.fail_with = UNKNOWN
    assert run(fakes, delivery_id)[1]["outcome"] == "verifying"
    fakes.gmail.fail_with = None
    fakes.clock.advance(minutes=3)
    assert run(fakes, delivery_id) == (200, {"outcome": "unconfirmed"})
    assert state(fakes, delivery_id) == "sent_unconfirmed"
    assert fakes.deliveries.of(TENANT, delivery_id)["error"]["code"] == "outcome_unknown"
    assert fakes.gmail.received.sent == []


def test_a_search_too_soon_is_no_proof(client, fakes: Fakes, admin):
    """A duplicate dispatch before the wait is over: Gmail may not have filed it yet."""
    delivery_id = mailbox_queued(client, fakes, admin, files_sent=True)
    fakes.gmail.fail_with = UNKNOWN
    run(fakes, delivery_id)
    fakes.gmail.fail_with = None
    assert run(fakes, delivery_id) == (200, {"outcome": "unconfirmed"})
    assert fakes.gmail.searched == fakes.gmail.received.sent == []


def test_a_fallback_to_the_relay_is_not_searched_for_in_the_mailbox(client, fakes: Fakes, admin):
    """The mailbox refused (broken), the relay took over and the attempt died inside it: the
    hand-over names the relay, so the mailbox's search cannot send it a second time."""
    delivery_id = mailbox_queued(client, fakes, admin, files_sent=True)
    client.call("PATCH", "settings", token=admin, body={"on_broken": "default"})
    fakes.gmail.fail_with = ProviderFailure(FailureKind.AUTH, "token_revoked", "invalid_grant")
    fakes.relay.fail_with = RuntimeError("the instance was killed")  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        run(fakes, delivery_id)
    fakes.relay.fail_with = None
    fakes.clock.advance(minutes=6)
    assert run(fakes, delivery_id) == (200, {"outcome": "unconfirmed"})
    assert fakes.gmail.searched == []
    assert fakes.relay.sent == fakes.gmail.received.sent == []


def test_a_retried_manual_send_finds_what_its_first_request_sent(client, fakes: Fakes, admin):
    switch_on(client, admin, gmail=True)
    gmail_mailbox(fakes)
    fakes.gmail.files_sent = True
    body = {"to": ["pat@example.com"], "subject": "Invoice", "text": "Attached."}
    headers = {"Idempotency-Key": "inv-10"}
    fakes.gmail.after_send = RuntimeError("the instance was killed")
    assert client.call("POST", "send", token=admin, body=body, headers=headers).status_code == 500
    fakes.gmail.after_send = None
    fakes.clock.advance(minutes=6)
    late = client.call("POST", "send", token=admin, body=body, headers=headers)
    assert late.status_code == 200, late.json
    assert late.json["delivery"]["state"] == "sent"
    assert len(fakes.gmail.received.sent) == 1


def test_two_dispatches_that_read_the_same_version_send_once(client, fakes: Fakes, admin):
    """Cloud Tasks dispatched the task twice and both attempts read the delivery before either
    wrote: the claim is the hand-over write, conditional on what each read, so one takes it and
    the other can neither send nor record."""
    delivery_id = queued(client, admin)
    _, _, stale = fakes.deliveries.look(TENANT, delivery_id, NOW, LEASE)
    assert run(fakes, delivery_id) == (200, {"outcome": "sent"})
    assert not fakes.deliveries.take_and_hand_over(
        TENANT, delivery_id, stale, 1, lease_until=NOW + LEASE
    )
    assert not fakes.deliveries.finish_untaken(TENANT, delivery_id, stale, {"state": "failed"})
    assert len(fakes.relay.sent) == 1
    assert state(fakes, delivery_id) == "sent"


def test_an_outcome_before_any_hand_over_is_one_write_and_counts_the_attempt(
    client, fakes: Fakes, admin
):
    """Suppressed since it was queued: decided before any provider is asked, so nothing is
    marked handed over; the one write records the outcome and counts the attempt."""
    from sendvia.domain import provider_events as pe

    delivery_id = queued(client, admin)
    fakes.recipients.recipients[(TENANT, "pat@example.com")] = pe.Recipient(
        "pat@example.com", pe.Status.COMPLAINED, status_since=NOW, status_reason="spam"
    )
    assert run(fakes, delivery_id) == (200, {"outcome": "suppressed"})
    found = fakes.deliveries.of(TENANT, delivery_id)
    assert (found["state"], found["attempts"], found.get("handed_over")) == ("suppressed", 1, None)
    assert fakes.deliveries.handovers == []


def test_a_requeued_email_whose_task_ran_out_before_any_write_is_recovered(
    client, fakes: Fakes, admin
):
    """Deferred to the provider's time, then every dispatch of its task died before writing
    anything (a killed instance, an unreadable secret), until Cloud Tasks gave up: queued, with
    attempts, and no task. The sweep finds it by `due_at` and gives it a task."""
    delivery_id = queued(client, admin)
    fakes.deliveries.update(
        TENANT,
        delivery_id,
        {"attempts": 2, "retries": 1, "due_at": NOW, "send_at": NOW},
    )
    fakes.clock.advance(minutes=15)
    assert reminders.run(fakes.runtime)["recovered"] == 0  # still within retry backoff
    fakes.clock.advance(minutes=10)
    assert reminders.run(fakes.runtime)["recovered"] == 1
    assert (TENANT, delivery_id, 2) in fakes.queue.tasks
    assert run(fakes, delivery_id) == (200, {"outcome": "sent"})
    assert len(fakes.relay.sent) == 1
