"""The delivery's state machine (domain/delivery.py): who may claim, cancel, and what events and
failures move it to — pure tables."""

from __future__ import annotations

import datetime as dt

import pytest
from sendvia.domain import provider_events as pe
from sendvia.domain.delivery import (
    Claim,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Next,
    after_failure,
    claim_refusal,
    may_cancel,
    state_after_event,
)
from sendvia.domain.failures import FailureKind
from sendvia.services.deliver import answer_for

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)
S = DeliveryState


@pytest.mark.parametrize(
    ("state", "send_at", "lease_until", "refused"),
    [
        (S.QUEUED, None, None, None),
        (S.SCHEDULED, NOW + dt.timedelta(minutes=1), None, None),  # due within the lease
        (S.SCHEDULED, NOW + dt.timedelta(hours=2), None, Claim.DONE),  # a task from before
        (S.SENDING, None, NOW + dt.timedelta(minutes=1), Claim.BUSY),  # another attempt
        (S.SENDING, None, NOW - dt.timedelta(seconds=1), None),  # that attempt died
        (S.SENT, None, None, Claim.DONE),
        (S.SENT_UNCONFIRMED, None, None, Claim.DONE),
        (S.FAILED, None, None, Claim.DONE),
        (S.CANCELLED, None, None, Claim.DONE),
        (S.SUPPRESSED, None, None, Claim.DONE),
        (S.BOUNCED, None, None, Claim.DONE),
    ],
)
def test_who_may_claim(state, send_at, lease_until, refused):
    found = claim_refusal(state, send_at=send_at, lease_until=lease_until, now=NOW, lease=LEASE)
    assert found is refused


@pytest.mark.parametrize("state", list(DeliveryState))
def test_only_unsent_emails_can_be_cancelled(state):
    assert may_cancel(state) is (state in (S.SCHEDULED, S.QUEUED))


def event(kind: pe.EventKind, *, hard: bool = True) -> pe.ProviderEvent:
    return pe.ProviderEvent(
        provider="sendgrid",
        event_id="e1",
        kind=kind,
        raw_type=kind.value,
        address="pat@example.com",
        at=NOW,
        hard=hard,
    )


@pytest.mark.parametrize(
    ("current", "kind", "hard", "after"),
    [
        ("sent", pe.EventKind.DELIVERED, True, S.DELIVERED),
        ("delivered", pe.EventKind.BOUNCED, True, S.BOUNCED),
        ("bounced", pe.EventKind.DELIVERED, True, None),  # a late delivered undoes nothing
        ("sent", pe.EventKind.BOUNCED, False, None),  # a soft bounce leaves it
        ("bounced", pe.EventKind.COMPLAINED, True, S.COMPLAINED),
        ("queued", pe.EventKind.DELIVERED, True, None),  # not ours to move
        ("sent", pe.EventKind.DROPPED, True, S.BOUNCED),
    ],
)
def test_what_the_email_services_events_move_it_to(current, kind, hard, after):
    assert state_after_event(current, event(kind, hard=hard)) is after


@pytest.mark.parametrize(
    ("kind", "attempts", "next_step", "status"),
    [
        (FailureKind.TRANSIENT, 1, Next.RETRY, 503),  # Cloud Tasks retries with the backoff
        (FailureKind.TRANSIENT, 19, Next.RETRY, 503),
        (FailureKind.TRANSIENT, 20, Next.FAIL, 200),  # the queue's last attempt: failed, told
        (FailureKind.QUOTA, 1, Next.DEFER, 200),  # a new task at the provider's time
        (FailureKind.AUTH, 1, Next.FAIL, 200),
        (FailureKind.PERMANENT, 1, Next.FAIL, 200),
        (FailureKind.UNKNOWN, 1, Next.UNCONFIRMED, 200),  # never sent again
    ],
)
def test_what_a_failure_does_and_what_cloud_tasks_is_told(kind, attempts, next_step, status):
    assert after_failure(kind, attempts=attempts, max_attempts=20) is next_step
    assert answer_for(next_step) == status


def test_a_claim_after_an_attempt_died_handing_the_message_over_is_unconfirmed():
    died = Delivery.from_doc("d1", {"state": "sending", "attempts": 2, "handed_over": 1})
    assert died.interrupted_after_handover
    recorded = Delivery.from_doc("d1", {"state": "sending", "attempts": 2, "handed_over": None})
    assert not recorded.interrupted_after_handover


@pytest.mark.parametrize(
    ("claim", "status"), [(Claim.BUSY, 409), (Claim.DONE, 200), (Claim.MISSING, 200)]
)
def test_what_deliver_answers_when_it_cannot_claim(claim, status):
    assert answer_for(claim) == status


def test_a_stored_delivery_reads_as_a_typed_record():
    found = Delivery.from_doc(
        "d1",
        {"kind": "scheduled", "state": "scheduled", "to": ["a@b.c"], "send_at": NOW, "x": 1},
    )
    assert (found.kind, found.state, found.send_at, found.to) == (
        DeliveryKind.SCHEDULED,
        S.SCHEDULED,
        NOW,
        ("a@b.c",),
    )
    assert found.queued_for_later and found.notifies
