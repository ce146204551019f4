"""`send`: send an email now, queue it, schedule it, queue a batch, or cancel one not yet sent
(docs/api.md § send)."""

from __future__ import annotations

from sendvia.api import presentation as show
from sendvia.domain.delivery import Delivery
from sendvia.errors import BadRequest, PayloadTooLarge
from sendvia.services import accept as service
from sendvia.web import Call, Reply, Router

router = Router("send")

MAX_BODY_BYTES = 15 * 1024 * 1024  # 10 MB of attachments grow by a third in base64
MAX_BATCH = 500


def _key(call: Call) -> str | None:
    key = call.request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 255:
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 characters.",
            field="Idempotency-Key",
            code="invalid_value",
            hint="Use a UUID per email.",
        )
    return key


@router.route("POST", "/")
def send(call: Call) -> Reply:
    length = call.request.content_length or 0
    if length > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"The request is {length} bytes; at most {MAX_BODY_BYTES}.",
            hint="Attachments can add up to 10 MB; send larger files as a link.",
        )
    key = _key(call)
    status, delivery = service.send(call.runtime, call.user, call.json(), key)
    return Reply(status, {"delivery": show.delivery(delivery)})


@router.route("POST", "/{delivery_id}:cancel")
def cancel(call: Call, delivery_id: str) -> Reply:
    """Cancel a scheduled or queued email that has not started sending."""
    cancelled = service.cancel(call.runtime, call.user, delivery_id)
    return Reply(200, {"delivery": show.delivery(cancelled)})


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
    # A batch's key is taken as given (an empty one means none), as it always was.
    key = call.request.headers.get("Idempotency-Key") or None
    results = service.send_batch(call.runtime, call.user, messages, key)
    shown = [{"delivery": show.delivery(r)} if isinstance(r, Delivery) else r for r in results]
    return Reply(202, {"results": shown})
