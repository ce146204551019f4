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
