"""A manual send (the caller waits for the outcome): one attempt under the delivery's claim, and
the recovery of one whose request died before it recorded an outcome."""

from __future__ import annotations

from typing import Any

from sendvia.cache import RouteContext
from sendvia.domain.delivery import Claim, Delivery
from sendvia.domain.failures import FailureKind
from sendvia.domain.outgoing import Content
from sendvia.domain.principal import Principal
from sendvia.domain.routing import Route
from sendvia.runtime import Runtime
from sendvia.services import attempt, handover
from sendvia.services.routes import lease_of


def send_now(
    rt: Runtime,
    *,
    context: RouteContext,
    principal: Principal,
    request: Content,
    route: Route,
    delivery: Delivery,
) -> tuple[int, Delivery]:
    """One attempt of a manual send, under the delivery's claim (attempt `delivery.attempts`):
    the outcome is recorded only while it holds it. An email the provider may have taken
    without confirming is answered as `sent_unconfirmed`, not as an error to retry."""
    tenant_id, number = principal.tenant_id, delivery.attempts
    try:
        outcome = attempt.deliver_once(
            rt, context, principal, request, route, delivery_id=delivery.id, attempt_number=number
        )
    except handover.Superseded:
        return 202, rt.deliveries.get(tenant_id, delivery.id) or delivery
    changes = {**outcome.changes, "lease_until": None}
    rt.deliveries.finish(tenant_id, delivery.id, number, changes)
    if outcome.error is not None and outcome.failure_kind is not FailureKind.UNKNOWN:
        raise attempt.failure_of(outcome.error, delivery.id)
    return 200, Delivery.from_doc(delivery.id, {**_as_doc(delivery), **changes})


def resume(
    rt: Runtime,
    *,
    context: RouteContext,
    principal: Principal,
    request: Content,
    route: Route,
    found: Delivery,
) -> tuple[int, Delivery]:
    """A retried manual send whose first request never recorded an outcome (it died, or its
    caller gave up waiting). While that attempt's lease lasts, this one answers 202 with the
    delivery as it stands; once it has passed, it takes the delivery over: an attempt that had
    handed the message over is settled by searching the mailbox (attempt.settle_unknown), one
    that had not is sent now."""
    claim, claimed = rt.deliveries.claim(principal.tenant_id, found.id, rt.clock(), lease_of(rt))
    if claim is not Claim.CLAIMED or claimed is None:
        return 202, rt.deliveries.get(principal.tenant_id, found.id) or found
    settled = (
        attempt.settle_unknown(rt, context, principal, claimed)
        if claimed.interrupted_after_handover
        else None
    )
    if settled is not None:  # found in the mailbox, or unknown: not sent again
        changes = {**settled.changes, "lease_until": None}
        rt.deliveries.finish(principal.tenant_id, found.id, claimed.attempts, changes)
        return 200, Delivery.from_doc(found.id, {**_as_doc(claimed), **changes})
    return send_now(
        rt, context=context, principal=principal, request=request, route=route, delivery=claimed
    )


def _as_doc(delivery: Delivery) -> dict[str, Any]:
    """Enough of a delivery's document to show it after a change."""
    return {
        "kind": delivery.kind.value,
        "state": delivery.state.value,
        "to": list(delivery.to),
        "cc": list(delivery.cc),
        "subject": delivery.subject,
        "category": delivery.category,
        "contact_id": delivery.contact_id,
        "route": delivery.route,
        "attempts": delivery.attempts,
        "created_by": delivery.created_by,
        "created_at": delivery.created_at,
        "fingerprint": delivery.fingerprint,
        "send_at": delivery.send_at,
    }
