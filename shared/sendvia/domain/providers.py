"""What each mail provider is, for the rules that are not the provider's own code: which tenant
switch turns it on, how a mailbox of it is connected, and its name on a screen.

This is the one mapping from provider to integration; routing, settings and the OAuth flow read it
instead of comparing provider names. A new provider adds a line here, an adapter under
`adapters/providers/`, and (for OAuth) its sign-in under `adapters/oauth/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sendvia.domain.mailbox import Provider
from sendvia.domain.tenant import Integrations


class ConnectedBy(StrEnum):
    OAUTH = "oauth"  # "Sign in with …": a refresh token
    SETTINGS = "settings"  # servers and an app password typed into a form


@dataclass(frozen=True)
class ProviderTraits:
    integration: str  # the field of Integrations that switches it on for a tenant
    label: str  # as a person knows it: "Gmail", "SMTP"
    connected_by: ConnectedBy
    sign_in: str | None = None  # the OAuth provider API callers name: "google", "microsoft"


TRAITS: dict[Provider, ProviderTraits] = {
    Provider.GMAIL: ProviderTraits("gmail", "Gmail", ConnectedBy.OAUTH, sign_in="google"),
    Provider.MICROSOFT: ProviderTraits(
        "microsoft", "Microsoft", ConnectedBy.OAUTH, sign_in="microsoft"
    ),
    Provider.SMTP: ProviderTraits("smtp_imap", "SMTP", ConnectedBy.SETTINGS),
}


def traits(provider: Provider) -> ProviderTraits:
    return TRAITS[provider]


def switched_on(integrations: Integrations, provider: Provider) -> bool:
    """Whether the tenant's switch for this provider is on."""
    return bool(getattr(integrations, TRAITS[provider].integration))


def sign_in_names() -> tuple[str, ...]:
    """The sign-ins sendvia knows ("google", "microsoft"), whether or not a deployment offers
    them."""
    return tuple(t.sign_in for t in TRAITS.values() if t.sign_in)


def provider_for_sign_in(name: str) -> Provider | None:
    """The mailbox provider an OAuth sign-in ("google") connects, if any."""
    return next((p for p, t in TRAITS.items() if t.sign_in == name), None)
