"""Route resolution: which way an email goes, for every mailbox state and tenant choice."""

from __future__ import annotations

import pytest
from sendvia.domain.mailbox import MailboxState, MailboxSummary, Provider
from sendvia.domain.routing import RouteReason, Via, relevant_mailbox, resolve_route
from sendvia.domain.tenant import Integrations, MailboxPolicy, OnBroken, Tenant

PLATFORM = "noreply@platform.test"


def tenant(**changes: object) -> Tenant:
    base = Tenant(
        id="t1",
        product_name="Clinic",
        integrations=Integrations(gmail=True, smtp_imap=True, microsoft=False),
    )
    return base.replace(**changes)


def mailbox(state: MailboxState, provider: Provider = Provider.GMAIL) -> MailboxSummary:
    return MailboxSummary(
        id="tenant",
        provider=provider,
        state=state,
        address="reception@clinic.example",
        display_name="Clinic Reception",
    )


@pytest.mark.parametrize(
    ("box", "on_broken", "via", "reason", "sender"),
    [
        (None, OnBroken.FAIL, Via.DEFAULT, RouteReason.NO_MAILBOX, "Ann <noreply@platform.test>"),
        (
            mailbox(MailboxState.ACTIVE),
            OnBroken.FAIL,
            Via.MAILBOX,
            RouteReason.MAILBOX_ACTIVE,
            "Clinic Reception <reception@clinic.example>",
        ),
        (
            mailbox(MailboxState.ACTIVE, Provider.MICROSOFT),
            OnBroken.FAIL,
            Via.DEFAULT,
            RouteReason.INTEGRATION_OFF,
            "Ann <noreply@platform.test>",
        ),
        (
            mailbox(MailboxState.BROKEN),
            OnBroken.FAIL,
            Via.MAILBOX,
            RouteReason.MAILBOX_BROKEN,
            "Clinic Reception <reception@clinic.example>",
        ),
        (
            mailbox(MailboxState.BROKEN),
            OnBroken.DEFAULT,
            Via.DEFAULT,
            RouteReason.MAILBOX_BROKEN_FALLBACK,
            "Ann <noreply@platform.test>",
        ),
        (
            mailbox(MailboxState.REVERTED),
            OnBroken.FAIL,
            Via.DEFAULT,
            RouteReason.MAILBOX_REVERTED,
            "Ann <noreply@platform.test>",
        ),
        (
            mailbox(MailboxState.PENDING_CONFIRMATION, Provider.SMTP),
            OnBroken.FAIL,
            Via.DEFAULT,
            RouteReason.MAILBOX_PENDING,
            "Ann <noreply@platform.test>",
        ),
    ],
)
def test_resolve_route(box, on_broken, via, reason, sender):
    route = resolve_route(
        tenant(on_broken=on_broken), box, sender_name="Ann", platform_address=PLATFORM
    )
    assert (route.via, route.reason, route.sender) == (via, reason, sender)
    assert route.mailbox == (box.id if via is Via.MAILBOX else None)


def test_default_sender_uses_the_tenant_name_when_the_user_has_none():
    route = resolve_route(tenant(), None, sender_name="", platform_address=PLATFORM)
    assert route.sender == "Clinic <noreply@platform.test>"


def test_display_names_are_quoted_when_needed():
    route = resolve_route(tenant(), None, sender_name="Smith, Ann", platform_address=PLATFORM)
    assert route.sender == '"Smith, Ann" <noreply@platform.test>'


def test_policy_picks_the_tenant_or_the_users_own_mailbox():
    tenant_box, own_box = mailbox(MailboxState.ACTIVE), mailbox(MailboxState.BROKEN)
    assert relevant_mailbox(tenant(), tenant_box, own_box) is tenant_box
    per_user = tenant(mailbox_policy=MailboxPolicy.PER_USER)
    assert relevant_mailbox(per_user, tenant_box, own_box) is own_box
    assert relevant_mailbox(per_user, tenant_box, None) is None
