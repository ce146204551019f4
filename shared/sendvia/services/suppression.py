"""Refusing email to addresses the email service told us not to use (docs/sources.md: 002): bounced,
complained, or opted out of the email's category. Checked before anything is queued or sent, and
again by `deliver` for a reminder queued before the bounce."""

from __future__ import annotations

from typing import Any

from sendvia.domain import provider_events as pe
from sendvia.domain.delivery import Delivery, DeliveryState
from sendvia.domain.outgoing import Content, addresses
from sendvia.errors import Refused
from sendvia.runtime import Runtime
from sendvia.services import notices

SUPPRESSED_HINT = (
    "Check the address with the contact. An administrator can reactivate it (and opt it back in "
    "to appointment emails) under the contact's email status."
)

Refusal = tuple[str, str]  # (code, reason)


def refusal_for(rt: Runtime, tenant_id: str, request: Content) -> Refusal | None:
    """Why the email must not go (a suppressed or opted-out recipient), or None."""
    listed = addresses(request.to + request.cc + request.bcc)
    return first_refusal(rt.recipients.suppressed(tenant_id, listed), request)


def first_refusal(suppressed: dict[str, pe.Recipient], request: Content) -> Refusal | None:
    for address in addresses(request.to + request.cc + request.bcc):
        refused = pe.refusal(suppressed.get(address.lower()), request.category)
        if refused is not None:
            return refused
    return None


def suppressed_changes(refused: Refusal) -> dict[str, Any]:
    """What a refused delivery records: suppressed, without its content, and why."""
    code, reason = refused
    return {
        "state": DeliveryState.SUPPRESSED.value,
        "content": None,
        "error": {
            "class": "suppressed",
            "code": code,
            "message": f"Failed to send email: {reason}.",
            "hint": SUPPRESSED_HINT,
        },
    }


def refuse(rt: Runtime, tenant_id: str, delivery: Delivery) -> None:
    """A manual send answers the reason (422); a triggered one was recorded `suppressed`, and
    its sender and the admins are told."""
    error = delivery.error or {}
    if not delivery.notifies:
        raise Refused(
            str(error.get("message", "")),
            code=str(error.get("code", "suppressed")),
            hint=str(error.get("hint", SUPPRESSED_HINT)),
            details={"delivery_id": delivery.id},
        )
    notices.not_sent(rt, tenant_id, delivery, kind="send_suppressed", error=error)
