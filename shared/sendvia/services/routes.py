"""What choosing a route needs — the tenant's settings and the sender's mailbox documents — read
together, and kept by `deliver` for a short while per instance.

A burst of triggered emails for one tenant would otherwise read the same three documents for every
email. An entry lives `SENDVIA_ROUTE_CACHE_SECONDS` (30 s by default) and is dropped at once when
this instance changes the tenant or one of its mailboxes (the adapters report every write). Another
instance's change reaches this one within the lifetime; a cached route that fails for a reason a
change could explain (the mailbox broken, reconnected or removed) is read again before the
email's outcome is decided (services/deliver.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from sendvia.cache import RouteContext
from sendvia.domain.mailbox import TENANT_MAILBOX
from sendvia.runtime import Runtime
from sendvia.services.settings import load_tenant


def lease_of(rt: Runtime) -> dt.timedelta:
    """How long an attempt holds a delivery (SENDVIA_LEASE_S; domain.delivery.LEASE by default)."""
    return dt.timedelta(seconds=rt.settings.lease_s)


def verify_after(rt: Runtime) -> dt.timedelta:
    """How long after an unknown outcome the mailbox is searched (SENDVIA_VERIFY_AFTER_S)."""
    return dt.timedelta(seconds=rt.settings.verify_after_s)


def context_for(
    rt: Runtime, tenant_id: str, own_mailbox_id: str, *, fresh: bool = False
) -> RouteContext:
    """The tenant and the mailboxes a sender's route depends on; from the cache unless `fresh`."""
    key = (tenant_id, own_mailbox_id)
    if not fresh:
        hit = rt.routes.get(key)
        if hit is not None:
            return replace(hit, cached=True)
    generation = rt.routes.generation()
    context = RouteContext(
        tenant=load_tenant(rt, tenant_id),
        mailboxes=rt.mailboxes.get_many(tenant_id, [TENANT_MAILBOX, own_mailbox_id]),
    )
    rt.routes.put(key, context, generation)
    return context
