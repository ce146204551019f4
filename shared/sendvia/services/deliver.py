"""Deliver one queued email, for Cloud Tasks (DESIGN.md §6).

At-least-once dispatch must not mean twice sent: the delivery is claimed in a Firestore
transaction with a lease, so a duplicate dispatch or a racing retry finds it `sending` (busy: try
later) or `sent` (done). Outcomes, as `answer_for` classifies them:
- sent → 200;
- transient (4xx SMTP, timeouts, 5xx HTTP) → back to `queued`, 503, and Cloud Tasks retries with
  the queue's backoff;
- quota (Gmail's limits, SMTP 4.5.x) → the mailbox is `throttled_until`, the delivery waits for a
  new task at that time (or, when the tenant chose the platform's sender for broken mailboxes,
  goes that way) → 200;
- auth (handled by the send: the mailbox turns broken) and permanent → `failed`, the sender and the
  admins are notified → 200, never retried.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sendvia.domain.outgoing import SendRequest
from sendvia.domain.principal import Principal, Role
from sendvia.runtime import Runtime
from sendvia.services import notices, routes, send

LEASE = dt.timedelta(minutes=5)


def answer_for(state: str, error_class: str | None) -> int:
    """The HTTP status for Cloud Tasks: non-2xx means "retry" (a pure rule, table-tested)."""
    if state == "busy":
        return 409  # another attempt holds the lease; retry later and find it done
    if state == "queued" and error_class == "transient":
        return 503
    return 200


def deliver(rt: Runtime, tenant_id: str, delivery_id: str) -> tuple[int, dict[str, Any]]:
    outcome, doc = rt.activity.claim_delivery(tenant_id, delivery_id, rt.clock(), LEASE)
    if outcome == "missing":
        return 200, {"outcome": "missing"}  # nothing to do; a retry would not change that
    if outcome in ("done", "busy") or doc is None:
        return answer_for(outcome, None), {"outcome": outcome}
    sender = doc.get("sender", {})
    principal = Principal(
        tenant_id,
        sender.get("uid", ""),
        sender.get("email", ""),
        Role(sender.get("role", "member")),
        sender.get("name", ""),
    )
    request = SendRequest.model_validate(doc["content"])
    refused = send.refusal_for(rt, tenant_id, request)
    if refused is not None:  # suppressed since it was queued (a reminder scheduled weeks ago)
        record = send.suppressed_record(doc, refused)
        rt.activity.update_delivery(
            tenant_id,
            delivery_id,
            {"state": "suppressed", "lease_until": None, "content": None, "error": record["error"]},
        )
        notices.not_sent(
            rt, tenant_id, delivery_id, record, kind="send_suppressed", error=record["error"]
        )
        return 200, {"outcome": "suppressed"}
    return _record_outcome(
        rt, tenant_id, delivery_id, doc, _send(rt, tenant_id, delivery_id, principal, request)
    )


def _record_outcome(
    rt: Runtime, tenant_id: str, delivery_id: str, doc: dict[str, Any], result: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Write what the attempt came to, and answer Cloud Tasks accordingly."""
    error = result.get("error")
    attempt = {
        "at": rt.clock(),
        "number": doc.get("attempts", 1),
        "outcome": result["state"],
        "route": result["route"].get("via"),
        "error": error,
    }
    if result["state"] == "sent":
        rt.activity.update_delivery(
            tenant_id,
            delivery_id,
            {**result, "lease_until": None, "content": None},
            attempt=attempt,
        )
        return 200, {"outcome": "sent"}
    error_class = error["class"] if error else "permanent"
    if error_class == "transient":
        rt.activity.update_delivery(
            tenant_id,
            delivery_id,
            {"state": "queued", "lease_until": None, "last_error": error},
            attempt=attempt,
        )
        return answer_for("queued", "transient"), {"outcome": "retry", "error": error}
    if error_class == "quota":
        wait = dt.timedelta(seconds=(error or {}).get("retry_after_s") or send.DEFAULT_QUOTA_WAIT_S)
        until = rt.clock() + wait  # the mailbox itself was told to wait (send.deliver_once)
        generation = int(doc.get("attempts", 1))
        rt.activity.update_delivery(
            tenant_id,
            delivery_id,
            {"state": "queued", "lease_until": None, "last_error": error, "send_at": until},
            attempt=attempt,
        )
        if rt.queue is not None:
            rt.queue.enqueue(tenant_id, delivery_id, at=until, generation=generation)
        return 200, {"outcome": "deferred", "until": until.isoformat()}
    rt.activity.update_delivery(
        tenant_id,
        delivery_id,
        {"state": "failed", "lease_until": None, "error": error, "route": result["route"]},
        attempt=attempt,
    )
    notices.not_sent(rt, tenant_id, delivery_id, doc, kind="send_failed", error=error or {})
    return 200, {"outcome": "failed", "error": error}


def _send(
    rt: Runtime, tenant_id: str, delivery_id: str, principal: Principal, request: SendRequest
) -> dict[str, Any]:
    """Send through the sender's route, from this instance's cached settings when it has them.

    A cached route that fails in a way a change of settings could explain — the credentials
    refused or gone, the mailbox broken — is read again and tried once more: a mailbox
    reconnected on another instance a moment ago must not fail this email. Nothing was sent by
    a failed attempt of those kinds, so trying again cannot send twice."""
    from google.api_core import exceptions

    def attempt(context: routes.RouteContext) -> dict[str, Any]:
        route = send.route_in(rt, context, principal)
        return send.deliver_once(rt, context, principal, request, route, delivery_id=delivery_id)

    context = routes.context_for(rt, tenant_id, principal.own_mailbox_id)
    try:
        result = attempt(context)
    except (exceptions.NotFound, exceptions.FailedPrecondition):
        if not context.cached:
            raise  # the secret of a current mailbox is unreadable: a 5xx, and a retry later
        result = {"state": "failed", "error": {"class": "auth"}}
    error = result.get("error") or {}
    if context.cached and result["state"] != "sent" and error.get("class") == "auth":
        result = attempt(routes.context_for(rt, tenant_id, principal.own_mailbox_id, fresh=True))
    return result
