"""The default sender's events: checked, normalised, placed, recorded once.

An event is placed by the tenant and delivery we sent along as custom arguments (SendGrid's
unique_args, SES's message tags), else by our Message-ID. One nobody can place is kept aside for
the operator. A bounce, complaint or suppression of a triggered email tells its sender and the
tenant's admins, once per event (WriteUpp's notification).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sendvia.domain import provider_events as pe
from sendvia.domain.delivery import Delivery
from sendvia.domain.provider_events import SignatureError
from sendvia.errors import BadRequest, Forbidden, Unauthenticated, Unavailable
from sendvia.runtime import Runtime
from sendvia.services import notices

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


def receive_sendgrid(rt: Runtime, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    key = rt.settings.events.sendgrid_public_key
    if not key:
        raise Unavailable(
            "SendGrid events are not configured.",
            code="not_configured",
            hint="Set SENDVIA_SENDGRID_PUBLIC_KEY to the Event Webhook's verification key.",
        )
    try:
        rt.webhooks.verify_sendgrid(
            key,
            body,
            headers.get(SENDGRID_SIGNATURE, ""),
            headers.get(SENDGRID_TIMESTAMP, ""),
            rt.clock(),
        )
    except SignatureError as exc:
        raise _refused(exc) from exc
    try:
        events = pe.sendgrid_events(body)
    except pe.EventError as exc:
        raise BadRequest(f"Not a SendGrid event batch: {exc}.", field="body") from exc
    return record_all(rt, events)


def receive_ses(rt: Runtime, body: bytes) -> dict[str, Any]:
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("The body is not an SNS message (JSON).", field="body") from exc
    if not isinstance(envelope, dict):
        raise BadRequest("The body is not an SNS message (JSON object).", field="body")
    try:
        rt.webhooks.verify_sns(envelope, rt.clock())
    except SignatureError as exc:
        raise _refused(exc) from exc
    if envelope.get("TopicArn") not in rt.settings.events.ses_topic_arns:
        raise Forbidden(
            "Events from this SNS topic are not accepted.",
            code="topic_not_accepted",
            hint="Add the topic's ARN to SENDVIA_SES_TOPIC_ARNS.",
        )
    kind = envelope.get("Type")
    if kind == "SubscriptionConfirmation":
        return {"subscribed": _confirm(rt, str(envelope.get("SubscribeURL", "")))}
    if kind != "Notification":
        return {"recorded": 0, "duplicates": 0, "unmatched": 0}  # UnsubscribeConfirmation
    try:
        events = pe.ses_events(str(envelope["MessageId"]), str(envelope["Message"]))
    except pe.EventError as exc:
        raise BadRequest(f"Not an SES notification: {exc}.", field="Message") from exc
    return record_all(rt, events)


def _confirm(rt: Runtime, url: str) -> bool:
    """SNS asks the endpoint to confirm a new subscription by visiting SubscribeURL."""
    try:
        return rt.webhooks.confirm_sns_subscription(url)
    except SignatureError as exc:
        raise BadRequest("SubscribeURL is not Amazon SNS's.", field="SubscribeURL") from exc


def _refused(exc: SignatureError) -> Unauthenticated:
    return Unauthenticated(
        f"The events were refused: {exc}.",
        code="bad_signature",
        hint="Only the email service's signed, recent webhooks are accepted.",
    )


def record_all(rt: Runtime, events: list[pe.ProviderEvent]) -> dict[str, Any]:
    counts = {"recorded": 0, "duplicates": 0, "unmatched": 0}
    for event in events:
        counts[_record(rt, event)] += 1
    return counts


def _record(rt: Runtime, event: pe.ProviderEvent) -> str:
    tenant_id, delivery_id = event.tenant_id, event.delivery_id
    if (tenant_id is None or delivery_id is None) and event.message_id:
        found = rt.recipients.find_delivery(event.message_id)
        if found is not None:
            tenant_id, delivery_id = found
    if tenant_id is None:
        return "unmatched" if rt.recipients.record_unmatched(event) else "duplicates"
    new, suppressed_now, delivery = rt.recipients.record(tenant_id, delivery_id, event)
    if not new:
        return "duplicates"
    if delivery and pe.suppressing_status(event) and delivery.notifies:
        notify(rt, tenant_id, delivery, event, suppressed_now)
    return "recorded"


def notify(
    rt: Runtime,
    tenant_id: str,
    delivery: Delivery,
    event: pe.ProviderEvent,
    suppressed_now: bool,
    *,
    once_as: str | None = None,
) -> None:
    """Tell the email's sender and the admins that it bounced or was reported (once per
    `once_as`, when given: two reports of one bounce tell nobody twice)."""
    what = {
        pe.EventKind.COMPLAINED: "reported as spam",
        pe.EventKind.BOUNCED: "bounced",
    }.get(event.kind, "was not delivered")
    notice = {
        "kind": f"email_{event.kind.value}",
        "delivery_id": delivery.id,
        "address": event.address,
        "title": f"Email to {event.address} {what}: {delivery.subject}",
        "message": event.reason or f"The email service reported: {event.raw_type}.",
        "hint": (
            "Check the address with the contact. It is now opted out of appointment emails; "
            "an administrator can reactivate it and opt it back in."
            if suppressed_now
            else "Check the address with the contact."
        ),
    }
    notices.tell_sender_and_admins(rt, tenant_id, delivery, notice, once_as=once_as)
