"""The email service's events, normalised, and what they do to an address (pure rules)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sendvia.domain import provider_events as pe
from sendvia.domain.provider_events import EventError, EventKind, Recipient, Status

NOW = 1_795_000_000


def sendgrid(**fields: object) -> dict:
    return {"email": "Pat@Example.com", "timestamp": NOW, "sg_event_id": "e1", **fields}


def one_sendgrid(**fields: object) -> pe.ProviderEvent:
    return pe.sendgrid_events(json.dumps([sendgrid(**fields)]).encode())[0]


@pytest.mark.parametrize(
    ("fields", "kind", "hard", "suppressed"),
    [
        ({"event": "delivered"}, EventKind.DELIVERED, False, False),
        ({"event": "deferred"}, EventKind.DEFERRED, False, False),
        ({"event": "bounce", "type": "bounce"}, EventKind.BOUNCED, True, False),
        ({"event": "bounce", "type": "blocked"}, EventKind.BOUNCED, False, False),
        ({"event": "blocked"}, EventKind.BOUNCED, False, False),
        ({"event": "dropped", "reason": "Bounced Address"}, EventKind.DROPPED, False, True),
        ({"event": "dropped", "reason": "Exceeded size"}, EventKind.DROPPED, False, False),
        ({"event": "spamreport"}, EventKind.COMPLAINED, False, False),
        ({"event": "open"}, EventKind.OTHER, False, False),
        ({"event": "brand_new_type"}, EventKind.OTHER, False, False),
    ],
)
def test_sendgrid_events(fields, kind, hard, suppressed):
    event = one_sendgrid(**fields, **{"smtp-id": "<abc@platform.test>", "sendvia_tenant": "t1"})
    assert (event.kind, event.hard, event.suppressed) == (kind, hard, suppressed)
    assert event.address == "pat@example.com"
    assert (event.message_id, event.tenant_id) == ("abc@platform.test", "t1")
    assert event.at == dt.datetime.fromtimestamp(NOW, dt.UTC)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b"[]",
        json.dumps([sendgrid(event="bounce")] * 1001).encode(),
        json.dumps(["x"]).encode(),
        json.dumps([{**sendgrid(event="bounce"), "email": "no-at-sign"}]).encode(),
        json.dumps([{**sendgrid(event="bounce"), "timestamp": "yesterday"}]).encode(),
        json.dumps([{**sendgrid(event="bounce"), "sg_event_id": None}]).encode(),
        json.dumps([{**sendgrid(), "event": None}]).encode(),
        b"\xff\xfe",
    ],
)
def test_malformed_sendgrid_bodies_are_refused(body):
    with pytest.raises(EventError):
        pe.sendgrid_events(body)


def ses(note_type: str, details: dict, **mail: object) -> str:
    key = {"Bounce": "bounce", "Complaint": "complaint", "Delivery": "delivery"}[note_type]
    return json.dumps(
        {
            "notificationType": note_type,
            key: {"timestamp": "2026-11-23T10:00:00.000Z", **details},
            "mail": {
                "timestamp": "2026-11-23T09:59:00.000Z",
                "commonHeaders": {"messageId": "<m1@platform.test>"},
                "tags": {"sendvia_delivery": ["d1"]},
                **mail,
            },
        }
    )


def test_ses_bounces_complaints_and_deliveries():
    hard = pe.ses_events(
        "sns-1",
        ses(
            "Bounce",
            {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {"emailAddress": "a@example.com", "diagnosticCode": "550 5.1.1 no such user"},
                    {"emailAddress": "b@example.com"},
                ],
            },
        ),
    )
    assert [(e.event_id, e.address, e.hard) for e in hard] == [
        ("sns-1:0", "a@example.com", True),
        ("sns-1:1", "b@example.com", True),
    ]
    assert hard[0].reason == "550 5.1.1 no such user"
    assert (hard[0].message_id, hard[0].delivery_id) == ("m1@platform.test", "d1")
    suppressed = pe.ses_events(
        "sns-2",
        ses(
            "Bounce",
            {
                "bounceType": "Permanent",
                "bounceSubType": "OnAccountSuppressionList",
                "bouncedRecipients": [{"emailAddress": "c@example.com"}],
            },
        ),
    )[0]
    assert suppressed.suppressed
    soft = pe.ses_events(
        "sns-3",
        ses(
            "Bounce",
            {"bounceType": "Transient", "bouncedRecipients": [{"emailAddress": "d@example.com"}]},
        ),
    )[0]
    assert (soft.kind, soft.hard) == (EventKind.BOUNCED, False)
    complaint = pe.ses_events(
        "sns-4", ses("Complaint", {"complainedRecipients": [{"emailAddress": "e@example.com"}]})
    )[0]
    assert complaint.kind is EventKind.COMPLAINED
    delivered = pe.ses_events("sns-5", ses("Delivery", {"recipients": ["f@example.com"]}))[0]
    assert delivered.kind is EventKind.DELIVERED


@pytest.mark.parametrize(
    "message",
    ["nope", "[]", json.dumps({"notificationType": "Bounce"}), ses("Delivery", {"recipients": []})],
)
def test_malformed_ses_messages_are_refused(message):
    with pytest.raises(EventError):
        pe.ses_events("sns-x", message)


def test_a_hard_bounce_suppresses_and_opts_out_once():
    bounce = one_sendgrid(event="bounce", type="bounce", reason="550 5.1.1 unknown user")
    after, notify = pe.apply(Recipient("pat@example.com"), bounce)
    assert (after.status, notify) == (Status.HARD_BOUNCED, True)
    assert "appointment_reminder" in after.opted_out
    assert after.status_reason == "550 5.1.1 unknown user"
    again, notify_again = pe.apply(after, bounce)
    assert (again.status, notify_again) == (Status.HARD_BOUNCED, False)


def test_deliveries_deferrals_and_soft_bounces_never_suppress_or_reactivate():
    active = Recipient("pat@example.com")
    for fields in ({"event": "delivered"}, {"event": "deferred"}, {"event": "blocked"}):
        after, notify = pe.apply(active, one_sendgrid(**fields))
        assert (after.status, after.opted_out, notify) == (Status.ACTIVE, (), False)
    bounced, _ = pe.apply(active, one_sendgrid(event="bounce"))
    delivered_late, notify = pe.apply(bounced, one_sendgrid(event="delivered"))
    assert (delivered_late.status, notify) == (Status.HARD_BOUNCED, False)


def test_a_complaint_is_the_more_telling_reason():
    bounced, _ = pe.apply(Recipient("pat@example.com"), one_sendgrid(event="bounce"))
    complained, notify = pe.apply(bounced, one_sendgrid(event="spamreport"))
    assert (complained.status, notify) == (Status.COMPLAINED, False)


def test_a_suppressed_drop_makes_the_address_inactive():
    after, notify = pe.apply(
        Recipient("pat@example.com"), one_sendgrid(event="dropped", reason="Bounced Address")
    )
    assert (after.status, notify) == (Status.INACTIVE, True)


def test_history_is_bounded():
    recipient = Recipient("pat@example.com")
    for _ in range(pe.KEPT_EVENTS + 5):
        recipient, _ = pe.apply(recipient, one_sendgrid(event="delivered"))
    assert len(recipient.events) == pe.KEPT_EVENTS
