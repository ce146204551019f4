"""`provider_events`: the default sender's email-service webhooks (internal; docs/api.md
§ Internal).
The signature is the caller's proof: SendGrid's ECDSA header, or the SNS message's own."""

from __future__ import annotations

from sendvia.errors import PayloadTooLarge
from sendvia.services import provider_events as service
from sendvia.web import Call, Reply, Router

router = Router("provider_events", public=False, authenticate=False)

MAX_BODY_BYTES = 1024 * 1024  # SendGrid batches stay well below; SNS messages are ≤ 256 KB


def _body(call: Call) -> bytes:
    length = call.request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request is {length} bytes; at most {MAX_BODY_BYTES}.")
    body: bytes = call.request.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request is over {MAX_BODY_BYTES} bytes.")
    return body


@router.route("POST", "/sendgrid")
def sendgrid(call: Call) -> Reply:
    body = _body(call)
    headers = {
        name: call.request.headers.get(name, "")
        for name in (service.SENDGRID_SIGNATURE, service.SENDGRID_TIMESTAMP)
    }
    return Reply(200, service.receive_sendgrid(call.runtime, headers, body))


@router.route("POST", "/ses")
def ses(call: Call) -> Reply:
    return Reply(200, service.receive_ses(call.runtime, _body(call)))
