"""Accepting an email to send: now (the caller waits for the outcome), queued for `deliver`
(triggered), at a time (scheduled), or up to 500 queued in one batch.

The delivery is written first, keyed by the caller's Idempotency-Key, so a retried request finds
it instead of sending twice; a key reused for another email is a conflict. Suppressed recipients
are refused before anything is queued or sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sendvia.domain.contacts import valid_contact_id
from sendvia.domain.delivery import (
    REMINDER_HORIZON,
    Cancel,
    Delivery,
    DeliveryKind,
    DeliveryState,
)
from sendvia.domain.message import HeaderError
from sendvia.domain.outgoing import MAX_ATTACHMENT_BYTES, MAX_QUEUED_BYTES, addresses
from sendvia.domain.plain_request import PlainRequest, plain_request
from sendvia.domain.principal import Principal
from sendvia.domain.routing import Route, Via
from sendvia.domain.tenant import Tenant
from sendvia.errors import (
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unavailable,
)
from sendvia.runtime import Runtime
from sendvia.services import attempt, manual, routes, suppression, tickets
from sendvia.services.routes import lease_of
from sendvia.validation import parse_model

if TYPE_CHECKING:
    from typing import TypeAlias

    from sendvia.domain.send_request import SendRequest

    # A request as `send` read it: by hand when plainly valid, else with the model.
    Request: TypeAlias = PlainRequest | SendRequest

log = logging.getLogger("sendvia.accept")

MAX_SCHEDULE_AHEAD = dt.timedelta(days=365)

# How long an Idempotency-Key names its email; used again later, it names a new one (Stripe: 24 h).
KEY_LIFETIME = dt.timedelta(hours=24)
MAX_KEY_GENERATIONS = 16

BatchResult = Delivery | dict[str, Any]  # a delivery, or the error of that message


def delivery_id_for(principal: Principal, key: str | None, scope: str = "send") -> str:
    """The caller's Idempotency-Key names the delivery; without one, a fresh id.

    A key belongs to its caller, as Stripe's and Nylas' do: the same key from two users of a
    tenant names two emails. `scope` keeps a batch's message keys apart from single sends'."""
    if not key:
        return secrets.token_hex(16)
    return _digest(scope, principal.uid, key)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]


def _create(
    rt: Runtime, tenant_id: str, delivery_id: str, record: dict[str, Any], *, keyed: bool
) -> tuple[str, Delivery | None, str | None]:
    """Create the delivery: (its id, None, its version); or, when its key already names one,
    (that id, the delivery it names, None). A key is remembered for KEY_LIFETIME: a key used
    again after that names a new email, whose id follows from the expired one's, so retries of
    it find it again."""
    for _ in range(MAX_KEY_GENERATIONS):
        version = rt.deliveries.create(tenant_id, delivery_id, record)
        if version is not None:
            return delivery_id, None, version
        existing = rt.deliveries.get(tenant_id, delivery_id)
        if existing is None:
            continue  # deleted since: create it again
        first_used = existing.created_at
        if not keyed or first_used is None or first_used >= rt.clock() - KEY_LIFETIME:
            return delivery_id, existing, None
        delivery_id = _digest(delivery_id, first_used.isoformat())
    raise Conflict(
        "This Idempotency-Key has been used too many times.",
        code="idempotency_exhausted",
        hint="Use a new key for a new email.",
    )


def send(rt: Runtime, principal: Principal, body: Any, key: str | None) -> tuple[int, Delivery]:
    """Send now (200 with the outcome) or queue it for `deliver` (202)."""
    request = _parse(body)
    context = routes.context_for(rt, principal.tenant_id, principal.own_mailbox_id, fresh=True)
    _require_may_send(principal, context.tenant)
    route = attempt.route_in(rt, context, principal)
    if request.mode == "now" and route.via is Via.DEFAULT and rt.relay is not None:
        rt.relay.warm()  # its connection opens while the delivery is written
    record = _record(rt, principal, request, key, route)
    refused = suppression.refusal_for(rt, principal.tenant_id, request)
    if refused is not None:
        record.update(suppression.suppressed_changes(refused))
    # Created first: a retried request (same key) finds its delivery instead of sending again.
    delivery_id, existing, version = _create(
        rt, principal.tenant_id, delivery_id_for(principal, key), record, keyed=key is not None
    )
    if existing is not None:
        status, again = _again(existing, request)
        if again.kind is DeliveryKind.MANUAL and again.state is DeliveryState.SENDING:
            return manual.resume(
                rt, context=context, principal=principal, request=request, route=route, found=again
            )
        _enqueue_due(rt, principal.tenant_id, _still_queued([(again, request)]))
        return status, again
    created = Delivery.from_doc(delivery_id, record)
    _teach(rt, principal.tenant_id, [request])
    if refused is not None:
        suppression.refuse(rt, principal.tenant_id, created)
        return 202, created
    if created.queued_for_later:
        as_created = {delivery_id: (version, record)} if version is not None else {}
        _enqueue_due(rt, principal.tenant_id, [(delivery_id, request)], as_created)
        return 202, created
    return manual.send_now(
        rt, context=context, principal=principal, request=request, route=route, delivery=created
    )


def send_batch(
    rt: Runtime, principal: Principal, messages: list[Any], key: str | None
) -> list[BatchResult]:
    """Queue up to 500 triggered emails: each result a delivery or the error of that message.

    The settings come from this instance's route cache (`deliver` decides the route again when
    it sends), the deliveries are created in one commit and their tasks concurrently. With an
    Idempotency-Key, message i is keyed `{key}:{i}`."""
    context = routes.context_for(rt, principal.tenant_id, principal.own_mailbox_id)
    _require_may_send(principal, context.tenant)
    route = attempt.route_in(rt, context, principal)
    results: list[BatchResult] = [{} for _ in messages]
    accepted: list[tuple[int, str, Request, dict[str, Any]]] = []
    for index, given in enumerate(messages):
        message = {**given, "mode": "queue"} if isinstance(given, dict) else given
        try:
            request = _parse(message)
            record = _record(rt, principal, request, key, route)
        except AppError as exc:
            results[index] = _batch_error(exc, index)
            continue
        accepted.append((index, delivery_id_for(principal, key, f"batch:{index}"), request, record))
    every = [a for _, _, r, _ in accepted for a in addresses(r.to + r.cc + r.bcc)]
    suppressed = rt.recipients.suppressed(principal.tenant_id, every) if every else {}
    refused_ids = set()
    for _, delivery_id, request, record in accepted:
        refused = suppression.first_refusal(suppressed, request)
        if refused is not None:
            refused_ids.add(delivery_id)
            record.update(suppression.suppressed_changes(refused))
    created = rt.deliveries.create_many(
        principal.tenant_id, [(delivery_id, record) for _, delivery_id, _, record in accepted]
    )
    due: list[tuple[str, Request]] = []
    as_created: dict[str, tuple[str, dict[str, Any]]] = {}
    for (index, delivery_id, request, record), first in zip(accepted, created, strict=True):
        found_id, version = delivery_id, first
        if version is None:  # its key names an email already, or did until it expired
            found_id, existing, version = _create(
                rt, principal.tenant_id, delivery_id, record, keyed=True
            )
            if existing is not None:
                try:
                    results[index] = _again(existing, request)[1]
                except AppError as exc:
                    results[index] = _batch_error(exc, index)
                else:
                    due += _still_queued([(existing, request)])
                continue
        delivery = Delivery.from_doc(found_id, record)
        results[index] = delivery
        if delivery_id in refused_ids:
            suppression.refuse(rt, principal.tenant_id, delivery)
        else:
            due.append((found_id, request))
            if version is not None:
                as_created[found_id] = (version, record)
    _enqueue_due(rt, principal.tenant_id, due, as_created)
    _teach(rt, principal.tenant_id, [r for _, _, r, _ in accepted])
    return results


def _teach(rt: Runtime, tenant_id: str, requests: list[Request]) -> None:
    """An email sent with a contact's id teaches the contact its To addresses (not Cc or Bcc,
    which are as often a colleague or the practice's own copy), where no contact has them yet.
    What cannot be taught now is no reason to fail an email: it is logged."""
    for request in requests:
        if request.contact_id is None or not valid_contact_id(request.contact_id):
            continue  # an id the contacts routes cannot name is not taught
        try:
            rt.contacts.learn(tenant_id, request.contact_id, addresses(request.to), rt.clock())
        except Exception:
            log.warning("could not teach contact %s its addresses", request.contact_id)


def _still_queued(found: list[tuple[Delivery, Request]]) -> list[tuple[str, Request]]:
    """Queued deliveries a retried request found: their tasks are created again (Cloud Tasks
    refuses a task name it has seen, so one that exists is not duplicated). A first request
    whose task creation failed left its delivery queued with no task; its retry mends that."""
    return [(d.id, r) for d, r in found if d.state is DeliveryState.QUEUED]


def cancel(rt: Runtime, principal: Principal, delivery_id: str) -> Delivery:
    """Cancel a scheduled or queued email that has not started sending."""
    outcome, found = rt.deliveries.cancel(
        principal.tenant_id, delivery_id, principal.uid, principal.is_admin
    )
    if outcome is Cancel.MISSING or found is None:
        raise NotFound(
            "There is no such delivery.",
            code="delivery_not_found",
            hint="List the deliveries to see their ids.",
        )
    if outcome is Cancel.TOO_LATE:
        raise Conflict(
            f"This email is already {found.state.value}.",
            code="too_late",
            hint="Only scheduled or queued emails can be cancelled.",
        )
    return found


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
    rt: Runtime, principal: Principal, request: Request, key: str | None, route: Route
) -> dict[str, Any]:
    """The delivery document of a new email."""
    return {
        "kind": DeliveryKind.MANUAL.value,
        "category": request.category,
        "contact_id": request.contact_id,
        "state": DeliveryState.SENDING.value,
        "lease_until": rt.clock() + lease_of(rt),  # the request's own attempt holds it
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


def _enqueue_due(
    rt: Runtime,
    tenant_id: str,
    deliveries: list[tuple[str, Request]],
    as_created: Mapping[str, tuple[str, dict[str, Any]]] | None = None,
) -> None:
    """Give the deliveries due soon their tasks now (concurrently); later ones are left to
    `reminders`, which finds the names of these taken. The ones just created (`as_created`: their
    versions and documents) carry themselves, sealed, so `deliver` need not read them."""
    queue = rt.queue
    horizon = rt.clock() + REMINDER_HORIZON
    due = [(i, r.send_at) for i, r in deliveries if r.send_at is None or r.send_at <= horizon]
    if queue is not None and due:
        fresh = {i: as_created[i] for i, _ in due if as_created and i in as_created}
        queue.enqueue_all(tenant_id, due, tickets.sealed(rt, tenant_id, fresh))


def _parse(body: Any) -> Request:
    plain = plain_request(body)
    if plain is not None:
        return plain
    from sendvia.domain.send_request import SendRequest

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


def _queued_fields(rt: Runtime, request: Request) -> dict[str, Any]:
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
        "kind": DeliveryKind.TRIGGERED.value,
        "state": DeliveryState.QUEUED.value,
        "lease_until": None,
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
        fields.update(
            {
                "kind": DeliveryKind.SCHEDULED.value,
                "state": DeliveryState.SCHEDULED.value,
                "send_at": request.send_at,
            }
        )
    return fields


def _again(existing: Delivery, request: Request) -> tuple[int, Delivery]:
    if existing.fingerprint != request.fingerprint():
        raise Conflict(
            "This Idempotency-Key was used for a different email.",
            code="idempotency_conflict",
            hint="Use a new key for a new email; reuse a key only to retry.",
        )
    return (202 if existing.queued_for_later else 200), existing
