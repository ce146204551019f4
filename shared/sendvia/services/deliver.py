"""Deliver one queued email, for Cloud Tasks.

At-least-once dispatch must not mean twice sent: the delivery is claimed under a lease
(domain/delivery), so a duplicate dispatch or a racing retry finds it `sending` (busy: try later)
or done. What an attempt's outcome does (domain.delivery.after_failure), and what Cloud Tasks is
answered (`answer_for`):
- sent → 200;
- transient (4xx SMTP, timeouts, 5xx HTTP) → back to `queued`, 503, and Cloud Tasks retries with
  the queue's backoff;
- quota (Gmail's limits, SMTP 4.5.x) → the mailbox is `throttled_until`, the delivery waits for a
  new task at that time (or, when the tenant chose the platform's sender for broken mailboxes,
  goes that way) → 200;
- auth (the mailbox turned broken) and permanent → `failed`, the sender and the admins are
  notified → 200, never retried.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sendvia.cache import RouteContext
from sendvia.domain.delivery import Claim, Delivery, DeliveryState, Next, after_failure
from sendvia.domain.failures import FailureKind
from sendvia.domain.message import clean_display_name
from sendvia.domain.outgoing import SendRequest
from sendvia.domain.principal import Principal, Role
from sendvia.ports import SecretUnavailable
from sendvia.runtime import Runtime
from sendvia.services import attempt, notices, routes, suppression

LEASE = dt.timedelta(minutes=5)


def answer_for(outcome: Claim | Next | None) -> int:
    """The HTTP status for Cloud Tasks: non-2xx means "retry" (a pure rule, table-tested)."""
    if outcome is Claim.BUSY:
        return 409  # another attempt holds the lease; retry later and find it done
    if outcome is Next.RETRY:
        return 503
    return 200


def deliver(rt: Runtime, tenant_id: str, delivery_id: str) -> tuple[int, dict[str, Any]]:
    claim, delivery = rt.deliveries.claim(tenant_id, delivery_id, rt.clock(), LEASE)
    if claim is not Claim.CLAIMED or delivery is None:
        return answer_for(claim), {"outcome": claim.value}
    sender = delivery.sender
    principal = Principal(
        tenant_id,
        str(sender.get("uid", "")),
        str(sender.get("email", "")),
        Role(sender.get("role", "member")),
        clean_display_name(str(sender.get("name", ""))),  # stored before names were cleaned
    )
    request = SendRequest.model_validate(delivery.content)
    refused = suppression.refusal_for(rt, tenant_id, request)
    if refused is not None:  # suppressed since it was queued (a reminder scheduled weeks ago)
        changes = {**suppression.suppressed_changes(refused), "lease_until": None}
        rt.deliveries.update(tenant_id, delivery_id, changes)
        notices.not_sent(rt, tenant_id, delivery, kind="send_suppressed", error=changes["error"])
        return 200, {"outcome": "suppressed"}
    result = _send(rt, tenant_id, delivery_id, principal, request)
    return _record_outcome(rt, tenant_id, delivery, result)


def _record_outcome(
    rt: Runtime, tenant_id: str, delivery: Delivery, result: attempt.Outcome
) -> tuple[int, dict[str, Any]]:
    """Write what the attempt came to, and answer Cloud Tasks accordingly."""
    error = dict(result.error) if result.error is not None else None
    attempt_log = {
        "at": rt.clock(),
        "number": delivery.attempts or 1,
        "outcome": DeliveryState.SENT.value if result.sent else DeliveryState.FAILED.value,
        "route": result.route.get("via"),
        "error": error,
    }
    if result.sent:
        changes = {**result.changes, "lease_until": None, "content": None}
        rt.deliveries.update(tenant_id, delivery.id, changes, attempt=attempt_log)
        return 200, {"outcome": "sent"}
    next_step = after_failure(result.failure_kind or FailureKind.PERMANENT)
    if next_step is Next.RETRY:
        queued = {"state": DeliveryState.QUEUED.value, "lease_until": None, "last_error": error}
        rt.deliveries.update(tenant_id, delivery.id, queued, attempt=attempt_log)
        return answer_for(next_step), {"outcome": "retry", "error": error}
    if next_step is Next.DEFER:
        wait = (error or {}).get("retry_after_s") or attempt.DEFAULT_QUOTA_WAIT_S
        until = rt.clock() + dt.timedelta(seconds=wait)  # the mailbox itself waits too
        deferred = {
            "state": DeliveryState.QUEUED.value,
            "lease_until": None,
            "last_error": error,
            "send_at": until,
        }
        rt.deliveries.update(tenant_id, delivery.id, deferred, attempt=attempt_log)
        if rt.queue is not None:
            rt.queue.enqueue(tenant_id, delivery.id, at=until, generation=delivery.attempts or 1)
        return 200, {"outcome": "deferred", "until": until.isoformat()}
    failed = {
        "state": DeliveryState.FAILED.value,
        "lease_until": None,
        "error": error,
        "route": dict(result.route) or None,
    }
    rt.deliveries.update(tenant_id, delivery.id, failed, attempt=attempt_log)
    notices.not_sent(rt, tenant_id, delivery, kind="send_failed", error=error or {})
    return 200, {"outcome": "failed", "error": error}


def _send(
    rt: Runtime, tenant_id: str, delivery_id: str, principal: Principal, request: SendRequest
) -> attempt.Outcome:
    """Send through the sender's route, from this instance's cached settings when it has them.

    A cached route that fails in a way a change of settings could explain — the credentials
    refused or gone, the mailbox broken — is read again and tried once more: a mailbox
    reconnected on another instance a moment ago must not fail this email. Nothing was sent by
    a failed attempt of those kinds, so trying again cannot send twice."""

    def once(context: RouteContext) -> attempt.Outcome:
        route = attempt.route_in(rt, context, principal)
        return attempt.deliver_once(rt, context, principal, request, route, delivery_id=delivery_id)

    context = routes.context_for(rt, tenant_id, principal.own_mailbox_id)
    try:
        result = once(context)
    except SecretUnavailable:
        if not context.cached:
            raise  # the secret of a current mailbox is unreadable: a 5xx, and a retry later
        result = attempt.Outcome(sent=False, route={}, changes={}, error={"class": "auth"})
    if context.cached and result.failure_kind is FailureKind.AUTH:
        result = once(routes.context_for(rt, tenant_id, principal.own_mailbox_id, fresh=True))
    return result
