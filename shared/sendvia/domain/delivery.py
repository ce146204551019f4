"""A delivery — one email's record in the delivery log — and the state machine it moves through.

    scheduled ─┐                     ┌─> sent ─> delivered ─> bounced ─> complained
               ├─> queued ─> sending ┼─> sent_unconfirmed    (what the email service reports)
    (manual) ──┘      ^          │   ├─> failed
                      │          │   └─> suppressed (a recipient was suppressed meanwhile)
                      └──────────┘ transient failure or quota: back to queued, retried later
    scheduled, queued ─> cancelled (by a person, before sending starts)

`sending` carries a lease and the attempt's number: a dispatch finding it `sending` with an
unexpired lease is a duplicate (Cloud Tasks delivers at least once) and must not send; an
expired lease means the attempt died, and the delivery may be claimed again. A queued delivery
is claimed by the write that marks it handed over (services/handover: one compare-and-set on
the version the attempt read, just before the provider is asked); a manual send is claimed when
it is created. Just before it hands the message to the provider, an attempt marks the delivery
`handed_over` with its number, and it
clears the mark when it records the outcome: a claim that finds the mark knows an attempt died
after the provider may have taken the message. It searches the mailbox the mark names for the
Message-ID where it can (Found), and records `sent_unconfirmed` instead of sending it again
where the search cannot settle it. An unknown outcome through a searchable mailbox goes back to
`queued` with its mark kept (Next.VERIFY), so that the next attempt searches first. Every write
of an attempt is fenced by its number: an attempt whose lease passed and whose delivery was
claimed again can neither hand the message over nor record an outcome.

The rules are pure functions here; the adapters apply them inside compare-and-set writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sendvia.domain import provider_events as pe
from sendvia.domain.failures import FailureKind

# How long an attempt holds a delivery: every step of an attempt ends well within it (the mail
# steps have their own limits), so a lease that passes means the attempt died.
LEASE = dt.timedelta(minutes=5)
# `reminders` gives a task to what is due within this horizon; Cloud Scheduler runs it every few
# minutes, and `send` gives one at once to what is due sooner.
REMINDER_HORIZON = dt.timedelta(minutes=15)


# The error of a delivery whose attempt died after handing the message over.
INTERRUPTED_ERROR = {
    "class": "unknown",
    "code": "interrupted_after_handover",
    "message": "Probably sent, not confirmed: an earlier attempt stopped after handing the "
    "message to the provider. It is not sent again.",
    "hint": "Ask the recipient whether it arrived before sending it again.",
}


class DeliveryState(StrEnum):
    SCHEDULED = "scheduled"  # waits for its send_at; `reminders` gives it a task when due
    QUEUED = "queued"  # has (or will get) a task; `deliver` sends it
    SENDING = "sending"  # claimed by one attempt, under a lease
    SENT = "sent"  # the provider accepted it
    # The provider may have taken it (no answer after the data), or an attempt died after
    # handing it over: not sent again, and counted (docs/delivery-guarantees.md).
    SENT_UNCONFIRMED = "sent_unconfirmed"
    FAILED = "failed"  # will never be sent (permanent, credentials, retries exhausted)
    SUPPRESSED = "suppressed"  # refused: a recipient bounced, complained or opted out
    CANCELLED = "cancelled"
    DELIVERED = "delivered"  # the email service reported delivery
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class DeliveryKind(StrEnum):
    MANUAL = "manual"  # sent now, the caller waits for the outcome
    TRIGGERED = "triggered"  # queued for `deliver`
    SCHEDULED = "scheduled"  # queued for a time
    TEST = "test"  # a mailbox's connection test


class Claim(StrEnum):
    """What `deliver` found when it tried to take a delivery for sending."""

    CLAIMED = "claimed"  # this attempt holds the lease: send
    DONE = "done"  # nothing to send (sent, failed, cancelled; or not due yet)
    BUSY = "busy"  # another attempt holds the lease: retry later
    MISSING = "missing"


class Cancel(StrEnum):
    CANCELLED = "cancelled"
    TOO_LATE = "too_late"
    MISSING = "missing"


# No attempt will ever send these again.
TERMINAL = frozenset(
    {
        DeliveryState.SENT,
        DeliveryState.SENT_UNCONFIRMED,
        DeliveryState.FAILED,
        DeliveryState.SUPPRESSED,
        DeliveryState.CANCELLED,
        DeliveryState.DELIVERED,
        DeliveryState.BOUNCED,
        DeliveryState.COMPLAINED,
    }
)
CANCELLABLE = frozenset({DeliveryState.SCHEDULED, DeliveryState.QUEUED})
# Kinds whose sender is not waiting for the outcome: they are told when it goes wrong.
NOTIFYING_KINDS = frozenset({DeliveryKind.TRIGGERED, DeliveryKind.SCHEDULED})


def claim_refusal(
    state: DeliveryState,
    *,
    send_at: dt.datetime | None,
    lease_until: dt.datetime | None,
    now: dt.datetime,
    lease: dt.timedelta,
) -> Claim | None:
    """Why an attempt may not take the delivery now, or None when it may."""
    if state in TERMINAL:
        return Claim.DONE
    if state is DeliveryState.SCHEDULED and send_at is not None and send_at > now + lease:
        return Claim.DONE  # not due: a task from before a reschedule
    if state is DeliveryState.SENDING and lease_until is not None and lease_until > now:
        return Claim.BUSY
    return None


def may_cancel(state: DeliveryState, *, handed_over: int | None = None) -> bool:
    """Before sending started, and not while an unknown outcome is being verified (the
    provider may have the message)."""
    return state in CANCELLABLE and handed_over is None


# What the email service's events may do to a delivery: move it forward only, so a late
# `delivered` does not undo a bounce.
_EVENT_RANK = {
    DeliveryState.SENT: 0,
    DeliveryState.SENT_UNCONFIRMED: 0,  # the email service confirms it after all
    DeliveryState.DELIVERED: 1,
    DeliveryState.BOUNCED: 2,
    DeliveryState.COMPLAINED: 3,
}
_EVENT_STATE = {
    pe.EventKind.DELIVERED: DeliveryState.DELIVERED,
    pe.EventKind.DROPPED: DeliveryState.BOUNCED,
    pe.EventKind.COMPLAINED: DeliveryState.COMPLAINED,
}


def state_after_event(current: str, event: pe.ProviderEvent) -> DeliveryState | None:
    """The delivery's new state after the email service's event, or None to leave it."""
    if event.kind is pe.EventKind.BOUNCED:
        wanted = DeliveryState.BOUNCED if event.hard else None
    else:
        wanted = _EVENT_STATE.get(event.kind)
    known = current in {s.value for s in DeliveryState}
    rank = _EVENT_RANK.get(DeliveryState(current)) if known else None
    if wanted is None or rank is None:
        return None
    return wanted if _EVENT_RANK[wanted] > rank else None


# What an attempt's failure does to a triggered email (services/deliver applies it).
class Next(StrEnum):
    RETRY = "retry"  # back to queued; Cloud Tasks retries with the queue's backoff
    DEFER = "defer"  # back to queued with a new task at the provider's time
    FAIL = "fail"  # failed for good; the sender and the admins are told
    UNCONFIRMED = "unconfirmed"  # sent_unconfirmed: never sent again
    # The outcome is unknown but the mailbox can be searched: back to queued, still marked
    # handed over, with a task after VERIFY_AFTER; that attempt looks for the Message-ID first.
    VERIFY = "verify"


# How long after a hand-over a mailbox is searched for the message, by default
# (SENDVIA_VERIFY_AFTER_S): what a provider takes to file what it sent and index it (Gmail's
# search is not instant).
VERIFY_AFTER = dt.timedelta(minutes=2)


class Found(StrEnum):
    """What searching a mailbox for a delivery's Message-ID showed."""

    SENT = "sent"  # the message is there: it was sent
    # Not there, and the provider files every message it sends itself: it was not sent.
    ABSENT = "absent"
    UNKNOWN = "unknown"  # no way to tell (no read access; sendvia files the copy itself)


def after_failure(
    kind: FailureKind, *, attempts: int, max_attempts: int, searchable: bool = False
) -> Next:
    """What a failed attempt leads to. A transient failure is retried until the queue's
    attempts are spent; the last one fails the email (and tells its sender), rather than
    leaving it queued when Cloud Tasks stops retrying. An unknown outcome is never retried
    blindly: a mailbox that can be searched is searched first (VERIFY)."""
    if kind is FailureKind.UNKNOWN:
        return Next.VERIFY if searchable else Next.UNCONFIRMED
    if kind is FailureKind.TRANSIENT:
        return Next.RETRY if attempts < max_attempts else Next.FAIL
    if kind is FailureKind.QUOTA:
        return Next.DEFER
    return Next.FAIL


def _stamp(value: Any) -> dt.datetime | None:
    return value if isinstance(value, dt.datetime) else None


@dataclass(frozen=True)
class Delivery:
    """A stored delivery (`tenants/{t}/deliveries/{id}`), typed. `content` (the request, for a
    queued email) is dropped once the email is sent, failed or cancelled."""

    id: str
    kind: DeliveryKind
    state: DeliveryState
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = ""
    category: str | None = None
    contact_id: str | None = None
    route: Mapping[str, Any] | None = None
    attempts: int = 0
    fingerprint: str | None = None
    created_by: str | None = None
    created_at: dt.datetime | None = None
    sender: Mapping[str, Any] = field(default_factory=dict)
    content: Mapping[str, Any] | None = None
    send_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    lease_until: dt.datetime | None = None
    message_id: str | None = None
    provider_message_id: str | None = None
    error: Mapping[str, Any] | None = None
    last_error: Mapping[str, Any] | None = None
    delivery_note: str | None = None
    warnings: tuple[Mapping[str, Any], ...] = ()
    attempts_log: tuple[Mapping[str, Any], ...] = ()
    handed_over: int | None = None  # the attempt that handed the message over, unrecorded
    # Where it was handed over: `mailbox` id and `address` (None: the relay), `route`, `at`.
    handed_to: Mapping[str, Any] | None = None
    # Transient failures so far: what the queue's attempt limit counts (a deferral to the
    # provider's time is a new task, not a retry of the old one).
    retries: int = 0

    @classmethod
    def from_doc(cls, delivery_id: str, doc: Mapping[str, Any]) -> Delivery:
        return cls(
            id=delivery_id,
            kind=DeliveryKind(doc.get("kind") or DeliveryKind.MANUAL),
            state=DeliveryState(doc["state"]),
            to=tuple(doc.get("to") or ()),
            cc=tuple(doc.get("cc") or ()),
            bcc=tuple(doc.get("bcc") or ()),
            subject=str(doc.get("subject") or ""),
            category=doc.get("category"),
            contact_id=doc.get("contact_id"),
            route=doc.get("route"),
            attempts=int(doc.get("attempts") or 0),
            fingerprint=doc.get("fingerprint"),
            created_by=doc.get("created_by"),
            created_at=_stamp(doc.get("created_at")),
            sender=doc.get("sender") or {},
            content=doc.get("content"),
            send_at=_stamp(doc.get("send_at")),
            sent_at=_stamp(doc.get("sent_at")),
            lease_until=_stamp(doc.get("lease_until")),
            message_id=doc.get("message_id"),
            provider_message_id=doc.get("provider_message_id"),
            error=doc.get("error"),
            last_error=doc.get("last_error"),
            delivery_note=doc.get("delivery_note"),
            warnings=tuple(doc.get("warnings") or ()),
            attempts_log=tuple(doc.get("attempts_log") or ()),
            handed_over=doc.get("handed_over"),
            handed_to=doc.get("handed_to"),
            retries=int(doc.get("retries") or 0),
        )

    def claim_refused(self, now: dt.datetime, lease: dt.timedelta) -> Claim | None:
        """Why an attempt may not take it now (claim_refusal), or None when it may."""
        return claim_refusal(
            self.state, send_at=self.send_at, lease_until=self.lease_until, now=now, lease=lease
        )

    @property
    def interrupted_after_handover(self) -> bool:
        """Claimed again after an attempt handed the message over and never recorded what
        came of it: the provider may have taken it."""
        return self.handed_over is not None and self.handed_over < self.attempts

    def verifiable_at(self, now: dt.datetime, wait: dt.timedelta = VERIFY_AFTER) -> bool:
        """Whether a search of the mailbox it was handed to can be trusted now: it went to a
        mailbox (not the relay), at least `wait` ago, for the provider to have filed it."""
        to = self.handed_to or {}
        at = to.get("at")
        return bool(to.get("mailbox")) and isinstance(at, dt.datetime) and now - at >= wait

    @property
    def queued_for_later(self) -> bool:
        """Answered 202: the caller does not wait for it to be sent."""
        return self.kind in NOTIFYING_KINDS

    @property
    def notifies(self) -> bool:
        return self.kind in NOTIFYING_KINDS
