"""Deliver one queued email, for Cloud Tasks.

At-least-once dispatch must not mean twice sent. An attempt reads the delivery (or takes it as
created from its task's sealed ticket, services/tickets), decides, and claims it (a lease and
its attempt number, domain/delivery) in the same write that marks it handed over, conditional on
the version it read, just before the provider is asked; a duplicate dispatch that read the same
version cannot make that write, and one that comes later finds it `sending` (busy: try later) or
done. What came of it is recorded only while it still holds the claim (services/handover). What
an attempt's
outcome leads to (domain.delivery.after_failure), and what Cloud Tasks is answered
(`answer_for`):
- sent → 200;
- transient (4xx SMTP, refused connections, 5xx HTTP) → back to `queued`, 503, and Cloud Tasks
  retries with the queue's backoff; the last attempt the queue allows fails it instead;
- quota (Gmail's limits, SMTP 4.5.x) → the mailbox is `throttled_until`, the delivery waits for a
  new task at that time (or, when the tenant chose the platform's sender for broken mailboxes,
  goes that way) → 200;
- unknown (no answer after the message was handed over) → through a mailbox that can be
  searched (Gmail with a read scope, IMAP), back to `queued`, still marked handed over, with a
  task VERIFY_AFTER later; otherwise `sent_unconfirmed`, never sent again → 200;
- a claim finding an earlier hand-over unrecorded (that attempt died, or is being verified)
  searches the mailbox for the Message-ID first (attempt.settle_unknown): found → `sent`;
  absent from a provider that files all it sends (Gmail) → sent now; else `sent_unconfirmed`;
- auth (the mailbox turned broken) and permanent → `failed`, the sender and the admins are
  notified → 200, never retried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sendvia.cache import RouteContext
from sendvia.domain.delivery import (
    Claim,
    Delivery,
    DeliveryState,
    Next,
    after_failure,
)
from sendvia.domain.failures import FailureKind
from sendvia.domain.message import clean_display_name
from sendvia.domain.outgoing import StoredContent
from sendvia.domain.principal import Principal, Role
from sendvia.ports import SecretUnavailable
from sendvia.runtime import Runtime
from sendvia.services import attempt, handover, notices, routes, suppression, tickets
from sendvia.services.routes import lease_of

DEFAULT_MAX_ATTEMPTS = 20


def answer_for(outcome: Claim | Next | None) -> int:
    """The HTTP status for Cloud Tasks: non-2xx means "retry" (a pure rule, table-tested)."""
    if outcome is Claim.BUSY:
        return 409  # another attempt holds the lease; retry later and find it done
    if outcome is Next.RETRY:
        return 503
    return 200


class _Changed(Exception):  # noqa: N818 - what an attempt learns
    """The delivery is no longer as `send` created it (its task's ticket): nothing was written
    or sent by this attempt, which reads it instead."""


def deliver(
    rt: Runtime, tenant_id: str, delivery_id: str, as_created: Mapping[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """One attempt: read the delivery (or take it as `send` created it, from the task's
    ticket), decide, and write once before the provider is asked (the claim and the hand-over
    mark together) and once after (the outcome). An attempt that died holding the delivery
    (its lease passed) is taken over with a claim of its own."""
    if rt.relay is not None:
        # Most emails, and every fallback, go by the relay: on an instance's first delivery its
        # connection opens while the delivery is read and claimed (once per instance).
        rt.relay.warm()
    given = tickets.opened(rt, tenant_id, delivery_id, as_created) if as_created else None
    if given is not None:
        try:
            return _attempt(rt, tenant_id, delivery_id, given)
        except _Changed:
            pass  # cancelled, or taken by an earlier dispatch of this task: read it
    return _attempt(rt, tenant_id, delivery_id, None)


def _attempt(
    rt: Runtime, tenant_id: str, delivery_id: str, given: tuple[Delivery, str] | None
) -> tuple[int, dict[str, Any]]:
    """With `given` (the delivery as created, its version), nothing is read: the first write
    is conditional on that version, and `_Changed` is raised if it fails."""
    now, lease = rt.clock(), lease_of(rt)
    delivery: Delivery | None
    ticket: Any
    if given is not None:
        delivery, ticket = given
        if delivery.claim_refused(now, lease) is not None:
            raise _Changed(delivery_id)
        claim = Claim.CLAIMED
    else:
        claim, delivery, ticket = rt.deliveries.look(tenant_id, delivery_id, now, lease)
        if claim is Claim.CLAIMED and delivery is not None and ticket is None:
            claim, delivery = rt.deliveries.claim(tenant_id, delivery_id, now, lease)
    if claim is not Claim.CLAIMED or delivery is None:
        return answer_for(claim), {"outcome": claim.value}
    if ticket is not None:  # not claimed yet: its first write claims it, as this attempt
        delivery = replace(delivery, attempts=delivery.attempts + 1)
    handing = handover.Handover(rt, tenant_id, delivery_id, delivery.attempts, ticket)
    try:
        return _carry_out(rt, tenant_id, delivery, handing, from_ticket=given is not None)
    except _Changed:
        raise
    except Exception as exc:
        if given is not None and handing.untaken:
            # An error before anything was written (no relay configured, a setting unreadable):
            # the delivery may have been cancelled or sent since, which only a read shows.
            raise _Changed(delivery_id) from exc
        raise


def _carry_out(
    rt: Runtime,
    tenant_id: str,
    delivery: Delivery,
    handing: handover.Handover,
    *,
    from_ticket: bool,
) -> tuple[int, dict[str, Any]]:
    """The attempt, once it may send: settle an earlier attempt's unknown outcome, refuse what
    was suppressed meanwhile, send, and record what came of it."""
    delivery_id = delivery.id
    sender = delivery.sender
    principal = Principal(
        tenant_id,
        str(sender.get("uid", "")),
        str(sender.get("email", "")),
        Role(sender.get("role", "member")),
        clean_display_name(str(sender.get("name", ""))),  # stored before names were cleaned
    )
    if delivery.interrupted_after_handover:
        context = routes.context_for(rt, tenant_id, principal.own_mailbox_id)
        settled = attempt.settle_unknown(rt, context, principal, delivery)
        if settled is not None:
            return _record_outcome(rt, tenant_id, delivery, settled, handing)
    request = StoredContent.from_json(delivery.content or {})  # validated when it was sent
    refused = suppression.refusal_for(rt, tenant_id, request)
    if refused is not None:  # suppressed since it was queued (a reminder scheduled weeks ago)
        if from_ticket:
            raise _Changed(delivery_id)  # people are told only what a read showed
        changes = {**suppression.suppressed_changes(refused), "lease_until": None}
        notices.not_sent(rt, tenant_id, delivery, kind="send_suppressed", error=changes["error"])
        handing.finish(changes)
        return 200, {"outcome": "suppressed"}
    try:
        result = _send(
            rt, tenant_id=tenant_id, principal=principal, request=request, handing=handing
        )
    except handover.Superseded:
        if from_ticket and handing.untaken:
            raise _Changed(delivery_id) from None
        return _superseded()
    return _record_outcome(rt, tenant_id, delivery, result, handing, from_ticket=from_ticket)


def _superseded() -> tuple[int, dict[str, Any]]:
    # Another attempt holds it: retry this task later, and find it done (a duplicate dispatch
    # answered 200 could end the task while the winner still needs its retries).
    return 409, {"outcome": "superseded"}


def _log(rt: Runtime, number: int, result: attempt.Outcome) -> dict[str, Any]:
    """The attempt, for the delivery's attempts log."""
    if result.error:
        state = result.changes.get("state") or DeliveryState.FAILED.value
    else:
        state = DeliveryState.SENT.value
    return {
        "at": rt.clock(),
        "number": number,
        "outcome": state,
        "route": result.route.get("via"),
        "error": dict(result.error) if result.error else None,
    }


def _unconfirmed(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "state": DeliveryState.SENT_UNCONFIRMED.value,
        "lease_until": None,
        "content": None,
        "error": error,
    }


def _record_outcome(
    rt: Runtime,
    tenant_id: str,
    delivery: Delivery,
    result: attempt.Outcome,
    handing: handover.Handover,
    *,
    from_ticket: bool = False,
) -> tuple[int, dict[str, Any]]:
    """Write what the attempt came to — only while this attempt still holds the delivery — and
    answer Cloud Tasks accordingly. Taken from a ticket with nothing written yet, an outcome
    that fails its condition, or that tells people (a failure), is decided again from a read."""
    number = delivery.attempts
    unread = from_ticket and handing.untaken
    changes, answer, next_step = _changes_for(rt, delivery, result)
    if next_step is Next.FAIL:
        if unread:
            raise _Changed(delivery.id)  # cancelled since, maybe: nobody is told from a ticket
        # The notice first, once per delivery: a crash before the state is written loses
        # nothing, and the retry that follows tells nobody twice.
        notices.not_sent(rt, tenant_id, delivery, kind="send_failed", error=changes["error"] or {})
    log = _log(rt, number, result)
    if not handing.finish(changes, log):
        if unread:
            raise _Changed(delivery.id)
        return _superseded()  # another attempt holds it: its outcome stands
    if next_step in (Next.DEFER, Next.VERIFY) and rt.queue is not None:
        rt.queue.enqueue(tenant_id, delivery.id, at=changes["send_at"], generation=number)
    return answer_for(next_step), answer


def _changes_for(
    rt: Runtime, delivery: Delivery, result: attempt.Outcome
) -> tuple[dict[str, Any], dict[str, Any], Next | None]:
    """What to record of an attempt's outcome, what Cloud Tasks is told, and what comes next."""
    error = dict(result.error) if result.error is not None else None
    route = dict(result.route) or None
    if result.sent:
        return {**result.changes, "lease_until": None, "content": None}, {"outcome": "sent"}, None
    max_attempts = rt.settings.tasks.max_attempts if rt.settings.tasks else DEFAULT_MAX_ATTEMPTS
    tries = delivery.retries + 1  # of the transient kind, this one included
    next_step = after_failure(
        result.failure_kind or FailureKind.PERMANENT,
        attempts=tries,
        max_attempts=max_attempts,
        searchable=result.searchable,
    )
    if next_step is Next.VERIFY:
        until = rt.clock() + routes.verify_after(rt)
        verifying = {
            "state": DeliveryState.QUEUED.value,
            "due_at": until,
            "lease_until": None,
            "last_error": error,
            "route": route,
            "send_at": until,
            "handed_over": delivery.attempts,  # kept: the next attempt searches first
        }
        return verifying, {"outcome": "verifying", "until": until.isoformat()}, next_step
    if next_step is Next.UNCONFIRMED:
        return {**_unconfirmed(error or {}), "route": route}, {"outcome": "unconfirmed"}, next_step
    if next_step is Next.RETRY:
        queued = {
            "state": DeliveryState.QUEUED.value,
            "due_at": rt.clock(),  # Cloud Tasks retries it; the sweep if nothing does
            "lease_until": None,
            "last_error": error,
            "retries": tries,
        }
        return queued, {"outcome": "retry", "error": error}, next_step
    if next_step is Next.DEFER:
        wait = (error or {}).get("retry_after_s") or attempt.DEFAULT_QUOTA_WAIT_S
        until = rt.clock() + dt.timedelta(seconds=wait)  # the mailbox itself waits too
        deferred = {
            "state": DeliveryState.QUEUED.value,
            "due_at": until,
            "lease_until": None,
            "last_error": error,
            "send_at": until,
        }
        return deferred, {"outcome": "deferred", "until": until.isoformat()}, next_step
    if error and error.get("class") == FailureKind.TRANSIENT and tries >= max_attempts:
        error = {
            **error,
            "message": f"Failed to send email after {tries} attempts: {error.get('message')}",
        }
    failed = {"state": DeliveryState.FAILED.value, "lease_until": None, "error": error}
    return {**failed, "route": route}, {"outcome": "failed", "error": error}, next_step


def _send(
    rt: Runtime,
    *,
    tenant_id: str,
    principal: Principal,
    request: StoredContent,
    handing: handover.Handover,
) -> attempt.Outcome:
    """Send through the sender's route, from this instance's cached settings when it has them.

    A cached route that fails in a way a change of settings could explain — the credentials
    refused or gone, the mailbox broken — is read again and tried once more: a mailbox
    reconnected on another instance a moment ago must not fail this email. Nothing was sent by
    a failed attempt of those kinds, so trying again cannot send twice."""

    def once(context: RouteContext) -> attempt.Outcome:
        route = attempt.route_in(rt, context, principal)
        return attempt.deliver_once(
            rt,
            context,
            principal,
            request,
            route,
            delivery_id=handing.delivery_id,
            attempt_number=handing.attempt,
            handing=handing,
        )

    context = routes.context_for(rt, tenant_id, principal.own_mailbox_id)
    if not (principal.is_admin or context.tenant.members_may_send):
        # Queued while members could send; since then an admin switched that off.
        return attempt.refused(
            "not_allowed",
            "Your practice no longer lets members send email, so this email was not sent.",
            "Ask an administrator, or send it from an administrator's account.",
        )
    try:
        result = once(context)
    except SecretUnavailable:
        if not context.cached:
            raise  # the secret of a current mailbox is unreadable: a 5xx, and a retry later
        result = attempt.Outcome(sent=False, route={}, changes={}, error={"class": "auth"})
    if context.cached and result.failure_kind is FailureKind.AUTH:
        result = once(routes.context_for(rt, tenant_id, principal.own_mailbox_id, fresh=True))
    return result
