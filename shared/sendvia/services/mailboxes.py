"""A mailbox's lifecycle: show, revert, resume, revoke, forget, and breaking.

Mailbox ids in requests are `tenant`, `me`, or (admins) `user-{uid}`; every read and write is
under the caller's tenant, so another tenant's ids simply do not exist here.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import (
    TENANT_MAILBOX,
    MailboxRecord,
    MailboxState,
    Provider,
    mailbox_secret_id,
)
from sendvia.domain.message import Mailbox, build_message
from sendvia.domain.principal import Principal
from sendvia.domain.providers import ConnectedBy, traits
from sendvia.errors import AppError, BadGateway, Conflict, Forbidden, NotFound, Unavailable
from sendvia.ports import MailboxProvider, SecretUnavailable
from sendvia.runtime import Runtime

log = logging.getLogger("sendvia.mailboxes")

# For a mailbox whose provider this deployment does not run (it cannot send anyway).
_GENERIC_HINTS = {
    FailureKind.AUTH: "Connect the mailbox again to resume sending from it; until then email "
    "goes as the settings say for a broken mailbox.",
    FailureKind.QUOTA: "The mailbox's sending limit is reached; sending resumes when it resets.",
    FailureKind.TRANSIENT: "Try again in a few minutes.",
    FailureKind.PERMANENT: "Check the message and the mailbox settings.",
    FailureKind.UNKNOWN: "The server took the message without confirming it; it is not sent "
    "again. Check the mailbox's Sent folder, or ask the recipient.",
}


def resolve_id(principal: Principal, requested: str, *, manage: bool, own: bool = False) -> str:
    """The stored id of `tenant`, `me` or `user-{uid}`, if the caller may use it.

    Anyone sees the tenant mailbox; only admins manage it. Admins may reach members' mailboxes
    (see, revert, resume, revoke, forget), but with `own` — saving its settings, testing it,
    confirming it, where its stored password would be used — only the member themself may: an
    admin could otherwise aim a member's saved app password at a server of their choosing. A
    member reaching another member's mailbox gets 404, as if it did not exist."""
    if own and requested.startswith("user-") and requested != principal.own_mailbox_id:
        if principal.is_admin:
            raise Forbidden(
                "Only the member can set up or test their own mailbox.",
                code="owner_only",
                hint="Ask the member to do it from their own email settings.",
            )
        manage = True  # and so a 404 below, as for any other member's mailbox
    if requested == TENANT_MAILBOX:
        if manage and not principal.is_admin:
            raise Forbidden(
                "Only an administrator can manage the practice's mailbox.",
                code="admin_only",
                hint="Ask an administrator of your practice.",
            )
        return TENANT_MAILBOX
    if requested == "me":
        return principal.own_mailbox_id
    if requested.startswith("user-") and (
        principal.is_admin or requested == principal.own_mailbox_id
    ):
        return requested
    raise NotFound(
        f"There is no mailbox {requested!r}.",
        code="mailbox_not_found",
        hint="Use 'tenant' or 'me'.",
    )


def load(rt: Runtime, principal: Principal, mailbox_id: str) -> MailboxRecord:
    found = rt.mailboxes.get(principal.tenant_id, mailbox_id)
    if found is None:
        raise NotFound(
            "No mailbox is connected here.",
            code="mailbox_not_found",
            hint="Connect one from the email settings.",
        )
    return found


def with_changes(mailbox: MailboxRecord, changes: dict[str, Any]) -> MailboxRecord:
    """The mailbox as it reads after `changes` were written."""
    return MailboxRecord.from_doc(mailbox.tenant_id, mailbox.id, {**mailbox.raw, **changes})


def provider_for(rt: Runtime, kind: Provider) -> MailboxProvider:
    """The adapter of a mailbox's provider; 503 when this deployment has not configured it."""
    found = rt.providers.get(kind)
    if found is None:
        sign_in = traits(kind).sign_in
        raise Unavailable(
            f"{traits(kind).label} is not configured for this deployment.",
            code=f"{sign_in or kind.value}_not_configured",
            hint="The platform's operator must configure it.",
        )
    return found


def hint_for(rt: Runtime, kind: Provider, failure: ProviderFailure) -> str:
    provider = rt.providers.get(kind)
    return provider.hint(failure) if provider else _GENERIC_HINTS[failure.kind]


def error_record(
    rt: Runtime, mailbox: MailboxRecord, failure: ProviderFailure, now: dt.datetime
) -> dict[str, Any]:
    provider = rt.providers.get(mailbox.provider)
    if failure.kind is FailureKind.AUTH and provider is not None:
        message = provider.broken_message(mailbox.address)
    else:
        message = f"The last attempt with {mailbox.address} failed: {failure.reply}"
    return {
        "code": failure.code,
        "message": message,
        "hint": hint_for(rt, mailbox.provider, failure),
        "at": now,
    }


def mark_broken(rt: Runtime, mailbox: MailboxRecord, failure: ProviderFailure) -> bool:
    """The mailbox's credentials stopped working: broken, and the admins told once.

    Only if the mailbox still has the credentials that failed (its secret version): a mailbox
    reconnected meanwhile is not broken by its old credentials."""
    now = rt.clock()
    error = error_record(rt, mailbox, failure, now)
    notification = {
        "kind": "mailbox_broken",
        "audience": "admins",
        "mailbox": mailbox.id,
        "title": f"Email from {mailbox.address or 'your mailbox'} needs re-authorizing",
        "message": error["message"],
        "hint": error["hint"],
    }
    broken = rt.mailboxes.mark_broken(
        mailbox.tenant_id,
        mailbox.id,
        error,
        notification,
        now,
        credentials=mailbox.secret_version,
    )
    if broken:  # the event an operator's log-based metric counts (infra/: monitoring.tf)
        fields = {
            "event": "mailbox_broken",
            "tenant_id": mailbox.tenant_id,
            "mailbox": mailbox.id,
            "provider": mailbox.provider.value,
            "cause": failure.code,
        }
        log.warning(
            "mailbox %s turned broken: %s", mailbox.id, failure.code, extra={"fields": fields}
        )
    return broken


def mark_working(rt: Runtime, mailbox: MailboxRecord) -> None:
    """A broken mailbox worked again: active, its breakage notification resolved."""
    changes: dict[str, Any] = {
        "state": MailboxState.ACTIVE.value,
        "last_error": None,
        "broken_since": None,
        "broken_notification": None,
    }
    rt.mailboxes.update(mailbox.tenant_id, mailbox.id, changes)
    if mailbox.broken_notification:
        rt.notifications.resolve(mailbox.tenant_id, mailbox.broken_notification, rt.clock())


def revert(rt: Runtime, principal: Principal, requested: str) -> MailboxRecord:
    """Use the platform's sender again; the mailbox's details are remembered."""
    mailbox_id = resolve_id(principal, requested, manage=True)
    mailbox = load(rt, principal, mailbox_id)
    changes = {"state": MailboxState.REVERTED.value}
    rt.mailboxes.update(principal.tenant_id, mailbox_id, changes)
    return with_changes(mailbox, changes)


def resume(rt: Runtime, principal: Principal, requested: str) -> MailboxRecord:
    """Back to the remembered details, after checking with the mailbox's own provider that they
    still work: credentials it refuses break the mailbox (answered, not an error)."""
    mailbox_id = resolve_id(principal, requested, manage=True)
    mailbox = load(rt, principal, mailbox_id)
    if not mailbox.secret_version:
        raise reconnect_required(mailbox)
    if needs_confirming(mailbox):
        raise Conflict(
            "This mailbox was never confirmed: its test email's code was not entered.",
            code="confirmation_required",
            hint="Run the connection test and enter the code from its email.",
        )
    provider = provider_for(rt, mailbox.provider)
    try:
        provider.check(mailbox)
    except SecretUnavailable as gone:
        raise reconnect_required(mailbox) from gone
    except ProviderFailure as failure:
        if failure.kind is not FailureKind.AUTH:
            raise _unavailable(provider, failure) from failure
        mark_broken(rt, mailbox, failure)
        return load(rt, principal, mailbox_id)
    mark_working(rt, mailbox)
    rt.mailboxes.update(principal.tenant_id, mailbox_id, {"last_tested_at": rt.clock()})
    return load(rt, principal, mailbox_id)


def needs_confirming(mailbox: MailboxRecord) -> bool:
    """A mailbox connected by typed settings is used only once its test email's code was
    entered (docs/sources.md, 001); one connected by signing in is proven by the sign-in."""
    by_settings = traits(mailbox.provider).connected_by is ConnectedBy.SETTINGS
    return by_settings and (
        mailbox.state is MailboxState.PENDING_CONFIRMATION or mailbox.confirmed_at is None
    )


def reconnect_required(mailbox: MailboxRecord) -> Conflict:
    """The mailbox's stored credentials are gone (revoked, forgotten elsewhere)."""
    sign_in = traits(mailbox.provider).sign_in
    return Conflict(
        "This mailbox has no stored access any more.",
        code="reauthorize_required",
        hint=f"Sign in with {sign_in.capitalize()} again to reconnect it."
        if sign_in
        else "Enter the mailbox's password in the email settings to reconnect it.",
    )


def store_rotated(rt: Runtime, mailbox: MailboxRecord, secret: bytes) -> None:
    """The provider replaced the mailbox's credentials while using them: the new ones become
    its secret's new version, the old versions are destroyed (an old refresh token must not
    linger), and the provider forgets what it kept under the old version. The switch is
    conditional on the mailbox still pointing at the credentials that were used: of two
    requests rotating at once (or a reconnection meanwhile), one wins, and the other destroys
    the version it added."""
    old = mailbox.secret_version
    if not old:
        return
    secret_id = mailbox_secret_id(mailbox.tenant_id, mailbox.id)
    version = rt.secrets.add_version(
        secret_id, secret, {"tenant": mailbox.tenant_id, "mailbox": mailbox.id}
    )
    if rt.mailboxes.replace_secret(mailbox.tenant_id, mailbox.id, old, version, rt.clock()):
        keep = version
    else:  # another request replaced them first: keep its version, drop ours
        current = rt.mailboxes.get(mailbox.tenant_id, mailbox.id)
        keep = current.secret_version if current and current.secret_version else ""
        if not keep:
            return
    rt.secrets.destroy_older(secret_id, keep)
    provider = rt.providers.get(mailbox.provider)
    if provider is not None:
        provider.forget(mailbox, revoke=False)


def _unavailable(provider: MailboxProvider, failure: ProviderFailure) -> AppError:
    """A provider that could not answer now (or refused for another reason than the
    credentials): the mailbox stays as it is, and the caller may try again."""
    error_type = Unavailable if failure.kind is FailureKind.TRANSIENT else BadGateway
    return error_type(
        f"The mailbox's provider could not confirm it: {failure.reply}",
        code=failure.code,
        hint=provider.hint(failure),
    )


def revoke(rt: Runtime, principal: Principal, requested: str) -> MailboxRecord:
    """Revoke the access at the provider and drop it; the mailbox's details stay, reverted."""
    mailbox_id = resolve_id(principal, requested, manage=True)
    mailbox = load(rt, principal, mailbox_id)
    _drop_credentials(rt, mailbox)
    changes = {
        "state": MailboxState.REVERTED.value,
        "secret_version": None,
        "revoked_at": rt.clock(),
    }
    rt.mailboxes.update(principal.tenant_id, mailbox_id, changes)
    return with_changes(mailbox, changes)


def forget(rt: Runtime, principal: Principal, requested: str) -> None:
    """Revoke at the provider, destroy the secret, delete the mailbox."""
    mailbox_id = resolve_id(principal, requested, manage=True)
    _drop_credentials(rt, load(rt, principal, mailbox_id))
    rt.mailboxes.delete(principal.tenant_id, mailbox_id)


def _drop_credentials(rt: Runtime, mailbox: MailboxRecord) -> None:
    provider = rt.providers.get(mailbox.provider)
    if provider is not None:
        provider.forget(mailbox, revoke=True)
    rt.secrets.delete(mailbox_secret_id(mailbox.tenant_id, mailbox.id))


def record_test_delivery(
    rt: Runtime,
    principal: Principal,
    mailbox_id: str,
    message: Any,
    *,
    provider_message_id: str | None,
    error: dict[str, Any] | None,
) -> str:
    """The test email in the delivery log, like any other email (kind `test`)."""
    now = rt.clock()
    return rt.deliveries.add(
        principal.tenant_id,
        {
            "kind": "test",
            "category": "test_connection",
            "state": "failed" if error else "sent",
            "route": {"via": "mailbox", "mailbox": mailbox_id, "reason": "test"},
            "from": message["From"],
            "to": [principal.email],
            "cc": [],
            "subject": message["Subject"],
            "attempts": 1,
            "message_id": message["Message-ID"],
            "provider_message_id": provider_message_id,
            "error": error,
            "created_by": principal.uid,
            "created_at": now,
            "sent_at": None if error else now,
        },
    )


def test_message(mailbox: MailboxRecord, principal: Principal, subject: str, text: str) -> Any:
    """A test email from the mailbox to the person running the test."""
    return build_message(
        sender=Mailbox(mailbox.display_name, mailbox.address),
        to=[principal.email],
        subject=subject,
        text=text,
        message_id_domain=mailbox.domain,
    )
