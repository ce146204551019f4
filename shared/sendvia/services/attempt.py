"""One attempt to send an email through the route the settings give: the tenant's or the
sender's mailbox, through its provider, or the platform's relay.

A mailbox whose credentials stopped working turns broken (its admins are told once) and the
email fails with a message a screen can show, or goes by the platform's sender when the tenant
chose that; a mailbox over its provider's limit waits until the time the provider gave. What the
attempt came to is returned as the changes to record on the delivery.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sendvia.cache import RouteContext
from sendvia.domain.delivery import INTERRUPTED_ERROR, Delivery, DeliveryState, Found
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import TENANT_MAILBOX, MailboxRecord
from sendvia.domain.message import Mailbox
from sendvia.domain.outgoing import Composed, Content, addresses, compose
from sendvia.domain.principal import Principal
from sendvia.domain.routing import Route, RouteReason, Via
from sendvia.domain.tenant import OnBroken, Tenant
from sendvia.errors import AppError, Unavailable
from sendvia.ports import Outgoing, Sent
from sendvia.runtime import Runtime
from sendvia.services import mailboxes, routes
from sendvia.services.handover import Handover
from sendvia.services.settings import route_for

log = logging.getLogger("sendvia.send")

DEFAULT_QUOTA_WAIT_S = 3600  # when a provider's limit comes without a time to retry
OWN_MAILBOX_NOTE = "Sent via your mailbox: delivery is reported by your email provider, not here."
CONFIRMED_NOTE = (
    "Sent via your mailbox. Its provider did not confirm it at the time; sendvia found it in the "
    "mailbox afterwards."
)
# What the platform's own sender's failures leave a person to do: its credentials and limits are
# the operator's, not the tenant's.
_RELAY_HINTS = {
    FailureKind.AUTH: "The platform's sender is being fixed; the email is retried.",
    FailureKind.QUOTA: "The platform's sending limit is reached; try again later.",
    FailureKind.TRANSIENT: "Try again in a few minutes.",
    FailureKind.PERMANENT: "Check the recipients and the message.",
    FailureKind.UNKNOWN: "Ask the recipient whether it arrived before sending it again.",
}
# The HTTP status of a manual send that failed, by the kind of failure.
_STATUS = {
    FailureKind.AUTH: 422,
    FailureKind.PERMANENT: 422,
    FailureKind.QUOTA: 429,
    FailureKind.TRANSIENT: 503,
    FailureKind.UNKNOWN: 200,  # answered as a delivery, never raised
}


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: sent or failed (with the delivery's `error`: class, code,
    message, hint), and the changes to record on the delivery."""

    sent: bool
    route: Mapping[str, Any]
    changes: Mapping[str, Any]
    error: Mapping[str, Any] | None = None
    # An unknown outcome through a mailbox that can be searched for the message later.
    searchable: bool = False

    @property
    def failure_kind(self) -> FailureKind | None:
        return FailureKind(self.error["class"]) if self.error else None


class SendFailed(AppError):  # noqa: N818 - the outcome of a send
    """The email could not be sent; the delivery records why (its id is in the error)."""

    code = "send_failed"

    def __init__(self, error: Mapping[str, Any], delivery_id: str) -> None:
        super().__init__(
            str(error["message"]),
            hint=str(error["hint"]),
            code=str(error["code"]),
            details={"delivery_id": delivery_id},
        )
        self.status = _STATUS[FailureKind(error["class"])]


def route_in(rt: Runtime, context: RouteContext, principal: Principal) -> Route:
    found = context.mailboxes
    tenant_mailbox = found.get(TENANT_MAILBOX)
    own = found.get(principal.own_mailbox_id)
    return route_for(
        rt,
        context.tenant,
        principal,
        tenant_mailbox.summary() if tenant_mailbox else None,
        own.summary() if own else None,
    )


def deliver_once(
    rt: Runtime,
    context: RouteContext,
    principal: Principal,
    request: Content,
    route: Route,
    *,
    delivery_id: str,
    attempt_number: int,
    handing: Handover | None = None,
) -> Outcome:
    """Send once through the route. Just before the provider is given the message, the
    delivery is marked as handed over by this attempt (raises Superseded when it no longer
    holds the delivery): from then on, an attempt that dies leaves an unknown outcome."""
    tenant = context.tenant
    mailbox = context.mailboxes.get(route.mailbox or "")
    if route.reason is RouteReason.MAILBOX_BROKEN:
        failure = ProviderFailure(
            FailureKind.AUTH, "mailbox_broken", "The mailbox needs re-authorizing."
        )
        hint = mailboxes.hint_for(rt, mailbox.provider, failure) if mailbox else None
        return _failed(failure, route, hint)
    handing = handing or Handover(rt, principal.tenant_id, delivery_id, attempt_number)
    if route.via is Via.DEFAULT:
        return _by_relay(rt, tenant, principal, request, route, handing)
    if mailbox is None:  # the route was resolved from these very mailboxes
        raise LookupError(f"the route names mailbox {route.mailbox!r}, which was not read")
    composed = compose(
        request,
        sender=Mailbox(mailbox.display_name, mailbox.address),
        reply_to=None,
        message_id=message_id_for(principal.tenant_id, delivery_id, mailbox.domain),
    )
    provider = None
    try:
        _not_throttled(rt, mailbox)
        provider = mailboxes.provider_for(rt, mailbox.provider)
        handing.mark(route, mailbox)
        sent = provider.send(mailbox, _outgoing(composed, request))
    except ProviderFailure as failure:
        if failure.kind is FailureKind.UNKNOWN and provider is not None:
            searchable = provider.can_find_sent(mailbox)
            return replace(_failed(failure, route, None), searchable=searchable)
        failed = _mailbox_failed(rt, tenant, route, mailbox, failure)
        if failed is None:  # "when my mailbox cannot send, use yours"
            reason = (
                RouteReason.MAILBOX_THROTTLED_FALLBACK
                if failure.kind is FailureKind.QUOTA
                else RouteReason.MAILBOX_BROKEN_FALLBACK
            )
            fallback = _fallback(rt, tenant, principal, reason)
            return _by_relay(rt, tenant, principal, request, fallback, handing)
        return failed
    if sent.rotated_secret is not None:
        mailboxes.store_rotated(rt, mailbox, sent.rotated_secret)
    return _sent(rt, route, composed.message_id, sent, delivery_id, note=OWN_MAILBOX_NOTE)


def settle_unknown(
    rt: Runtime, context: RouteContext, principal: Principal, delivery: Delivery
) -> Outcome | None:
    """A claim found an earlier attempt's hand-over unrecorded: that attempt died, or its
    provider gave no answer. The mailbox the message went to is searched for the delivery's
    Message-ID: found → `sent`; absent where that proves it was not sent → None, and the
    caller sends it now; anything else → `sent_unconfirmed`, never sent again."""
    to = delivery.handed_to or {}
    route = dict(to.get("route") or delivery.route or {})
    found = Found.UNKNOWN
    mailbox = context.mailboxes.get(str(to.get("mailbox") or ""))
    # The same mailbox and address it went to, and long enough ago for it to be filed.
    if (
        mailbox is not None
        and mailbox.address == to.get("address")
        and delivery.verifiable_at(rt.clock(), routes.verify_after(rt))
    ):
        provider = rt.providers.get(mailbox.provider)
        message_id = message_id_for(principal.tenant_id, delivery.id, mailbox.domain)
        found = provider.find_sent(mailbox, message_id) if provider else Found.UNKNOWN
        if found is Found.SENT:
            changes = {
                "state": DeliveryState.SENT.value,
                "sent_at": rt.clock(),
                "message_id": message_id,
                "route": route,
                "delivery_note": CONFIRMED_NOTE,
                "last_error": None,
            }
            return Outcome(sent=True, route=route, changes=changes)
        if found is Found.ABSENT:
            log.info("delivery %s: not in the mailbox it went to; sending it", delivery.id)
            return None
    unknown = delivery.last_error if (delivery.last_error or {}).get("class") == "unknown" else None
    error = dict(unknown or INTERRUPTED_ERROR)
    changes = {"state": DeliveryState.SENT_UNCONFIRMED.value, "route": route, "error": error}
    return Outcome(sent=False, route=route, changes=changes, error=error)


def refused(code: str, message: str, hint: str) -> Outcome:
    """An email refused before any provider was asked: failed, for good."""
    error = {"class": FailureKind.PERMANENT.value, "code": code, "message": message, "hint": hint}
    changes = {"state": DeliveryState.FAILED.value, "error": error}
    return Outcome(sent=False, route={}, changes=changes, error=error)


def message_id_for(tenant_id: str, delivery_id: str, domain: str) -> str:
    """The delivery's Message-ID: the same for every attempt through a route, so recipients'
    systems can tell a resend, and a mailbox can be searched for it."""
    digest = hashlib.sha256(f"{tenant_id}/{delivery_id}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def failure_of(error: Mapping[str, Any], delivery_id: str) -> AppError:
    """The error a manual send answers when the attempt failed."""
    return SendFailed(error, delivery_id)


def _outgoing(composed: Composed, request: Content) -> Outgoing:
    return Outgoing(
        composed.message,
        composed.raw,
        recipients=tuple(addresses(request.to + request.cc + request.bcc)),
        bcc=tuple(addresses(request.bcc)),
    )


def _sent(
    rt: Runtime,
    route: Route,
    message_id: str,
    sent: Sent,
    delivery_id: str,
    *,
    note: str | None,
) -> Outcome:
    for warning in sent.warnings:  # the email went; something around it did not
        log.warning("delivery %s: %s: %s", delivery_id, warning["code"], warning["message"])
    changes = {
        "state": DeliveryState.SENT.value,
        "sent_at": rt.clock(),
        "message_id": message_id,
        "provider_message_id": sent.provider_message_id,
        "route": route.to_json(),
        "delivery_note": note,
        "warnings": [dict(w) for w in sent.warnings],
    }
    return Outcome(sent=True, route=route.to_json(), changes=changes)


def _mailbox_failed(
    rt: Runtime,
    tenant: Tenant,
    route: Route,
    mailbox: MailboxRecord,
    failure: ProviderFailure,
) -> Outcome | None:
    """The mailbox could not send: it waits (quota) or turns broken (auth), and the email fails
    or — None — goes by the platform's sender, when the tenant chose `on_broken: default`."""
    hint = mailboxes.hint_for(rt, mailbox.provider, failure)
    if failure.kind is FailureKind.QUOTA:
        _throttle(rt, mailbox, failure)
    elif failure.kind is FailureKind.AUTH:
        mailboxes.mark_broken(rt, mailbox, failure)
        failure = ProviderFailure(FailureKind.AUTH, "mailbox_broken", failure.reply)
    else:
        return _failed(failure, route, hint)
    if tenant.on_broken is OnBroken.DEFAULT:
        return None
    return _failed(failure, route, hint)


def _fallback(rt: Runtime, tenant: Tenant, principal: Principal, reason: RouteReason) -> Route:
    default = route_for(rt, tenant, principal, None, None)
    return Route(default.via, None, default.sender, reason)


def _not_throttled(rt: Runtime, mailbox: MailboxRecord) -> None:
    """A mailbox its provider asked to wait is not tried again before the time it gave."""
    until = mailbox.throttled_until
    now = rt.clock()
    if until is not None and until > now:
        raise ProviderFailure(
            FailureKind.QUOTA,
            "mailbox_throttled",
            f"The mailbox's provider asked to wait until {until:%H:%M} UTC.",
            retry_after_s=max(1, int((until - now).total_seconds())),
        )


def _throttle(rt: Runtime, mailbox: MailboxRecord, failure: ProviderFailure) -> None:
    """The provider's limit: the mailbox waits (once per limit, not once per email)."""
    if failure.code == "mailbox_throttled":
        return  # it is already waiting
    until = rt.clock() + dt.timedelta(seconds=failure.retry_after_s or DEFAULT_QUOTA_WAIT_S)
    rt.mailboxes.update(mailbox.tenant_id, mailbox.id, {"throttled_until": until})


def _by_relay(  # noqa: PLR0917 - who, what, which way, and which delivery
    rt: Runtime,
    tenant: Tenant,
    principal: Principal,
    request: Content,
    route: Route,
    handing: Handover,
) -> Outcome:
    relay = rt.relay
    if relay is None:
        raise Unavailable(
            "The platform's own sender is not configured.",
            code="no_relay",
            hint="The platform's operator must set the SENDVIA_RELAY_* settings.",
        )
    name = principal.name or tenant.product_name
    composed = compose(
        request,
        sender=Mailbox(name, rt.settings.default_sender_address),
        reply_to=principal.email or None,  # replies reach the person, not noreply@
        message_id=message_id_for(
            principal.tenant_id, handing.delivery_id, rt.settings.platform_domain
        ),
    )
    handing.mark(route)
    try:
        sent = relay.send(
            _outgoing(composed, request),
            tenant_id=principal.tenant_id,
            delivery_id=handing.delivery_id,
        )
    except ProviderFailure as failure:
        return _failed(failure, route, None)
    return _sent(rt, route, composed.message_id, sent, handing.delivery_id, note=None)


def _failed(failure: ProviderFailure, route: Route, hint: str | None) -> Outcome:
    error = {
        "class": failure.kind.value,
        "code": failure.code,
        "message": _message(failure),
        "hint": hint or _RELAY_HINTS[failure.kind],
        "retry_after_s": failure.retry_after_s,
    }
    state = (
        DeliveryState.SENT_UNCONFIRMED
        if failure.kind is FailureKind.UNKNOWN
        else (DeliveryState.FAILED)
    )
    changes = {"state": state.value, "route": route.to_json(), "error": error}
    return Outcome(sent=False, route=route.to_json(), changes=changes, error=error)


def _message(failure: ProviderFailure) -> str:
    if failure.kind is FailureKind.UNKNOWN:
        return f"Probably sent, not confirmed: {failure.reply} It is not sent again."
    if failure.code == "mailbox_broken":
        return "Failed to send email: the mailbox connection needs re-authorizing."
    return f"Failed to send email: {failure.reply}"
