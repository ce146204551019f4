"""Send an email now (a manual send: an invoice, a letter), through the route the settings give.

The delivery is written first (keyed by the caller's Idempotency-Key, so a retried request finds
it instead of sending twice), then sent through the route's provider — the tenant's or the user's
mailbox (Gmail API, or SMTP with a copy in the Sent folder) or the platform's relay — and the
outcome recorded. A mailbox whose credentials stopped working turns broken (its admins are told
once) and the email fails with a message a screen can show, or goes by the platform's sender
when the tenant chose that.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from email.message import EmailMessage
from typing import Any

from sendvia.domain import provider_events as pe
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import TENANT_MAILBOX, MailboxRecord, MailboxSummary
from sendvia.domain.message import HeaderError, Mailbox
from sendvia.domain.outgoing import (
    MAX_ATTACHMENT_BYTES,
    MAX_QUEUED_BYTES,
    SendRequest,
    addresses,
    compose,
)
from sendvia.domain.principal import Principal
from sendvia.domain.routing import Route, RouteReason, Via
from sendvia.domain.tenant import OnBroken, Tenant
from sendvia.domain.validation import parse_model
from sendvia.errors import (
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    PayloadTooLarge,
    Refused,
    Unavailable,
)
from sendvia.ports import Outgoing, Sent
from sendvia.runtime import Runtime
from sendvia.services import mailboxes, notices, routes
from sendvia.services.settings import route_for

log = logging.getLogger("sendvia.send")

# `reminders` enqueues what is due within this horizon; Cloud Scheduler runs it every few minutes.
REMINDER_HORIZON = dt.timedelta(minutes=15)
MAX_SCHEDULE_AHEAD = dt.timedelta(days=365)
DEFAULT_QUOTA_WAIT_S = 3600  # when a provider's limit comes without a time to retry
ENQUEUE_CONCURRENCY = 32  # task creations in flight for a batch
SUPPRESSED_HINT = (
    "Check the address with the contact. An administrator can reactivate it (and opt it back in "
    "to appointment emails) under the contact's email status."
)
OWN_MAILBOX_NOTE = "Sent via your mailbox: delivery is reported by your email provider, not here."
# What the platform's own sender's failures leave a person to do: its credentials and limits are
# the operator's, not the tenant's.
_RELAY_HINTS = {
    FailureKind.AUTH: "The platform's sender is being fixed; the email is retried.",
    FailureKind.QUOTA: "The platform's sending limit is reached; try again later.",
    FailureKind.TRANSIENT: "Try again in a few minutes.",
    FailureKind.PERMANENT: "Check the recipients and the message.",
}


class SendFailed(AppError):  # noqa: N818 - the outcome of a send
    """The email could not be sent; the delivery records why (its id is in the error)."""

    status = 422
    code = "send_failed"


def delivery_id_for(key: str | None) -> str:
    """The caller's Idempotency-Key names the delivery; without one, a fresh id."""
    if not key:
        return secrets.token_hex(16)
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def send(
    rt: Runtime, principal: Principal, body: Any, key: str | None
) -> tuple[int, dict[str, Any]]:
    """Send now (200 with the outcome) or queue it for `deliver` (202)."""
    request = _parse(body)
    context = routes.context_for(rt, principal.tenant_id, principal.own_mailbox_id, fresh=True)
    _require_may_send(principal, context.tenant)
    route = route_in(rt, context, principal)
    delivery_id = delivery_id_for(key)
    record = _record(rt, principal, request, key, route)
    refused = refusal_for(rt, principal.tenant_id, request)
    if refused is not None:
        record = suppressed_record(record, refused)
    # Created first: a retried request (same key) finds its delivery instead of sending again.
    if not rt.activity.create_delivery(principal.tenant_id, delivery_id, record):
        existing = rt.activity.get_delivery(principal.tenant_id, delivery_id)
        return _again(existing or record, request)
    if refused is not None:
        return _refused(rt, principal.tenant_id, delivery_id, record, request.mode)
    if request.mode == "queue":
        _enqueue_due(rt, principal.tenant_id, [(delivery_id, request)])
        return 202, to_json(delivery_id, record)
    outcome = deliver_once(rt, context, principal, request, route, delivery_id=delivery_id)
    rt.activity.update_delivery(principal.tenant_id, delivery_id, outcome)
    delivery = to_json(delivery_id, {**record, **outcome})
    if outcome["state"] == "failed":
        raise _failure_error(outcome["error"], delivery_id)
    return 200, delivery


def send_batch(
    rt: Runtime, principal: Principal, messages: list[Any], key: str | None
) -> list[dict[str, Any]]:
    """Queue up to 500 triggered emails: each result a delivery or the error of that message.

    The settings come from this instance's route cache (`deliver` decides the route again when
    it sends), the deliveries are created in one commit and their tasks concurrently. With an
    Idempotency-Key, message i is keyed `{key}:{i}`."""
    context = routes.context_for(rt, principal.tenant_id, principal.own_mailbox_id)
    _require_may_send(principal, context.tenant)
    route = route_in(rt, context, principal)
    results: list[dict[str, Any]] = [{} for _ in messages]
    accepted: list[tuple[int, str, SendRequest, dict[str, Any]]] = []
    for index, given in enumerate(messages):
        message = {**given, "mode": "queue"} if isinstance(given, dict) else given
        message_key = f"{key}:{index}" if key else None
        try:
            request = _parse(message)
            record = _record(rt, principal, request, message_key, route)
        except AppError as exc:
            results[index] = _batch_error(exc, index)
            continue
        accepted.append((index, delivery_id_for(message_key), request, record))
    every = [a for _, _, r, _ in accepted for a in addresses(r.to + r.cc + r.bcc)]
    suppressed = rt.recipients.suppressed(principal.tenant_id, every) if every else {}
    refusals: dict[str, tuple[str, str]] = {}
    for position, (index, delivery_id, request, record) in enumerate(accepted):
        refused = first_refusal(suppressed, request)
        if refused is not None:
            refusals[delivery_id] = refused
            accepted[position] = (index, delivery_id, request, suppressed_record(record, refused))
    created = rt.activity.create_deliveries(
        principal.tenant_id, [(delivery_id, record) for _, delivery_id, _, record in accepted]
    )
    due: list[tuple[str, SendRequest]] = []
    for (index, delivery_id, request, record), new in zip(accepted, created, strict=True):
        if new and delivery_id in refusals:
            _, body = _refused(rt, principal.tenant_id, delivery_id, record, "queue")
            results[index] = {"delivery": body}
            continue
        if new:
            results[index] = {"delivery": to_json(delivery_id, record)}
            due.append((delivery_id, request))
            continue
        existing = rt.activity.get_delivery(principal.tenant_id, delivery_id)
        try:
            results[index] = {"delivery": _again(existing or record, request)[1]}
        except AppError as exc:
            results[index] = _batch_error(exc, index)
    _enqueue_due(rt, principal.tenant_id, due)
    return results


def refusal_for(rt: Runtime, tenant_id: str, request: SendRequest) -> tuple[str, str] | None:
    """Why the email must not go (a suppressed or opted-out recipient), or None."""
    listed = addresses(request.to + request.cc + request.bcc)
    return first_refusal(rt.recipients.suppressed(tenant_id, listed), request)


def first_refusal(
    suppressed: dict[str, pe.Recipient], request: SendRequest
) -> tuple[str, str] | None:
    for address in addresses(request.to + request.cc + request.bcc):
        refused = pe.refusal(suppressed.get(address.lower()), request.category)
        if refused is not None:
            return refused
    return None


def suppressed_record(record: dict[str, Any], refused: tuple[str, str]) -> dict[str, Any]:
    code, reason = refused
    return {
        **record,
        "state": "suppressed",
        "content": None,
        "error": {
            "class": "suppressed",
            "code": code,
            "message": f"Failed to send email: {reason}.",
            "hint": SUPPRESSED_HINT,
        },
    }


def _refused(
    rt: Runtime, tenant_id: str, delivery_id: str, record: dict[str, Any], mode: str
) -> tuple[int, dict[str, Any]]:
    """A manual send answers the reason (422); a triggered one is recorded `suppressed`, and
    its sender and the admins are told."""
    error = record["error"]
    if mode != "queue":
        raise Refused(
            error["message"],
            code=error["code"],
            hint=error["hint"],
            details={"delivery_id": delivery_id},
        )
    notices.not_sent(rt, tenant_id, delivery_id, record, kind="send_suppressed", error=error)
    return 202, to_json(delivery_id, record)


def _batch_error(exc: AppError, index: int) -> dict[str, Any]:
    error = exc.body()["error"]
    if isinstance(error, dict) and error.get("field"):
        error["field"] = f"messages.{index}.{error['field']}"
    return {"error": error}


def _require_may_send(principal: Principal, tenant: Tenant) -> None:
    if not (principal.is_admin or tenant.members_may_send):
        raise Forbidden(
            "Your practice does not let members send email.",
            code="not_allowed",
            hint="Ask an administrator.",
        )


def _record(
    rt: Runtime, principal: Principal, request: SendRequest, key: str | None, route: Route
) -> dict[str, Any]:
    """The delivery document of a new email."""
    return {
        "kind": "manual",
        "category": request.category,
        "contact_id": request.contact_id,
        "state": "sending",
        "route": route.to_json(),
        "to": request.to,
        "cc": request.cc,
        "bcc": request.bcc,
        "subject": request.subject,
        "attempts": 1,
        "fingerprint": request.fingerprint(),
        "idempotency_key_set": key is not None,
        "created_by": principal.uid,
        "created_at": rt.clock(),
        "error": None,
        # Who sends, for `deliver`, which has no signed-in user to ask.
        "sender": {
            "uid": principal.uid,
            "email": principal.email,
            "name": principal.name,
            "role": principal.role.value,
        },
        **(_queued_fields(rt, request) if request.mode == "queue" else {}),
    }


def _enqueue_due(rt: Runtime, tenant_id: str, deliveries: list[tuple[str, SendRequest]]) -> None:
    """Give the deliveries due soon their tasks now (concurrently); later ones are left to
    `reminders`, which finds the names of these taken."""
    queue = rt.queue
    horizon = rt.clock() + REMINDER_HORIZON
    due = [(i, r.send_at) for i, r in deliveries if r.send_at is None or r.send_at <= horizon]
    if queue is None or not due:
        return
    if len(due) == 1:
        queue.enqueue(tenant_id, due[0][0], at=due[0][1])
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(ENQUEUE_CONCURRENCY, len(due))) as pool:
        list(pool.map(lambda d: queue.enqueue(tenant_id, d[0], at=d[1]), due))


def _parse(body: Any) -> SendRequest:
    try:
        request = parse_model(SendRequest, body)
    except HeaderError as exc:  # raised inside a validator
        raise BadRequest(str(exc), code="invalid_value", field=exc.field) from exc
    try:
        size = request.attachment_bytes()
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_value", field="attachments") from exc
    if size > MAX_ATTACHMENT_BYTES:
        raise PayloadTooLarge(
            f"Attachments add up to {size} bytes; at most "
            f"{MAX_ATTACHMENT_BYTES} bytes (10 MB) can be sent.",
            field="attachments",
            hint="Send large files as a link.",
        )
    return request


def _queued_fields(rt: Runtime, request: SendRequest) -> dict[str, Any]:
    """What a triggered or scheduled delivery keeps until `deliver` sends it."""
    if rt.queue is None:
        raise Unavailable(
            "Triggered emails are not configured.",
            code="no_queue",
            hint="The platform's operator must set SENDVIA_DELIVER_URL.",
        )
    content = request.model_dump(mode="json")
    if len(json.dumps(content)) > MAX_QUEUED_BYTES:
        raise PayloadTooLarge(
            "A queued email can carry at most 900 KB.",
            field="attachments",
            hint="Send large attachments now (mode now) or as a link.",
        )
    fields: dict[str, Any] = {
        "kind": "triggered",
        "state": "queued",
        "attempts": 0,
        "content": content,
    }
    if request.send_at is not None:
        if request.send_at > rt.clock() + MAX_SCHEDULE_AHEAD:
            raise BadRequest(
                "send_at can be at most a year ahead.",
                field="send_at",
                code="invalid_value",
                hint="Pick an earlier time.",
            )
        fields.update({"kind": "scheduled", "state": "scheduled", "send_at": request.send_at})
    return fields


def _again(existing: dict[str, Any], request: SendRequest) -> tuple[int, dict[str, Any]]:
    if existing.get("fingerprint") != request.fingerprint():
        raise Conflict(
            "This Idempotency-Key was used for a different email.",
            code="idempotency_conflict",
            hint="Use a new key for a new email; reuse a key only to retry.",
        )
    status = 202 if existing.get("kind") in ("triggered", "scheduled") else 200
    return status, to_json(existing["id"], existing)


def route_in(rt: Runtime, context: routes.RouteContext, principal: Principal) -> Route:
    found = context.mailboxes
    summaries = {m: MailboxSummary.from_doc(m, d) for m, d in found.items()}
    return route_for(
        rt,
        context.tenant,
        principal,
        summaries.get(TENANT_MAILBOX),
        summaries.get(principal.own_mailbox_id),
    )


def deliver_once(
    rt: Runtime,
    context: routes.RouteContext,
    principal: Principal,
    request: SendRequest,
    route: Route,
    *,
    delivery_id: str,
) -> dict[str, Any]:
    """Send once through the route; the changes to record on the delivery."""
    tenant = context.tenant
    if route.reason is RouteReason.MAILBOX_BROKEN:
        failure = ProviderFailure(
            FailureKind.AUTH, "mailbox_broken", "The mailbox needs re-authorizing."
        )
        doc = context.mailboxes.get(route.mailbox or "")
        kind = MailboxRecord.from_doc(tenant.id, route.mailbox or "", doc).provider if doc else None
        return _failed(failure, route, mailboxes.hint_for(rt, kind, failure) if kind else None)
    if route.via is Via.DEFAULT:
        return _by_relay(rt, tenant, principal, request, route, delivery_id)
    mailbox = MailboxRecord.from_doc(
        principal.tenant_id, route.mailbox or "", context.mailboxes.get(route.mailbox or "") or {}
    )
    message = compose(
        request,
        sender=Mailbox(mailbox.display_name, mailbox.address),
        reply_to=None,
        message_id_domain=mailbox.domain,
    )
    try:
        _not_throttled(rt, mailbox)
        provider = mailboxes.provider_for(rt, mailbox.provider)
        sent = provider.send(mailbox, _outgoing(message, request))
    except ProviderFailure as failure:
        failed = _mailbox_failed(rt, tenant, principal, route, mailbox, failure)
        if failed is None:  # "when my mailbox cannot send, use yours"
            reason = (
                RouteReason.MAILBOX_THROTTLED_FALLBACK
                if failure.kind is FailureKind.QUOTA
                else RouteReason.MAILBOX_BROKEN_FALLBACK
            )
            fallback = _fallback(rt, tenant, principal, reason)
            return _by_relay(rt, tenant, principal, request, fallback, delivery_id)
        return failed
    return _sent(rt, route, message, sent, delivery_id, note=OWN_MAILBOX_NOTE)


def _outgoing(message: EmailMessage, request: SendRequest) -> Outgoing:
    return Outgoing(
        message,
        recipients=tuple(addresses(request.to + request.cc + request.bcc)),
        bcc=tuple(addresses(request.bcc)),
    )


def _sent(
    rt: Runtime,
    route: Route,
    message: EmailMessage,
    sent: Sent,
    delivery_id: str,
    *,
    note: str | None,
) -> dict[str, Any]:
    for warning in sent.warnings:  # the email went; something around it did not
        log.warning("delivery %s: %s: %s", delivery_id, warning["code"], warning["message"])
    return {
        "state": "sent",
        "sent_at": rt.clock(),
        "message_id": message["Message-ID"],
        "provider_message_id": sent.provider_message_id,
        "route": route.to_json(),
        "delivery_note": note,
        "warnings": [dict(w) for w in sent.warnings],
    }


def _mailbox_failed(  # noqa: PLR0917 - the whole situation of a failed send
    rt: Runtime,
    tenant: Tenant,
    principal: Principal,
    route: Route,
    mailbox: MailboxRecord,
    failure: ProviderFailure,
) -> dict[str, Any] | None:
    """The mailbox could not send: it waits (quota) or turns broken (auth), and the email fails
    or — None — goes by the platform's sender, when the tenant chose `on_broken: default`."""
    hint = mailboxes.hint_for(rt, mailbox.provider, failure)
    if failure.kind is FailureKind.QUOTA:
        _throttle(rt, principal.tenant_id, mailbox.id, failure)
    elif failure.kind is FailureKind.AUTH:
        mailboxes.mark_broken(rt, mailbox, failure)
        failure = ProviderFailure(FailureKind.AUTH, "mailbox_broken", failure.reply)
    else:
        return _failed(failure, route, hint)
    if tenant.on_broken is OnBroken.DEFAULT:
        return None
    return _failed(failure, route, hint)


def _fallback(rt: Runtime, tenant: Tenant, principal: Principal, reason: RouteReason) -> Route:
    default = route_for(rt, tenant, principal, None, None)
    return Route(default.via, None, default.sender, reason)


def _not_throttled(rt: Runtime, mailbox: MailboxRecord) -> None:
    """A mailbox its provider asked to wait is not tried again before the time it gave."""
    until = mailbox.throttled_until
    now = rt.clock()
    if until is not None and until > now:
        raise ProviderFailure(
            FailureKind.QUOTA,
            "mailbox_throttled",
            f"The mailbox's provider asked to wait until {until:%H:%M} UTC.",
            retry_after_s=max(1, int((until - now).total_seconds())),
        )


def _throttle(rt: Runtime, tenant_id: str, mailbox_id: str, failure: ProviderFailure) -> None:
    """The provider's limit: the mailbox waits (once per limit, not once per email)."""
    if failure.code == "mailbox_throttled":
        return  # it is already waiting
    until = rt.clock() + dt.timedelta(seconds=failure.retry_after_s or DEFAULT_QUOTA_WAIT_S)
    rt.mailboxes.update(tenant_id, mailbox_id, {"throttled_until": until})


def _by_relay(  # noqa: PLR0917 - who, what, which way, and which delivery
    rt: Runtime,
    tenant: Tenant,
    principal: Principal,
    request: SendRequest,
    route: Route,
    delivery_id: str,
) -> dict[str, Any]:
    relay = rt.relay
    if relay is None:
        raise Unavailable(
            "The platform's own sender is not configured.",
            code="no_relay",
            hint="The platform's operator must set the SENDVIA_RELAY_* settings.",
        )
    name = principal.name or tenant.product_name
    message = compose(
        request,
        sender=Mailbox(name, rt.settings.default_sender_address),
        reply_to=principal.email or None,  # replies reach the person, not noreply@
        message_id_domain=rt.settings.platform_domain,
    )
    try:
        sent = relay.send(
            _outgoing(message, request), tenant_id=principal.tenant_id, delivery_id=delivery_id
        )
    except ProviderFailure as failure:
        return _failed(failure, route, None)
    return _sent(rt, route, message, sent, delivery_id, note=None)


def _failed(failure: ProviderFailure, route: Route, hint: str | None) -> dict[str, Any]:
    return {
        "state": "failed",
        "route": route.to_json(),
        "error": {
            "class": failure.kind.value,
            "code": failure.code,
            "message": _message(failure),
            "hint": hint or _RELAY_HINTS[failure.kind],
            "retry_after_s": failure.retry_after_s,
        },
    }


def _message(failure: ProviderFailure) -> str:
    if failure.code == "mailbox_broken":
        return "Failed to send email: the mailbox connection needs re-authorizing."
    return f"Failed to send email: {failure.reply}"


def _failure_error(error: dict[str, Any], delivery_id: str) -> AppError:
    status = {"auth": 422, "permanent": 422, "quota": 429, "transient": 503}[error["class"]]
    failure = SendFailed(
        error["message"],
        hint=error["hint"],
        code=error["code"],
        details={"delivery_id": delivery_id},
    )
    failure.status = status
    return failure


def to_json(delivery_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The API's Delivery."""

    def stamp(key: str) -> Any:
        value = doc.get(key)
        return value.isoformat() if isinstance(value, dt.datetime) else value

    return {
        "id": delivery_id,
        "kind": doc.get("kind"),
        "category": doc.get("category"),
        "contact_id": doc.get("contact_id"),
        "state": doc.get("state"),
        "route": doc.get("route"),
        "to": doc.get("to", []),
        "cc": doc.get("cc", []),
        "subject": doc.get("subject"),
        "attempts": doc.get("attempts", 0),
        "send_at": stamp("send_at"),
        "sent_at": stamp("sent_at"),
        "message_id": doc.get("message_id"),
        "provider_message_id": doc.get("provider_message_id"),
        "error": doc.get("error"),
        "delivery_note": doc.get("delivery_note"),
        "warnings": list(doc.get("warnings") or []),
    }
