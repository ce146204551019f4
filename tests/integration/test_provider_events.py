"""The default sender's events: real signed webhooks (SendGrid ECDSA, SES through SNS) from the
stack's event signer, posted to `provider_events`; tampered, replayed, duplicated and
out-of-order ones; what they do to the delivery, the address and the notifications."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
import uuid
from typing import Any

import pytest
import requests
from google.cloud import firestore
from sendvia.adapters import paths
from sendvia.devtools import ses_notification
from sendvia.domain import provider_events

from tests.integration.api import call, url
from tests.integration.clinic import Clinic
from tests.integration.helpers import delivery, eventually, queued, relay_messages, state_is

SIGNER = os.environ.get("EVENT_SIGNER_URL", "")
TOPIC = "arn:aws:sns:us-east-1:000000000000:sendvia-ses-events"


def sent_email(clinic: Clinic, project: str, address: str) -> tuple[str, str]:
    """A triggered email, sent by the platform's relay: (delivery id, Message-ID)."""
    delivery_id = queued(clinic, address)
    eventually(state_is(project, clinic, delivery_id, "sent"))
    return delivery_id, delivery(project, clinic, delivery_id)["message_id"]


def sendgrid_event(address: str, message_id: str, event: str, **fields: Any) -> dict[str, Any]:
    return {
        "email": address,
        "timestamp": int(time.time()),
        "event": event,
        "sg_event_id": uuid.uuid4().hex,
        "sg_message_id": f"{uuid.uuid4().hex}.filter",
        "smtp-id": message_id,
        **fields,
    }


def signed_sendgrid(body: bytes, timestamp: int | None = None) -> dict[str, str]:
    params = {"timestamp": str(timestamp)} if timestamp else {}
    answer = requests.post(f"{SIGNER}/sendgrid/sign", data=body, params=params, timeout=10)
    return dict(answer.json()["headers"])


def post_sendgrid(events: list[dict[str, Any]], **sign: Any) -> requests.Response:
    body = json.dumps(events).encode()
    headers = {**signed_sendgrid(body, **sign), "Content-Type": "application/json"}
    return requests.post(
        url("provider_events", "/sendgrid"), data=body, headers=headers, timeout=30
    )


def signed_sns(note: Any, **envelope: Any) -> dict[str, Any]:
    answer = requests.post(f"{SIGNER}/ses/sign", json={"message": note, **envelope}, timeout=10)
    return dict(answer.json())


def post_ses(envelope: dict[str, Any]) -> requests.Response:
    return requests.post(url("provider_events", "/ses"), json=envelope, timeout=30)


def address_doc(project: str, clinic: Clinic, address: str) -> dict[str, Any] | None:
    snapshot = firestore.Client(project=project).document(paths.recipient(clinic.tenant, address))
    found = snapshot.get()
    return found.to_dict() if found.exists else None


def notices(clinic: Clinic) -> list[dict[str, Any]]:
    answer = call("GET", "activity", "/notifications", bearer=clinic.admin).json()
    return [n for n in answer["notifications"] if n["kind"].startswith("email_")]


def test_a_hard_bounce_suppresses_opts_out_and_notifies_once(clinic, project, recipient):
    delivery_id, message_id = sent_email(clinic, project, recipient)
    bounce = sendgrid_event(
        recipient, message_id, "bounce", type="bounce", reason="550 5.1.1 mailbox does not exist"
    )
    answer = post_sendgrid([bounce])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"recorded": 1, "duplicates": 0, "unmatched": 0}
    stored = delivery(project, clinic, delivery_id)
    assert stored["state"] == "bounced"
    assert stored["outcome_reason"] == "550 5.1.1 mailbox does not exist"
    status = address_doc(project, clinic, recipient) or {}
    assert status["status"] == "hard_bounced"
    assert "appointment_reminder" in status["opted_out"]
    assert [n["kind"] for n in notices(clinic)] == ["email_bounced"]
    # SendGrid delivers at least once: the same event again changes nothing.
    again = post_sendgrid([bounce])
    assert again.json() == {"recorded": 0, "duplicates": 1, "unmatched": 0}
    assert len(notices(clinic)) == 1
    assert len((address_doc(project, clinic, recipient) or {})["events"]) == 1


def test_a_late_delivered_does_not_undo_a_bounce(clinic, project, recipient):
    delivery_id, message_id = sent_email(clinic, project, recipient)
    post_sendgrid([sendgrid_event(recipient, message_id, "bounce", type="bounce")])
    late = post_sendgrid([sendgrid_event(recipient, message_id, "delivered")])
    assert late.json()["recorded"] == 1
    assert delivery(project, clinic, delivery_id)["state"] == "bounced"
    assert (address_doc(project, clinic, recipient) or {})["status"] == "hard_bounced"


def test_deliveries_soft_bounces_and_unknown_types_never_suppress(clinic, project, recipient):
    delivery_id, message_id = sent_email(clinic, project, recipient)
    answer = post_sendgrid(
        [
            sendgrid_event(recipient, message_id, "deferred", response="421 try later"),
            sendgrid_event(recipient, message_id, "bounce", type="blocked"),
            sendgrid_event(recipient, message_id, "open"),
            sendgrid_event(recipient, message_id, "something_new_from_sendgrid"),
            sendgrid_event(recipient, message_id, "delivered"),
        ]
    )
    assert answer.json() == {"recorded": 5, "duplicates": 0, "unmatched": 0}
    assert delivery(project, clinic, delivery_id)["state"] == "delivered"
    status = address_doc(project, clinic, recipient) or {}
    assert (status["status"], status["opted_out"]) == ("active", [])
    assert notices(clinic) == []


def test_ses_complaints_and_deliveries_through_sns(clinic, project, recipient):
    delivery_id, message_id = sent_email(clinic, project, recipient)
    delivered = post_ses(signed_sns(ses_notification("Delivery", recipient, message_id)))
    assert delivered.status_code == 200, delivered.text
    assert delivery(project, clinic, delivery_id)["state"] == "delivered"
    complaint = signed_sns(
        ses_notification("Complaint", recipient, message_id, complaintFeedbackType="abuse"),
        version="1",
    )
    assert post_ses(complaint).json() == {"recorded": 1, "duplicates": 0, "unmatched": 0}
    assert post_ses(complaint).json()["duplicates"] == 1
    assert delivery(project, clinic, delivery_id)["state"] == "complained"
    assert (address_doc(project, clinic, recipient) or {})["status"] == "complained"
    assert [n["kind"] for n in notices(clinic)] == ["email_complained"]


def test_an_ses_suppression_makes_the_address_inactive_and_soft_bounces_do_not(
    clinic, project, recipient
):
    _, message_id = sent_email(clinic, project, recipient)
    suppressed = ses_notification(
        "Bounce",
        recipient,
        message_id,
        bounceType="Permanent",
        bounceSubType="OnAccountSuppressionList",
    )
    assert post_ses(signed_sns(suppressed)).status_code == 200
    assert (address_doc(project, clinic, recipient) or {})["status"] == "inactive"
    other = f"other-{recipient}"
    _, other_id = sent_email(clinic, project, other)
    soft = ses_notification(
        "Bounce", other, other_id, bounceType="Transient", bounceSubType="General"
    )
    assert post_ses(signed_sns(soft)).json()["recorded"] == 1
    assert (address_doc(project, clinic, other) or {})["status"] == "active"


def test_tampered_unsigned_and_replayed_sendgrid_events_are_refused(clinic, project, recipient):
    _, message_id = sent_email(clinic, project, recipient)
    body = json.dumps([sendgrid_event(recipient, message_id, "bounce", type="bounce")]).encode()
    headers = signed_sendgrid(body)
    tampered = body.replace(b'"bounce"', b'"delivered"', 1)
    old = signed_sendgrid(body, timestamp=int(time.time()) - 3600)
    for sent_body, sent_headers in ((tampered, headers), (body, {}), (body, old)):
        answer = requests.post(
            url("provider_events", "/sendgrid"), data=sent_body, headers=sent_headers, timeout=30
        )
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "bad_signature"
    assert address_doc(project, clinic, recipient) is None  # nothing stored


def test_tampered_replayed_and_foreign_sns_messages_are_refused(clinic, project, recipient):
    _, message_id = sent_email(clinic, project, recipient)
    note = ses_notification("Complaint", recipient, message_id)
    good = signed_sns(note)
    hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    cases = [
        ({**good, "Message": good["Message"].replace("Complaint", "Delivery")}, 401),
        (signed_sns(note, timestamp=hour_ago.isoformat().replace("+00:00", "Z")), 401),
        ({**good, "SigningCertURL": "https://evil.example/cert.pem"}, 401),
        ({k: v for k, v in good.items() if k != "Signature"}, 401),
        (signed_sns(note, topic_arn="arn:aws:sns:us-east-1:000000000000:someone-else"), 403),
    ]
    for envelope, status in cases:
        answer = post_ses(envelope)
        assert answer.status_code == status, answer.text
    assert address_doc(project, clinic, recipient) is None


def test_an_sns_subscription_is_confirmed():
    answer = post_ses(signed_sns("You have chosen to subscribe.", type="SubscriptionConfirmation"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"subscribed": True}


def test_an_event_nobody_sent_is_kept_aside(recipient):
    unknown = sendgrid_event(recipient, f"<{uuid.uuid4().hex}@elsewhere.example>", "bounce")
    assert post_sendgrid([unknown]).json() == {"recorded": 0, "duplicates": 0, "unmatched": 1}
    assert post_sendgrid([unknown]).json() == {"recorded": 0, "duplicates": 1, "unmatched": 0}


def junk_bodies(seed: int) -> list[bytes]:
    rng = random.Random(seed)  # noqa: S311 - reproducible junk, not secrets
    valid = sendgrid_event("pat@example.com", "<x@y>", "bounce")
    bodies = [
        b"",
        b"null",
        b"{}",
        b"[]",
        b"[1, 2, 3]",
        json.dumps([valid] * 1001).encode(),
        json.dumps([{**valid, "email": 7}]).encode(),
        json.dumps([{**valid, "timestamp": -1}]).encode(),
        json.dumps([{**valid, "email": "x" * 400 + "@example.com"}]).encode(),
        "[\ud800]".encode("utf-8", "surrogatepass"),
    ]
    for _ in range(25):
        size = rng.choice([1, 10, 100, 1000])
        bodies.append(bytes(rng.randrange(256) for _ in range(size)))
        mangled = bytearray(json.dumps([valid]).encode())
        for _ in range(rng.randrange(1, 5)):
            mangled[rng.randrange(len(mangled))] = rng.randrange(256)
        if not still_valid(bytes(mangled)):  # a flipped byte inside a text can leave it valid
            bodies.append(bytes(mangled))
    return bodies


def still_valid(body: bytes) -> bool:
    try:
        provider_events.sendgrid_events(body)
    except provider_events.EventError:
        return False
    return True


def test_fuzzed_and_oversized_bodies_get_only_4xx_and_store_nothing(project):
    db = firestore.Client(project=project)
    before = len(list(db.collection(paths.UNMATCHED_EVENTS).list_documents()))
    for body in junk_bodies(seed=7):
        signed = post_raw("/sendgrid", body, signed_sendgrid(body))
        unsigned = post_raw("/ses", body, {})
        for answer in (signed, unsigned):
            assert 400 <= answer.status_code < 500, (answer.status_code, body[:80])
    huge = b"[" + b" " * (1024 * 1024) + b"]"
    assert post_raw("/sendgrid", huge, signed_sendgrid(huge)).status_code == 413
    assert post_raw("/ses", huge, {}).status_code == 413
    assert len(list(db.collection(paths.UNMATCHED_EVENTS).list_documents())) == before


def post_raw(path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(url("provider_events", path), data=body, headers=headers, timeout=30)


# -- refusals, reactivation, re-opt-in ----------------------------------------------------------


def bounced(clinic: Clinic, project: str, address: str) -> str:
    """An address the email service reported as not existing; returns the bounced delivery."""
    delivery_id, message_id = sent_email(clinic, project, address)
    reason = "550 5.1.1 The email account that you tried to reach does not exist"
    answer = post_sendgrid([sendgrid_event(address, message_id, "bounce", reason=reason)])
    assert answer.json()["recorded"] == 1
    return delivery_id


def reminder(
    clinic: Clinic, address: str, bearer: str | None = None, **changes: Any
) -> dict[str, Any]:
    """A triggered appointment reminder (scheduled, given `send_at`): the Delivery answered."""
    body = {
        "to": [address],
        "subject": "Reminder",
        "text": "Tomorrow at 10:00.",
        "category": "appointment_reminder",
        **({"send_at": changes.pop("send_at")} if "send_at" in changes else {"mode": "queue"}),
        **changes,
    }
    answer = call("POST", "send", bearer=bearer or clinic.admin, body=body)
    assert answer.status_code == 202, answer.text
    return dict(answer.json()["delivery"])


def notice_kinds(bearer: str) -> list[str]:
    listed = call("GET", "activity", "/notifications", bearer=bearer).json()["notifications"]
    return [n["kind"] for n in listed]


def manual(clinic: Clinic, address: str, **changes: Any) -> requests.Response:
    body = {"to": [address], "subject": "Your invoice", "text": "Attached.", **changes}
    return call("POST", "send", bearer=clinic.admin, body=body)


def test_a_bounced_address_is_refused_with_a_reason_a_screen_can_show(clinic, project, recipient):
    bounced(clinic, project, recipient)
    before = len(relay_messages(recipient))
    answer = manual(clinic, recipient, category="invoice")
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "recipient_suppressed"
    today = dt.datetime.now(dt.UTC)
    assert f"{recipient} bounced on {today.day} {today:%b %Y}" in error["message"]
    assert "does not exist" in error["message"]
    assert error["hint"]
    stored = delivery(project, clinic, error["delivery_id"])
    assert (stored["state"], stored["error"]["class"]) == ("suppressed", "suppressed")
    assert len(relay_messages(recipient)) == before  # nothing reached a server


def test_a_triggered_email_to_a_bounced_address_is_recorded_suppressed_and_notified(
    clinic, project, recipient
):
    bounced(clinic, project, recipient)
    before = len(relay_messages(recipient))
    assert reminder(clinic, recipient)["state"] == "suppressed"
    assert "send_suppressed" in notice_kinds(clinic.admin)
    time.sleep(0.5)
    assert len(relay_messages(recipient)) == before


def test_a_reminder_scheduled_before_the_bounce_is_stopped_when_due(clinic, project, recipient):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    scheduled = reminder(clinic, recipient, send_at=later.isoformat())["id"]
    bounced(clinic, project, recipient)
    eventually(state_is(project, clinic, scheduled, "suppressed"))


def test_reactivation_and_re_opt_in_by_an_admin(clinic, project, recipient):
    bounced(clinic, project, recipient)
    seen = call("GET", "activity", f"/recipients/{recipient}", bearer=clinic.member).json()
    assert (seen["status"], seen["opted_out"][0]) == ("hard_bounced", "appointment_reminder")
    assert seen["events"][0]["type"] == "bounce"
    for action in (":reactivate", ":opt_in"):  # a member: 403 whatever the body
        refused = call(
            "POST",
            "activity",
            f"/recipients/{recipient}{action}",
            bearer=clinic.member,
            data="not json",
        )
        assert refused.status_code == 403, refused.text
    missing_reason = call(
        "POST", "activity", f"/recipients/{recipient}:reactivate", bearer=clinic.admin, body={}
    )
    assert (missing_reason.status_code, missing_reason.json()["error"]["field"]) == (400, "reason")
    reason = "Patient confirmed the address by phone"
    active = call(
        "POST",
        "activity",
        f"/recipients/{recipient}:reactivate",
        bearer=clinic.admin,
        body={"reason": reason},
    )
    assert active.status_code == 200, active.text
    assert active.json()["status"] == "active"
    last = active.json()["events"][-1]
    assert (last["action"], last["reason"], last["by"]) == (
        "reactivate",
        reason,
        clinic_admin_uid(clinic),
    )
    # Still opted out of appointment emails until re-opted in (WriteUpp); invoices go.
    reminder = {"category": "appointment_reminder", "mode": "queue"}
    assert manual(clinic, recipient, **reminder).json()["delivery"]["state"] == "suppressed"
    assert manual(clinic, recipient, category="invoice").status_code == 200
    opted = call(
        "POST",
        "activity",
        f"/recipients/{recipient}:opt_in",
        bearer=clinic.admin,
        body={"category": "appointment_reminder"},
    )
    assert "appointment_reminder" not in opted.json()["opted_out"]
    again = manual(clinic, recipient, **reminder).json()["delivery"]["id"]
    eventually(state_is(project, clinic, again, "sent"))


def clinic_admin_uid(clinic: Clinic) -> str:
    return f"admin-{clinic.suffix}"


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/recipients/not-an-address", None, 400, "address"),
        ("/recipients/pat@example.com:reactivate", {"reason": "x" * 501}, 400, "reason"),
        ("/recipients/pat@example.com:opt_in", {"category": ""}, 400, "category"),
        ("/recipients/never-bounced@example.com:reactivate", {"reason": "why"}, 409, None),
    ],
)
def test_bad_recipient_requests(clinic, path, body, status, field):
    method = "GET" if body is None else "POST"
    answer = call(method, "activity", path, bearer=clinic.admin, body=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"].get("field") == field


def test_the_contact_summary_shows_what_became_of_each_email(clinic, project, recipient):
    delivery_id = bounced(clinic, project, recipient)
    listed = call(
        "GET", "activity", "/deliveries?contact_id=contact-7", bearer=clinic.admin
    ).json()["deliveries"]
    mine = next(d for d in listed if d["id"] == delivery_id)
    assert (mine["state"], mine["route"]["via"], mine["delivery_note"]) == (
        "bounced",
        "default",
        None,
    )


def test_a_sendgrid_spam_report_is_placed_by_the_arguments_we_sent_along(
    clinic, project, recipient
):
    """SendGrid's spam reports carry no Message-ID: the relay's email named its tenant and
    delivery in X-SMTPAPI unique_args, which SendGrid copies into every event."""
    delivery_id, _ = sent_email(clinic, project, recipient)
    sent = relay_messages(recipient)[0]
    unique_args = json.loads(sent["headers"]["X-SMTPAPI"])["unique_args"]
    assert unique_args == {"sendvia_tenant": clinic.tenant, "sendvia_delivery": delivery_id}
    report = {
        "email": recipient,
        "timestamp": int(time.time()),
        "event": "spamreport",
        "sg_event_id": uuid.uuid4().hex,
        "sg_message_id": f"{uuid.uuid4().hex}.filter",
        **unique_args,
    }
    assert post_sendgrid([report]).json() == {"recorded": 1, "duplicates": 0, "unmatched": 0}
    assert delivery(project, clinic, delivery_id)["state"] == "complained"
    assert (address_doc(project, clinic, recipient) or {})["status"] == "complained"
    assert [n["kind"] for n in notices(clinic)] == ["email_complained"]


def test_a_bounce_of_a_members_email_tells_the_member_and_the_admins(clinic, project, recipient):
    delivery_id = reminder(clinic, recipient, bearer=clinic.member)["id"]
    eventually(state_is(project, clinic, delivery_id, "sent"))
    message_id = delivery(project, clinic, delivery_id)["message_id"]
    post_sendgrid([sendgrid_event(recipient, message_id, "bounce", type="bounce")])
    for bearer in (clinic.member, clinic.admin):
        kinds = notice_kinds(bearer)
        assert kinds.count("email_bounced") == 1, kinds
