"""The default sender's email-service events, normalised (docs/sources.md: 002).

SendGrid's Event Webhook and Amazon SES notifications (through SNS) say different things in
different shapes; here both become ProviderEvents — delivered, deferred, bounced (hard or soft),
complained, dropped, or other — and a pure rule says what an event does to a recipient's status:

- a hard bounce → `hard_bounced`; a complaint → `complained`; an address the service reports as
  suppressed or inactive → `inactive`; each also opts the address out of appointment
  communications (WriteUpp: "automatically be opted out of appointment communications");
- soft bounces, deferrals and deliveries never suppress, and nothing but an admin's reactivation
  makes a suppressed address active again (a `delivered` arriving after the bounce changes nothing).

Nothing here does I/O; malformed input raises EventError with what was wrong.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

MAX_EVENTS = 1000  # per request; SendGrid batches up to a few hundred
MAX_REASON = 500
KEPT_EVENTS = 50  # of one address's history, newest last

APPOINTMENT_CATEGORIES = (
    "appointment_reminder",
    "appointment_confirmation",
    "appointment_change",
    "appointment_cancellation",
)
TENANT_ARG = "sendvia_tenant"
DELIVERY_ARG = "sendvia_delivery"


class SignatureError(Exception):
    """Not signed, wrongly signed, or too old: the request is refused (401) and nothing kept."""


class EventError(ValueError):
    """The body is not an event batch of this provider (a 400, nothing stored)."""


class EventKind(StrEnum):
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    DROPPED = "dropped"
    OTHER = "other"  # opens, clicks, processed, unknown types: recorded, no effect


class Status(StrEnum):
    ACTIVE = "active"
    HARD_BOUNCED = "hard_bounced"
    COMPLAINED = "complained"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class ProviderEvent:
    provider: str
    event_id: str  # unique per provider: duplicates are recognised by it
    kind: EventKind
    address: str  # lower-cased
    at: dt.datetime
    raw_type: str  # the provider's own name of the event
    hard: bool = False  # a bounce the address will not recover from
    suppressed: bool = False  # the service reports the address as suppressed / inactive
    reason: str = ""
    message_id: str | None = None  # our Message-ID, without angle brackets
    tenant_id: str | None = None  # custom arguments we sent along
    delivery_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "event_id": self.event_id,
            "kind": self.kind.value,
            "type": self.raw_type,
            "at": self.at,
            "hard": self.hard,
            "suppressed": self.suppressed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Recipient:
    address: str
    status: Status = Status.ACTIVE
    opted_out: tuple[str, ...] = ()
    events: tuple[dict[str, Any], ...] = field(default=())
    status_since: dt.datetime | None = None
    status_reason: str = ""


def _text(value: Any, name: str, limit: int = 320) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise EventError(f"{name} must be a text of 1 to {limit} characters")
    return value


def _address(value: Any) -> str:
    address = _text(value, "email", 320).strip().lower()
    if "@" not in address or any(c.isspace() or ord(c) < 32 for c in address):
        raise EventError("email is not an email address")
    return address


def _message_id(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().strip("<>")[:998]


def _optional(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 200 else None


# -- SendGrid ---------------------------------------------------------------------------------

_SENDGRID_KINDS = {
    "delivered": EventKind.DELIVERED,
    "deferred": EventKind.DEFERRED,
    "bounce": EventKind.BOUNCED,
    "blocked": EventKind.BOUNCED,
    "dropped": EventKind.DROPPED,
    "spamreport": EventKind.COMPLAINED,
}
# Why SendGrid drops an email without trying: the address is on one of its suppression lists.
_SENDGRID_SUPPRESSING_DROPS = (
    "bounced address",
    "spam reporting address",
    "invalid",
    "unsubscribed address",
)


def sendgrid_events(body: bytes) -> list[ProviderEvent]:
    """SendGrid's Event Webhook body: a JSON array of events."""
    try:
        items = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise EventError("the body is not JSON") from exc
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_EVENTS:
        raise EventError(f"the body must be a list of 1 to {MAX_EVENTS} events")
    return [_sendgrid_event(item, index) for index, item in enumerate(items)]


def _sendgrid_event(item: Any, index: int) -> ProviderEvent:
    if not isinstance(item, dict):
        raise EventError(f"event {index} is not an object")
    raw_type = _text(item.get("event"), f"event {index}: event", 50)
    stamp = item.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float) or not 0 < stamp < 2**33:
        raise EventError(f"event {index}: timestamp must be Unix seconds")
    kind = _SENDGRID_KINDS.get(raw_type, EventKind.OTHER)
    reason = str(item.get("reason") or item.get("response") or "")[:MAX_REASON]
    # "bounce" is a hard bounce; "blocked" (or a bounce of type "blocked") is a soft one.
    hard = raw_type == "bounce" and item.get("type", "bounce") == "bounce"
    suppressed = kind is EventKind.DROPPED and reason.lower().startswith(
        _SENDGRID_SUPPRESSING_DROPS
    )
    return ProviderEvent(
        provider="sendgrid",
        event_id=_text(item.get("sg_event_id"), f"event {index}: sg_event_id", 200),
        kind=kind,
        address=_address(item.get("email")),
        at=dt.datetime.fromtimestamp(stamp, dt.UTC),
        raw_type=raw_type,
        hard=hard,
        suppressed=suppressed,
        reason=reason,
        message_id=_message_id(item.get("smtp-id")),
        tenant_id=_optional(item.get(TENANT_ARG)),
        delivery_id=_optional(item.get(DELIVERY_ARG)),
    )


# -- Amazon SES, through SNS --------------------------------------------------------------------


def ses_events(sns_message_id: str, message: str) -> list[ProviderEvent]:
    """The SES notification inside an SNS Notification's `Message`: one event per recipient."""
    try:
        note = json.loads(message)
    except (ValueError, RecursionError) as exc:
        raise EventError("Message is not JSON") from exc
    if not isinstance(note, dict):
        raise EventError("Message is not an object")
    raw_type = note.get("notificationType") or note.get("eventType")
    raw_type = _text(raw_type, "notificationType", 50)
    mail = _object(note.get("mail"))
    common = _object(mail.get("commonHeaders"))
    tags = _object(mail.get("tags"))

    def tag(name: str) -> str | None:
        values = tags.get(name)
        return _optional(values[0]) if isinstance(values, list) and values else None

    base = {
        "provider": "ses",
        "raw_type": raw_type,
        "message_id": _message_id(common.get("messageId")),
        "tenant_id": tag(TENANT_ARG),
        "delivery_id": tag(DELIVERY_ARG),
    }
    details, recipients_key, kind = _ses_shape(raw_type)
    found = note.get(details) if details else {}
    if not isinstance(found, dict):
        raise EventError(f"{details} is missing")
    body: dict[str, Any] = found
    recipients = body.get(recipients_key) if recipients_key else mail.get("destination")
    if not isinstance(recipients, list) or not 1 <= len(recipients) <= MAX_EVENTS:
        raise EventError("the notification names no recipients")
    at = _iso(body.get("timestamp") or mail.get("timestamp"))
    bounce_type = str(body.get("bounceType", ""))
    sub_type = str(body.get("bounceSubType", ""))
    events = []
    for index, recipient in enumerate(recipients):
        address = recipient.get("emailAddress") if isinstance(recipient, dict) else recipient
        reason = ""
        if isinstance(recipient, dict):
            reason = str(recipient.get("diagnosticCode") or recipient.get("status") or "")
        events.append(
            ProviderEvent(
                event_id=f"{sns_message_id}:{index}",
                kind=kind,
                address=_address(address),
                at=at,
                hard=kind is EventKind.BOUNCED and bounce_type == "Permanent",
                suppressed=sub_type in ("Suppressed", "OnAccountSuppressionList"),
                reason=(reason or f"{bounce_type} {sub_type}".strip())[:MAX_REASON],
                **base,  # type: ignore[arg-type]
            )
        )
    return events


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ses_shape(raw_type: str) -> tuple[str | None, str | None, EventKind]:
    """Where the details and the recipients are, per notification type."""
    return {
        "Bounce": ("bounce", "bouncedRecipients", EventKind.BOUNCED),
        "Complaint": ("complaint", "complainedRecipients", EventKind.COMPLAINED),
        "Delivery": ("delivery", "recipients", EventKind.DELIVERED),
        "DeliveryDelay": ("deliveryDelay", "delayedRecipients", EventKind.DEFERRED),
        "Reject": (None, None, EventKind.DROPPED),
    }.get(raw_type, (None, None, EventKind.OTHER))


def _iso(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise EventError("timestamp is missing")
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EventError("timestamp is not an ISO 8601 time") from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


# -- what an event does to an address -----------------------------------------------------------


def suppressing_status(event: ProviderEvent) -> Status | None:
    """The status an event gives an address, or None when it leaves the status alone."""
    if event.kind is EventKind.COMPLAINED:
        return Status.COMPLAINED
    if event.suppressed:  # not tried: the service already holds the address as undeliverable
        return Status.INACTIVE
    if event.kind is EventKind.BOUNCED and event.hard:
        return Status.HARD_BOUNCED
    return None


def apply(recipient: Recipient, event: ProviderEvent) -> tuple[Recipient, bool]:
    """The recipient after the event; True when the event suppressed an active address (the
    moment to notify). The event is kept in the history either way."""
    history = (*recipient.events, event.to_json())[-KEPT_EVENTS:]
    updated = replace(recipient, events=history)
    status = suppressing_status(event)
    if status is None:
        return updated, False
    if recipient.status is not Status.ACTIVE:
        # Already suppressed: a complaint is the more telling reason, the rest keep the first.
        if status is Status.COMPLAINED and recipient.status is not Status.COMPLAINED:
            updated = replace(updated, status=status, status_reason=event.reason)
        return updated, False
    opted_out = tuple(dict.fromkeys((*recipient.opted_out, *APPOINTMENT_CATEGORIES)))
    return replace(
        updated,
        status=status,
        status_since=event.at,
        status_reason=event.reason,
        opted_out=opted_out,
    ), True


def recipient_from_doc(address: str, doc: Mapping[str, Any] | None) -> Recipient:
    if not doc:
        return Recipient(address)
    return Recipient(
        address=address,
        status=Status(doc.get("status", "active")),
        opted_out=tuple(doc.get("opted_out", [])),
        events=tuple(doc.get("events", [])),
        status_since=doc.get("status_since"),
        status_reason=doc.get("status_reason", ""),
    )


def recipient_to_doc(recipient: Recipient) -> dict[str, Any]:
    return {
        "address": recipient.address,
        "status": recipient.status.value,
        "opted_out": list(recipient.opted_out),
        "events": list(recipient.events),
        "status_since": recipient.status_since,
        "status_reason": recipient.status_reason,
    }


def admin_change(recipient: Recipient, change: Mapping[str, Any], now: dt.datetime) -> Recipient:
    """An admin's `reactivate` (status active again, opt-outs kept: WriteUpp asks for a re-opt-in
    as well) or `opt_in` (one category back), with who, why and when in the history."""
    entry = {**change, "at": now}
    history = (*recipient.events, entry)[-KEPT_EVENTS:]
    if change.get("action") == "reactivate":
        return replace(
            recipient,
            status=Status.ACTIVE,
            status_since=now,
            status_reason=str(change.get("reason", "")),
            events=history,
        )
    category = change.get("category")
    opted_out = tuple(c for c in recipient.opted_out if c != category)
    return replace(recipient, opted_out=opted_out, events=history)


def refusal(recipient: Recipient | None, category: str | None) -> tuple[str, str] | None:
    """Why an email to this address is refused before it is queued — (code, reason) — or None.
    Suppressed addresses are refused whatever the category; an opted-out category for it."""
    if recipient is None:
        return None
    if recipient.status is not Status.ACTIVE:
        when = f" on {recipient.status_since:%-d %b %Y}" if recipient.status_since else ""
        what = {
            Status.HARD_BOUNCED: "bounced",
            Status.COMPLAINED: "was reported as spam by its owner",
            Status.INACTIVE: "was marked inactive by the email service",
        }[recipient.status]
        reason = f": {recipient.status_reason}" if recipient.status_reason else ""
        return "recipient_suppressed", f"{recipient.address} {what}{when}{reason}"
    if category and category in recipient.opted_out:
        return "recipient_opted_out", f"{recipient.address} is opted out of {category} emails"
    return None
