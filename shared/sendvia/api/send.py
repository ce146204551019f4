"""`send`: send an email now through the route the settings give (API.md § send)."""

from __future__ import annotations

from sendvia.errors import BadRequest
from sendvia.services import send as service
from sendvia.web import Call, Reply, Router

router = Router("send")

MAX_BODY_BYTES = 15 * 1024 * 1024  # 10 MB of attachments grow by a third in base64


@router.route("POST", "/")
def send(call: Call) -> Reply:
    length = call.request.content_length or 0
    if length > MAX_BODY_BYTES:
        from sendvia.errors import PayloadTooLarge

        raise PayloadTooLarge(
            f"The request is {length} bytes; at most {MAX_BODY_BYTES}.",
            hint="Attachments can add up to 10 MB; send larger files as a link.",
        )
    key = call.request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 255:
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 characters.",
            field="Idempotency-Key",
            code="invalid_value",
            hint="Use a UUID per email.",
        )
    status, delivery = service.send(call.runtime, call.user, call.json(), key)
    return Reply(status, {"delivery": delivery})


@router.route("POST", "/{delivery_id}:cancel")
def cancel(call: Call, delivery_id: str) -> Reply:
    """Cancel a scheduled or queued email that has not started sending."""
    from sendvia.errors import Conflict, NotFound

    outcome, doc = call.runtime.activity.cancel_delivery(
        call.user.tenant_id, delivery_id, call.user.uid, call.user.is_admin
    )
    if outcome == "missing" or doc is None:
        raise NotFound(
            "There is no such delivery.",
            code="delivery_not_found",
            hint="List the deliveries to see their ids.",
        )
    if outcome == "too_late":
        raise Conflict(
            f"This email is already {doc['state']}.",
            code="too_late",
            hint="Only scheduled or queued emails can be cancelled.",
        )
    return Reply(200, {"delivery": service.to_json(delivery_id, doc)})


MAX_BATCH = 500


@router.route("POST", "/batch")
def batch(call: Call) -> Reply:
    """Up to 500 triggered emails in one request; results in order, each a delivery or an
    error. With an Idempotency-Key, message i is keyed `{key}:{i}`, so a retried batch sends
    nothing twice."""
    body = call.json()
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_BATCH:
        raise BadRequest(
            f"messages must be a list of 1 to {MAX_BATCH} emails.",
            field="messages",
            code="invalid_value",
            hint="Split larger batches into several requests.",
        )
    key = call.request.headers.get("Idempotency-Key")
    results = service.send_batch(call.runtime, call.user, messages, key)
    return Reply(202, {"results": results})
