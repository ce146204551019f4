"""In-app notifications about an email: its sender and the tenant's admins are told, once each
(an admin who sent it is told once, as an admin)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sendvia.domain.delivery import Delivery
from sendvia.runtime import Runtime


def tell_sender_and_admins(
    rt: Runtime, tenant_id: str, delivery: Delivery, notice: Mapping[str, Any]
) -> None:
    sender = delivery.sender
    audiences = ["admins"]
    if sender.get("uid") and sender.get("role") != "admin":
        audiences.append(f"user:{sender['uid']}")
    for audience in audiences:
        rt.notifications.add(tenant_id, {**notice, "audience": audience}, rt.clock())


def not_sent(
    rt: Runtime,
    tenant_id: str,
    delivery: Delivery,
    *,
    kind: str,
    error: Mapping[str, Any],
) -> None:
    """A triggered email that finally failed (`send_failed`) or was refused (`send_suppressed`)."""
    tell_sender_and_admins(
        rt,
        tenant_id,
        delivery,
        {
            "kind": kind,
            "delivery_id": delivery.id,
            "title": f"Email to {', '.join(delivery.to)} was not sent: {delivery.subject}",
            "message": error.get("message", "Failed to send email."),
            "hint": error.get("hint", ""),
        },
    )
