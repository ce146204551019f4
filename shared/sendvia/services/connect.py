"""Connect a mailbox by signing in with its provider: "Sign in with Google" (docs/sources.md:
000, 004).

1. `start` (oauth_start, signed-in user): checks who may connect which mailbox, keeps a one-time
   state (10 minutes; stored by its hash with the tenant, user, mailbox, PKCE verifier and
   return_to) and answers with our `begin` link.
2. `begin` (oauth_callback/begin, the user's browser): binds the state to that browser with an
   HttpOnly cookie, then sends it to the provider's consent screen. RFC 6749 §10.12 asks the
   client to bind the flow to the user-agent; without it, anybody's consent could complete
   somebody else's state and put their Gmail behind another tenant's mailbox.
3. `finish` (oauth_callback, the provider redirects back): uses the state once, checks the
   browser, exchanges the code, requires the sending scope, reads the address, stores the refresh
   token as a new secret version and only then replaces the mailbox, and redirects to return_to
   with the outcome.

Which provider signs in is the caller's `provider` ("google"); everything that differs between
providers is behind ports.OAuthProvider, and domain/providers maps it to its mailbox provider.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from sendvia.domain.failures import ProviderFailure
from sendvia.domain.mailbox import TENANT_MAILBOX, MailboxRecord, mailbox_secret_id
from sendvia.domain.message import clean_display_name
from sendvia.domain.principal import Principal
from sendvia.domain.providers import provider_for_sign_in, switched_on, traits
from sendvia.domain.tenant import MailboxPolicy
from sendvia.errors import BadRequest, Forbidden, Refused, Unavailable
from sendvia.ports import OAuthProvider
from sendvia.runtime import Runtime
from sendvia.services.settings import load_tenant

log = logging.getLogger("sendvia.connect")

STATE_LIFETIME = dt.timedelta(minutes=10)
BROWSER_COOKIE = "sendvia_oauth_browser"


@dataclass(frozen=True)
class Redirect:
    location: str
    cookie: str | None = None  # a Set-Cookie value


class FlowRefused(Exception):
    """The callback cannot be trusted (unknown, reused, expired or foreign state): show a page,
    redirect nowhere, store nothing."""


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _sign_in_of(record: dict[str, Any]) -> str:
    """The sign-in a state was started with. States written before sendvia recorded it (they
    live 10 minutes, so only across a deploy) were all Google's, with `google_url`."""
    return str(record.get("sign_in") or "google")


def _sign_in(rt: Runtime, name: str) -> OAuthProvider:
    """The sign-in a caller named, if this deployment offers it."""
    if provider_for_sign_in(name) is None:
        offered = ", ".join(repr(n) for n in sorted(rt.oauth)) or "none"
        raise Refused(
            f"There is no sign-in {name!r} (offered here: {offered}).",
            code="provider_unavailable",
            hint="Use one of those, or set up SMTP/IMAP.",
        )
    oauth = rt.oauth.get(name)
    if oauth is None:
        raise Unavailable(
            f"Sign in with {name.capitalize()} is not configured for this deployment.",
            code=f"{name}_not_configured",
            hint=f"The platform's operator must set the {name.capitalize()} OAuth client.",
        )
    return oauth


def start(
    rt: Runtime,
    principal: Principal,
    *,
    sign_in: str,
    mailbox: str,
    receive: bool,
    return_to: str,
) -> dict[str, Any]:
    """oauth_start: the link that begins the sign-in, valid for 10 minutes."""
    oauth = _sign_in(rt, sign_in)
    tenant = load_tenant(rt, principal.tenant_id)
    label = traits(oauth.mailbox_provider).label
    if not switched_on(tenant.integrations, oauth.mailbox_provider):
        raise Refused(
            f"{label} is switched off for your practice.",
            code="integration_off",
            hint=f"An administrator can switch on {label} in the email settings.",
        )
    if mailbox == TENANT_MAILBOX:
        if not principal.is_admin:
            raise Forbidden(
                "Only an administrator can connect the practice's mailbox.",
                code="admin_only",
                hint="Ask an administrator of your practice.",
            )
        mailbox_id = TENANT_MAILBOX
    else:
        if tenant.mailbox_policy is not MailboxPolicy.PER_USER:
            raise Refused(
                "Your practice sends from one shared mailbox, not from each user's.",
                code="policy_tenant_mailbox",
                hint="An administrator connects the practice's mailbox instead.",
            )
        mailbox_id = principal.own_mailbox_id
    parts = urlsplit(return_to)
    if f"{parts.scheme}://{parts.netloc}" not in tenant.return_origins:
        raise BadRequest(
            "return_to is not one of your practice's allowed addresses.",
            code="return_to_not_allowed",
            field="return_to",
            hint="An administrator adds the app's origin to return_origins.",
        )
    state = secrets.token_urlsafe(32)
    scopes = oauth.scopes_for(receive=receive)
    provider_url, verifier = oauth.authorization_url(scopes, state)
    now = rt.clock()
    rt.oauth_states.create(
        _hash(state),
        {
            "tenant_id": principal.tenant_id,
            "uid": principal.uid,
            "mailbox_id": mailbox_id,
            "sign_in": sign_in,
            "provider": oauth.mailbox_provider.value,
            "scopes": scopes,
            "receive": receive,
            "code_verifier": verifier,
            "return_to": return_to,
            "provider_url": provider_url,
            "browser_hash": None,
            "created_at": now,
            "expires_at": now + STATE_LIFETIME,
        },
    )
    begin_url = f"{oauth.callback_url}/begin?{urlencode({'state': state})}"
    return {
        "authorization_url": begin_url,
        "mailbox": mailbox,
        "expires_at": (now + STATE_LIFETIME).isoformat(),
    }


def begin(rt: Runtime, state: str, browser_cookie: str | None) -> Redirect:
    browser = (
        browser_cookie
        if browser_cookie and len(browser_cookie) >= 32
        else (secrets.token_urlsafe(32))
    )
    record = rt.oauth_states.claim(_hash(state), _hash(browser), rt.clock()) if state else None
    if record is None:
        raise FlowRefused(
            "This sign-in link has expired, was already used, or was opened in another browser."
        )
    oauth = rt.oauth.get(_sign_in_of(record))
    secure = "; Secure" if oauth and oauth.callback_url.startswith("https://") else ""
    cookie = (
        f"{BROWSER_COOKIE}={browser}; Max-Age={int(STATE_LIFETIME.total_seconds())}; "
        f"Path=/; HttpOnly; SameSite=Lax{secure}"
    )
    return Redirect(record.get("provider_url") or record["google_url"], cookie)


def finish(rt: Runtime, args: dict[str, str], browser_cookie: str | None) -> Redirect:
    state = args.get("state", "")
    if not browser_cookie:
        raise FlowRefused("This sign-in was started in another browser or by another user.")
    # Used up only by the browser it was bound to: someone else holding the callback URL can
    # neither complete the sign-in nor spoil it for the person.
    record = (
        rt.oauth_states.consume(_hash(state), rt.clock(), _hash(browser_cookie)) if state else None
    )
    if record is None:
        raise FlowRefused(
            "This sign-in has expired, was already completed, or was started in another browser."
        )

    def outcome(result: str, error: str | None = None) -> Redirect:
        query = {"sendvia_result": result, "mailbox": record["mailbox_id"]}
        if error:
            query["sendvia_error"] = error
        separator = "&" if "?" in record["return_to"] else "?"
        return Redirect(f"{record['return_to']}{separator}{urlencode(query)}")

    if args.get("error"):
        return outcome(*_refusal(args, _sign_in_of(record)))
    try:
        return _connect(rt, record, state, args.get("code", ""), outcome)
    except ProviderFailure as failure:
        log.warning("connecting %s failed: %s", record["mailbox_id"], failure.code)
        return outcome("error", failure.code)


# Microsoft's words for "an administrator must approve this app" (AADSTS90094, 65001).
_ADMIN_CONSENT = ("AADSTS90094", "AADSTS65001")


def _refusal(args: dict[str, str], sign_in: str) -> tuple[str, str | None]:
    """The outcome of a sign-in the provider sent back with an error: the person declined, their
    organisation requires an administrator's consent first, or something else went wrong."""
    description = args.get("error_description", "")
    if any(code in description for code in _ADMIN_CONSENT):
        return "admin_consent_required", None
    if args["error"] == "access_denied":
        return "denied", None
    return "error", f"{sign_in}_error"


def _connect(
    rt: Runtime, record: dict[str, Any], state: str, code: str, outcome: Callable[..., Redirect]
) -> Redirect:
    tenant_id, mailbox_id = record["tenant_id"], record["mailbox_id"]
    oauth = rt.oauth.get(_sign_in_of(record))
    if oauth is None or not switched_on(
        load_tenant(rt, tenant_id).integrations, oauth.mailbox_provider
    ):
        return outcome("error", "integration_off")
    grant = oauth.exchange(code, record["scopes"], state, record["code_verifier"])
    if not oauth.can_send(grant.granted_scopes):
        # The user unticked "Send email on your behalf": nothing can be sent with this grant.
        if grant.refresh_token:
            oauth.revoke(grant.refresh_token)
        return outcome("error", "scope_not_granted")
    if not grant.refresh_token:
        return outcome("error", "no_refresh_token")
    profile = oauth.profile(grant)
    receive = bool(record.get("receive")) and oauth.can_read(grant.granted_scopes)
    warnings = []
    if record.get("receive") and not receive:
        warnings.append(
            {
                "code": "receive_not_granted",
                "message": "Reading mail was not allowed, so replies will not be "
                "synced; sending works.",
            }
        )

    previous = rt.mailboxes.get(tenant_id, mailbox_id)
    # A mailbox switched from another provider (an app password Microsoft no longer accepts)
    # keeps its id and the name it was given; its old credentials go once this one works.
    switched = previous if previous and previous.provider is not oauth.mailbox_provider else None
    if switched and switched.address.lower() != profile.email.lower():
        warnings.append(
            {
                "code": "address_changed",
                "message": f"This mailbox sent as {switched.address}; it now sends as "
                f"{profile.email}, the account that signed in.",
            }
        )
    secret_id = mailbox_secret_id(tenant_id, mailbox_id)
    version = rt.secrets.add_version(
        secret_id, grant.refresh_token.encode(), {"tenant": tenant_id, "mailbox": mailbox_id}
    )
    now = rt.clock()
    rt.mailboxes.put(
        tenant_id,
        mailbox_id,
        {
            "provider": oauth.mailbox_provider.value,
            "state": "active",
            "address": profile.email,
            "display_name": (switched.display_name if switched else "")
            or clean_display_name(profile.name),
            "switched_from": switched.provider.value if switched else None,
            "scopes": list(grant.granted_scopes),
            "receive": receive,
            "secret_version": version,
            "secret_stored_at": now,
            "account_id": profile.account_id,
            "connected_at": now,
            "connected_by": record["uid"],
            "last_error": None,
            "broken_since": None,
            "broken_notification": None,
            "warnings": warnings,
            "last_synced_at": previous.last_synced_at if previous else None,
        },
    )
    if previous:
        _retire(
            rt,
            previous,
            secret_id=secret_id,
            version=version,
            address=profile.email,
        )
    return outcome("connected")


def _retire(
    rt: Runtime, previous: MailboxRecord, *, secret_id: str, version: str, address: str
) -> None:
    """The new connection is in place: retire the old one (its access, caches, notification).

    The old mailbox's own provider does it, whatever the new one is: an SMTP password is not a
    token to revoke anywhere. A token of another account is revoked; one of the same account is
    not (revoking it could revoke the account's whole grant, the new token with it)."""
    old_version = previous.secret_version
    if old_version and old_version != version:
        provider = rt.providers.get(previous.provider)
        if provider is not None:
            provider.forget(previous, revoke=previous.address != address)
        rt.secrets.destroy_older(secret_id, version)
    if previous.broken_notification:
        rt.notifications.resolve(previous.tenant_id, previous.broken_notification, rt.clock())
