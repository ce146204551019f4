"""In-app notifications about an email: its sender and the tenant's admins are told, once each
(an admin who sent it is told once, as an admin)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sendvia.domain.delivery import Delivery
from sendvia.runtime import Runtime

log = logging.getLogger("sendvia.notices")


def tell_sender_and_admins(
    rt: Runtime,
    tenant_id: str,
    delivery: Delivery,
    notice: Mapping[str, Any],
    *,
    once_as: str | None = None,
) -> None:
    """With `once_as`, each audience is told once under that name, however often this runs:
    the notice can then be written before the state that records it, so a crash between the
    two loses nothing and a retry tells nobody twice."""
    sender = delivery.sender
    audiences = ["admins"]
    if sender.get("uid") and sender.get("role") != "admin":
        audiences.append(f"user:{sender['uid']}")
    for audience in audiences:
        notice_id = f"{once_as}-{audience.replace(':', '-')}" if once_as else None
        rt.notifications.add(tenant_id, {**notice, "audience": audience}, rt.clock(), notice_id)


def not_sent(
    rt: Runtime,
    tenant_id: str,
    delivery: Delivery,
    *,
    kind: str,
    error: Mapping[str, Any],
) -> None:
    """A triggered email that finally failed (`send_failed`) or was refused (`send_suppressed`);
    told once per delivery and kind."""
    if kind == "send_failed":  # the event an operator's log-based metric counts (infra/)
        fields = {
            "event": "delivery_failed",
            "tenant_id": tenant_id,
            "delivery_id": delivery.id,
            "cause": str(error.get("code") or "unknown"),
        }
        log.warning(
            "delivery %s failed: %s", delivery.id, fields["cause"], extra={"fields": fields}
        )
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
        once_as=f"{kind}-{delivery.id}",
    )
