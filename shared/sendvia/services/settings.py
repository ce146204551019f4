"""Tenant settings: what the settings page shows, the admin's changes, the members list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sendvia.domain.mailbox import TENANT_MAILBOX, MailboxRecord, MailboxSummary
from sendvia.domain.principal import Principal
from sendvia.domain.routing import Route, relevant_mailbox, resolve_route
from sendvia.domain.tenant import Tenant
from sendvia.errors import Forbidden
from sendvia.runtime import Runtime
from sendvia.services.progress import progress_of
from sendvia.validation import parse_model


def load_tenant(rt: Runtime, tenant_id: str) -> Tenant:
    """The tenant's settings, or the defaults when the tenant has never saved any."""
    stored = rt.store.get_tenant(tenant_id)
    if stored is None:
        return Tenant.defaults(tenant_id, rt.settings.default_product_name)
    return Tenant.from_stored(tenant_id, stored, rt.settings.default_product_name)


def require_admin(principal: Principal, action: str) -> None:
    if not principal.is_admin:
        raise Forbidden(
            f"Only an administrator can {action}.",
            code="admin_only",
            hint="Ask an administrator of your practice.",
        )


@dataclass(frozen=True)
class Overview:
    """What the settings page shows: the tenant, its mailbox and the caller's, and the route
    the caller's email takes today."""

    tenant: Tenant
    tenant_mailbox: MailboxRecord | None
    own_mailbox: MailboxRecord | None
    route: Route
    may_send: bool


def overview(rt: Runtime, principal: Principal) -> Overview:
    """GET settings."""
    tenant = load_tenant(rt, principal.tenant_id)
    found = rt.mailboxes.get_many(principal.tenant_id, [TENANT_MAILBOX, principal.own_mailbox_id])
    tenant_mailbox, own = found.get(TENANT_MAILBOX), found.get(principal.own_mailbox_id)
    route = route_for(
        rt,
        tenant,
        principal,
        tenant_mailbox.summary() if tenant_mailbox else None,
        own.summary() if own else None,
    )
    return Overview(
        tenant, tenant_mailbox, own, route, principal.is_admin or tenant.members_may_send
    )


def route_for(
    rt: Runtime,
    tenant: Tenant,
    principal: Principal,
    tenant_mailbox: MailboxSummary | None,
    own_mailbox: MailboxSummary | None,
) -> Route:
    mailbox = relevant_mailbox(tenant, tenant_mailbox, own_mailbox)
    return resolve_route(
        tenant,
        mailbox,
        sender_name=principal.name,
        platform_address=rt.settings.default_sender_address,
    )


def update_tenant(rt: Runtime, principal: Principal, body: Callable[[], Any]) -> dict[str, Any]:
    """PATCH settings (admin): change only the given fields; returns the new Tenant.

    `body` is read only once the caller is known to be an admin: a member gets 403 whatever
    they sent."""
    require_admin(principal, "change the practice's email settings")
    from sendvia.domain.tenant_patch import TenantPatch  # pydantic: only a change needs it

    patch = parse_model(TenantPatch, body())
    tenant = patch.apply(load_tenant(rt, principal.tenant_id))
    rt.store.save_tenant(tenant)
    return tenant.to_json()


def members(rt: Runtime, principal: Principal) -> dict[str, Any]:
    """GET settings/members (admin): who has used the product and how their mailbox stands."""
    require_admin(principal, "see the members list")
    records = rt.store.list_members(principal.tenant_id)
    mailbox_ids = [f"user-{m['uid']}" for m in records]
    mailboxes = rt.store.get_mailboxes(principal.tenant_id, mailbox_ids)
    live = progress_of(rt, principal.tenant_id, [m for m, b in mailboxes.items() if b.receive])
    listed = []
    for record in records:
        mailbox = mailboxes.get(f"user-{record['uid']}")
        listed.append(
            {
                "uid": record["uid"],
                "email": record.get("email", ""),
                "name": record.get("name", ""),
                "role": record.get("role", "member"),
                "last_seen_at": record.get("last_seen"),
                "mailbox": None
                if mailbox is None
                else {
                    "state": mailbox.state.value,
                    "provider": mailbox.provider.value,
                    "address": mailbox.address,
                    "receive": mailbox.receive,
                },
                "last_synced_at": (
                    live[mailbox.id]["last_synced_at"]
                    if mailbox.id in live
                    else mailbox.last_synced_at
                )
                if mailbox
                else None,
                # ok | behind | failing (with its cause), and the backfill's progress
                "sync": live.get(mailbox.id) if mailbox else None,
            }
        )
    return {"members": listed}
