"""Addresses as the default sender's email service sees them (docs/sources.md: 002): their status
and history for anyone in the tenant; reactivation and re-opt-in for admins, recorded with who and
why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sendvia.domain import provider_events as pe
from sendvia.domain.principal import Principal
from sendvia.errors import BadRequest, Conflict
from sendvia.runtime import Runtime
from sendvia.services.settings import require_admin


def checked_address(address: str) -> str:
    value = address.strip().lower()
    if not 3 <= len(value) <= 320 or value.count("@") != 1 or any(c.isspace() for c in value):
        raise BadRequest(
            "This is not an email address.",
            field="address",
            code="invalid_value",
            hint="Use the address as it is written, e.g. pat@example.com.",
        )
    return value


def status(rt: Runtime, principal: Principal, address: str) -> pe.Recipient:
    return rt.recipients.get(principal.tenant_id, checked_address(address))


def reactivate(
    rt: Runtime, principal: Principal, address: str, read_body: Callable[[], Any]
) -> pe.Recipient:
    """`read_body` is called once the caller is known to be an admin: a member gets 403."""
    require_admin(principal, "reactivate an address")
    reason = _text(
        read_body(),
        "reason",
        500,
        "Say why the address can be used again (1 to 500 characters).",
        "For example: the patient confirmed the address by phone.",
    )
    current = rt.recipients.get(principal.tenant_id, checked_address(address))
    if current.status is pe.Status.ACTIVE:
        raise Conflict(
            f"{current.address} is active already.",
            code="already_active",
            hint="Only bounced, complained or inactive addresses can be reactivated.",
        )
    return _change(rt, principal, current, {"action": "reactivate", "reason": reason})


def opt_in(
    rt: Runtime, principal: Principal, address: str, read_body: Callable[[], Any]
) -> pe.Recipient:
    require_admin(principal, "opt an address back in")
    category = _text(
        read_body(),
        "category",
        100,
        "Name the category to opt the address back in to.",
        "For example: appointment_reminder.",
    )
    current = rt.recipients.get(principal.tenant_id, checked_address(address))
    if category not in current.opted_out:
        raise Conflict(
            f"{current.address} is not opted out of {category}.",
            code="not_opted_out",
            hint=f"It is opted out of: {', '.join(current.opted_out) or 'nothing'}.",
        )
    return _change(rt, principal, current, {"action": "opt_in", "category": category})


def _text(body: Any, field: str, limit: int, message: str, hint: str) -> str:
    value = body.get(field) if isinstance(body, dict) else None
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= limit:
        raise BadRequest(message, field=field, code="invalid_value", hint=hint)
    return value.strip()


def _change(
    rt: Runtime, principal: Principal, current: pe.Recipient, change: dict[str, Any]
) -> pe.Recipient:
    """Apply an admin's change, recorded with who made it."""
    recorded = {**change, "by": principal.uid}
    return rt.recipients.change(principal.tenant_id, current.address, recorded, rt.clock())
