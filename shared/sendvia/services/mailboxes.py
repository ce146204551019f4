"""A mailbox's lifecycle: show, revert, resume, revoke, forget, and breaking (DESIGN.md §5).

Mailbox ids in requests are `tenant`, `me`, or (admins) `user-{uid}`; every read and write is
under the caller's tenant, so another tenant's ids simply do not exist here.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sendvia.adapters.secret_manager import mailbox_secret_id
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import TENANT_MAILBOX
from sendvia.domain.principal import Principal
from sendvia.errors import Conflict, Forbidden, NotFound
from sendvia.runtime import Runtime

log = logging.getLogger("sendvia.mailboxes")

PASSWORD_DOTS = "\u2022" * 14  # a stored password always reads back as exactly 14 dots (Senta)

_FAILURE_HINTS = {
    FailureKind.AUTH: "Sign in with Google again (Re-authorize) to resume sending from this "
    "mailbox; until then email goes as the settings say for a broken mailbox.",
    FailureKind.QUOTA: "Google's sending limit for this account is reached; sending resumes "
    "when it resets.",
    FailureKind.TRANSIENT: "Try again in a few minutes.",
    FailureKind.PERMANENT: "Check the message and the mailbox settings.",
}


def resolve_id(principal: Principal, requested: str, *, manage: bool) -> str:
    """The stored id of `tenant`, `me` or `user-{uid}`, if the caller may use it.

    Anyone sees the tenant mailbox; only admins manage it. Admins may reach members' mailboxes;
    a member reaching another member's gets 404, as if it did not exist."""
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


def load(rt: Runtime, principal: Principal, mailbox_id: str) -> dict[str, Any]:
    doc = rt.mailboxes.get(principal.tenant_id, mailbox_id)
    if doc is None:
        raise NotFound(
            "No mailbox is connected here.",
            code="mailbox_not_found",
            hint="Connect one from the email settings.",
        )
    return doc


def to_json(mailbox_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The API's Mailbox: settings and state, never a credential."""

    def stamp(key: str) -> str | None:
        value = doc.get(key)
        return value.isoformat() if isinstance(value, dt.datetime) else value

    error = doc.get("last_error")
    if error:
        at = error.get("at")
        error = {**error, "at": at.isoformat() if isinstance(at, dt.datetime) else at}
    smtp, imap = doc.get("smtp"), doc.get("imap")
    return {
        "id": mailbox_id,
        "provider": doc.get("provider"),
        "address": doc.get("address", ""),
        "display_name": doc.get("display_name", ""),
        "state": doc.get("state"),
        "smtp": {**smtp, "password": PASSWORD_DOTS} if smtp else None,
        "imap": {**imap, "password": PASSWORD_DOTS} if imap else None,
        "sent_folder": doc.get("sent_folder"),
        "receive": bool(doc.get("receive", False)),
        "scopes": list(doc.get("scopes", [])),
        "last_error": error or None,
        "connected_at": stamp("connected_at"),
        "confirmed_at": stamp("confirmed_at"),
        "last_tested_at": stamp("last_tested_at"),
        "last_synced_at": stamp("last_synced_at"),
        "warnings": list(doc.get("warnings", [])),
    }


def hint_for(failure: ProviderFailure) -> str:
    return _FAILURE_HINTS[failure.kind]


def error_record(failure: ProviderFailure, now: dt.datetime, address: str) -> dict[str, Any]:
    if failure.kind is FailureKind.AUTH:
        message = (
            f"Sending from {address} stopped working: Google no longer accepts this "
            "app's access (it was revoked or has expired)."
        )
    else:
        message = f"The last attempt with {address} failed: {failure.reply}"
    return {
        "code": failure.code,
        "message": message,
        "hint": _FAILURE_HINTS[failure.kind],
        "at": now,
    }


def mark_broken(
    rt: Runtime, tenant_id: str, mailbox_id: str, doc: dict[str, Any], failure: ProviderFailure
) -> bool:
    """The mailbox's credentials stopped working: broken, and the admins told once.

    Only if the mailbox still has the credentials that failed (`doc`'s secret version): a
    mailbox reconnected meanwhile is not broken by its old credentials."""
    now = rt.clock()
    error = error_record(failure, now, doc.get("address", ""))
    notification = {
        "kind": "mailbox_broken",
        "audience": "admins",
        "mailbox": mailbox_id,
        "title": f"Email from {doc.get('address', 'your mailbox')} needs re-authorizing",
        "message": error["message"],
        "hint": error["hint"],
    }
    return rt.mailboxes.mark_broken(
        tenant_id,
        mailbox_id,
        error,
        notification,
        now,
        credentials=doc.get("secret_version"),
    )


def mark_working(rt: Runtime, tenant_id: str, mailbox_id: str, doc: dict[str, Any]) -> None:
    """A broken mailbox worked again: active, its breakage notification resolved."""
    changes: dict[str, Any] = {
        "state": "active",
        "last_error": None,
        "broken_since": None,
        "broken_notification": None,
    }
    rt.mailboxes.update(tenant_id, mailbox_id, changes)
    if doc.get("broken_notification"):
        rt.mailboxes.resolve_notification(tenant_id, doc["broken_notification"], rt.clock())


def revert(rt: Runtime, principal: Principal, requested: str) -> dict[str, Any]:
    """Use the platform's sender again; the mailbox's details are remembered."""
    mailbox_id = resolve_id(principal, requested, manage=True)
    doc = load(rt, principal, mailbox_id)
    rt.mailboxes.update(principal.tenant_id, mailbox_id, {"state": "reverted"})
    return to_json(mailbox_id, {**doc, "state": "reverted"})


def resume(rt: Runtime, principal: Principal, requested: str) -> dict[str, Any]:
    """Back to the remembered details, after checking that they still work."""
    mailbox_id = resolve_id(principal, requested, manage=True)
    doc = load(rt, principal, mailbox_id)
    if not doc.get("secret_version"):
        raise Conflict(
            "This mailbox has no stored access any more.",
            code="reauthorize_required",
            hint="Sign in with Google again to reconnect it.",
        )
    try:
        check_google_access(rt, doc)
    except ProviderFailure as failure:
        if failure.kind is FailureKind.AUTH:
            mark_broken(rt, principal.tenant_id, mailbox_id, doc, failure)
            return to_json(mailbox_id, load(rt, principal, mailbox_id))
        raise
    mark_working(rt, principal.tenant_id, mailbox_id, doc)
    rt.mailboxes.update(principal.tenant_id, mailbox_id, {"last_tested_at": rt.clock()})
    return to_json(mailbox_id, load(rt, principal, mailbox_id))


def revoke(rt: Runtime, principal: Principal, requested: str) -> dict[str, Any]:
    """Revoke the token at Google and drop it; the mailbox's details stay, state reverted."""
    mailbox_id = resolve_id(principal, requested, manage=True)
    doc = load(rt, principal, mailbox_id)
    _drop_credentials(rt, principal.tenant_id, mailbox_id, doc)
    changes = {"state": "reverted", "secret_version": None, "revoked_at": rt.clock()}
    rt.mailboxes.update(principal.tenant_id, mailbox_id, changes)
    return to_json(mailbox_id, {**doc, **changes})


def forget(rt: Runtime, principal: Principal, requested: str) -> None:
    """Revoke at Google, destroy the secret, delete the mailbox."""
    mailbox_id = resolve_id(principal, requested, manage=True)
    doc = load(rt, principal, mailbox_id)
    _drop_credentials(rt, principal.tenant_id, mailbox_id, doc)
    rt.mailboxes.delete(principal.tenant_id, mailbox_id)


def _drop_credentials(rt: Runtime, tenant_id: str, mailbox_id: str, doc: dict[str, Any]) -> None:
    version = doc.get("secret_version")
    if version and doc.get("provider") == "gmail" and rt.google is not None:
        try:  # the token goes first, so a person's Google account no longer lists the app
            rt.google.revoke(rt.secrets.access(version).decode())
        except Exception:  # a token Google already forgot is no reason to keep ours
            log.warning("could not revoke the token of mailbox %s at Google", mailbox_id)
        if rt.gmail is not None:
            rt.gmail.forget(version)
    rt.secrets.delete(mailbox_secret_id(tenant_id, mailbox_id))


def check_google_access(rt: Runtime, doc: dict[str, Any]) -> Any:
    """Credentials for a Gmail mailbox with a fresh access token; raises ProviderFailure."""
    if rt.google is None:
        raise ProviderFailure(
            FailureKind.PERMANENT,
            "google_not_configured",
            "Sign in with Google is not configured for this deployment.",
        )
    version = doc["secret_version"]
    refresh_token = rt.secrets.access(version).decode()
    credentials = rt.google.credentials(version, refresh_token, list(doc.get("scopes", [])))
    rt.google.refresh(credentials)
    return credentials


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
    return rt.activity.add_delivery(
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


def test_message(doc: dict[str, Any], principal: Principal, subject: str, text: str) -> Any:
    """A test email from the mailbox to the person running the test."""
    from sendvia.domain.message import Mailbox, build_message

    return build_message(
        sender=Mailbox(doc.get("display_name", ""), doc["address"]),
        to=[principal.email],
        subject=subject,
        text=text,
        message_id_domain=doc["address"].rsplit("@", 1)[-1],
    )
