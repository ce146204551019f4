"""Which way an email from a given sender goes today (a pure function, table-tested).

The sender's own mailbox (per-user policy) or the tenant mailbox, if its integration
is switched on and the mailbox is active; a broken one fails the send, or falls back to the
platform's sender when the tenant chose so; anything else goes through the platform's sender,
`noreply@<platform domain>` with the user's or tenant's name, so nothing waits on a setup.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formataddr
from enum import StrEnum

from sendvia.domain.mailbox import MailboxState, MailboxSummary
from sendvia.domain.providers import switched_on
from sendvia.domain.tenant import MailboxPolicy, OnBroken, Tenant


class Via(StrEnum):
    MAILBOX = "mailbox"
    DEFAULT = "default"


class RouteReason(StrEnum):
    MAILBOX_ACTIVE = "mailbox_active"
    NO_MAILBOX = "no_mailbox"
    INTEGRATION_OFF = "integration_off"
    MAILBOX_PENDING = "mailbox_pending_confirmation"
    MAILBOX_REVERTED = "mailbox_reverted"
    MAILBOX_BROKEN = "mailbox_broken"  # the send fails until the mailbox is re-authorized
    MAILBOX_BROKEN_FALLBACK = "mailbox_broken_fallback"
    MAILBOX_THROTTLED_FALLBACK = "mailbox_throttled_fallback"  # its provider's limit was reached


# Why an existing, switched-on mailbox that is not active leaves the email to the platform sender.
_DEFAULT_BECAUSE = {
    MailboxState.BROKEN: RouteReason.MAILBOX_BROKEN_FALLBACK,  # the tenant chose on_broken=default
    MailboxState.REVERTED: RouteReason.MAILBOX_REVERTED,
    MailboxState.PENDING_CONFIRMATION: RouteReason.MAILBOX_PENDING,
}


@dataclass(frozen=True)
class Route:
    via: Via
    mailbox: str | None
    sender: str  # the From header: "Name <address>"
    reason: RouteReason

    def to_json(self) -> dict[str, str | None]:
        return {
            "via": self.via.value,
            "mailbox": self.mailbox,
            "from": self.sender,
            "reason": self.reason.value,
        }


def relevant_mailbox(
    tenant: Tenant, tenant_mailbox: MailboxSummary | None, own_mailbox: MailboxSummary | None
) -> MailboxSummary | None:
    """The mailbox the tenant's policy sends a user's email through."""
    return own_mailbox if tenant.mailbox_policy is MailboxPolicy.PER_USER else tenant_mailbox


def resolve_route(
    tenant: Tenant,
    mailbox: MailboxSummary | None,
    *,
    sender_name: str,
    platform_address: str,
) -> Route:
    """The route of an email whose policy-relevant mailbox is `mailbox` (None: not set up)."""
    default_name = sender_name or tenant.product_name

    def default(reason: RouteReason) -> Route:
        return Route(Via.DEFAULT, None, formataddr((default_name, platform_address)), reason)

    if mailbox is None:
        return default(RouteReason.NO_MAILBOX)
    if not switched_on(tenant.integrations, mailbox.provider):
        return default(RouteReason.INTEGRATION_OFF)
    own = Route(
        Via.MAILBOX,
        mailbox.id,
        formataddr((mailbox.display_name or default_name, mailbox.address)),
        RouteReason.MAILBOX_ACTIVE,
    )
    if mailbox.state is MailboxState.ACTIVE:
        return own
    if mailbox.state is MailboxState.BROKEN and tenant.on_broken is OnBroken.FAIL:
        return Route(own.via, own.mailbox, own.sender, RouteReason.MAILBOX_BROKEN)
    return default(_DEFAULT_BECAUSE[mailbox.state])
