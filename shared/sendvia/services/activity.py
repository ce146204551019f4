"""What the activity screens show: the caller's notifications and the delivery log. A member sees
the notifications addressed to them and the emails they sent; an admin also the admins' and
everything the tenant sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sendvia.domain.delivery import Delivery
from sendvia.domain.principal import Principal
from sendvia.errors import NotFound
from sendvia.runtime import Runtime

DELIVERY_FILTERS = ("contact_id", "state", "category")


def audiences(principal: Principal) -> list[str]:
    return [f"user:{principal.uid}", *(["admins"] if principal.is_admin else [])]


def notifications(rt: Runtime, principal: Principal, *, unread: bool) -> list[dict[str, Any]]:
    found = rt.notifications.newest(principal.tenant_id, audiences(principal))
    if unread:
        found = [n for n in found if principal.uid not in n.get("read_by", [])]
    return found


def mark_read(rt: Runtime, principal: Principal, notification_id: str) -> dict[str, Any]:
    found = rt.notifications.get(principal.tenant_id, notification_id)
    if found is None or found.get("audience") not in audiences(principal):
        raise NotFound(
            "There is no such notification.",
            code="notification_not_found",
            hint="List your notifications to see their ids.",
        )
    rt.notifications.mark_read(principal.tenant_id, notification_id, principal.uid)
    return {**found, "read_by": [*found.get("read_by", []), principal.uid]}


def deliveries(
    rt: Runtime,
    principal: Principal,
    filters: Mapping[str, str],
    page_size: int,
    page_token: str | None,
) -> tuple[list[Delivery], str | None]:
    """The delivery log, newest first."""
    wanted = {name: filters[name] for name in DELIVERY_FILTERS if filters.get(name)}
    if not principal.is_admin:
        wanted["created_by"] = principal.uid
    return rt.deliveries.page(principal.tenant_id, wanted, page_size, page_token)


def delivery(rt: Runtime, principal: Principal, delivery_id: str) -> Delivery:
    found = rt.deliveries.get(principal.tenant_id, delivery_id)
    if found is None or (not principal.is_admin and found.created_by != principal.uid):
        raise NotFound(
            "There is no such delivery.",
            code="delivery_not_found",
            hint="List the deliveries to see their ids.",
        )
    return found
