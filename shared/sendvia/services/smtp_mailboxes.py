"""SMTP/IMAP mailboxes with app passwords (docs/sources.md: 001, 003): save the settings (passwords
only to Secret Manager) and list the IMAP folders. The mailbox stays `pending_confirmation` until
its connection test's code is confirmed (services/test_connection)."""

from __future__ import annotations

from typing import Any

from sendvia.domain.failures import ProviderFailure
from sendvia.domain.mailbox import (
    MailboxRecord,
    MailboxState,
    Provider,
    Server,
    mailbox_secret_id,
)
from sendvia.domain.mailbox_settings import (
    MailboxSettingsIn,
    Resolved,
    SettingsError,
    resolve,
)
from sendvia.domain.principal import Principal
from sendvia.domain.providers import ConnectedBy, switched_on, traits
from sendvia.domain.smtp_passwords import SmtpPasswords
from sendvia.domain.tenant import MailboxPolicy, Tenant
from sendvia.errors import BadGateway, BadRequest, Conflict, Refused
from sendvia.ports import SecretUnavailable
from sendvia.runtime import Runtime
from sendvia.services import mailboxes
from sendvia.services.settings import load_tenant
from sendvia.validation import parse_model


def _check_allowed(rt: Runtime, principal: Principal, mailbox_id: str) -> Tenant:
    tenant = load_tenant(rt, principal.tenant_id)
    if not switched_on(tenant.integrations, Provider.SMTP):
        raise Refused(
            "SMTP/IMAP is switched off for your practice.",
            code="integration_off",
            hint="An administrator can switch on SMTP/IMAP in the email settings.",
        )
    if mailbox_id != "tenant" and tenant.mailbox_policy is not MailboxPolicy.PER_USER:
        raise Refused(
            "Your practice sends from one shared mailbox, not from each user's.",
            code="policy_tenant_mailbox",
            hint="An administrator sets up the practice's mailbox instead.",
        )
    return tenant


def save(rt: Runtime, principal: Principal, requested: str, body: Any) -> MailboxRecord:
    """PUT the settings: stored, password in Secret Manager, state pending_confirmation."""
    mailbox_id = mailboxes.resolve_id(principal, requested, manage=True, own=True)
    _check_allowed(rt, principal, mailbox_id)
    try:
        settings = resolve(parse_model(MailboxSettingsIn, body))
    except SettingsError as problem:
        raise BadRequest(
            str(problem),
            code="invalid_value",
            field=problem.field,
            hint="Fill it in, or choose a preset.",
        ) from problem
    if settings.receive and settings.imap is None:
        raise BadRequest(
            "Receiving reads the mailbox over IMAP: give its IMAP server too.",
            field="imap",
            code="imap_required",
            hint="Fill in the IMAP server, or leave receive off.",
        )
    existing = rt.mailboxes.get(principal.tenant_id, mailbox_id)
    connected = traits(existing.provider) if existing else None
    if connected is not None and connected.connected_by is not ConnectedBy.SETTINGS:
        raise Conflict(
            f"This mailbox is connected with Sign in with {str(connected.sign_in).capitalize()}.",
            code="mailbox_in_use",
            hint="Forget that connection first.",
        )
    stored = _stored(rt, existing.secret_version if existing else None)
    passwords = _passwords(existing, stored, settings)
    version = existing.secret_version if existing else None
    if passwords != stored:
        version = rt.secrets.add_version(
            mailbox_secret_id(principal.tenant_id, mailbox_id),
            passwords.encode(),
            {"tenant": principal.tenant_id, "mailbox": mailbox_id},
        )
    servers = {
        "smtp": settings.smtp.to_doc(),
        "imap": settings.imap.to_doc() if settings.imap else None,
    }
    unchanged = (
        existing is not None
        and passwords == stored
        and existing.address == settings.address
        and all(existing.raw.get(k) == v for k, v in servers.items())
    )
    doc = {
        **(existing.raw if existing else {}),
        "provider": Provider.SMTP.value,
        "address": settings.address,
        "display_name": settings.display_name,
        **servers,
        "sent_folder": settings.sent_folder,
        "receive": settings.receive,
        "secret_version": version,
        "warnings": list(settings.warnings),
        "saved_at": rt.clock(),
        "saved_by": principal.uid,
    }
    if not unchanged:  # new servers or credentials must be proven again
        doc.update(
            {
                "state": MailboxState.PENDING_CONFIRMATION.value,
                "confirmation": None,
                "confirmed_at": None,
                "last_error": None,
            }
        )
    rt.mailboxes.put(principal.tenant_id, mailbox_id, doc)
    if existing is not None and existing.receive and not settings.receive:
        rt.sync_states.delete(principal.tenant_id, mailbox_id)  # as :receive off does
    if version and existing and existing.secret_version not in (None, version):
        rt.secrets.destroy_older(mailbox_secret_id(principal.tenant_id, mailbox_id), version)
    return MailboxRecord.from_doc(principal.tenant_id, mailbox_id, doc)


def _passwords(
    existing: MailboxRecord | None, stored: SmtpPasswords | None, settings: Resolved
) -> SmtpPasswords:
    """The passwords to store: the ones typed now, or the stored ones — but a stored password is
    only ever kept for the server it was saved for. Changing a server's host, port, security or
    user name needs its password again (the 14 dots then keep nothing), so no sequence of calls
    can send a saved password to another server."""
    same_smtp = existing is not None and existing.smtp == _server(settings.smtp)
    same_imap = existing is not None and existing.imap == _server(settings.imap)
    smtp = settings.smtp_password or (stored.smtp if stored and same_smtp else None)
    if not smtp:
        raise BadRequest(
            "smtp.password is required."
            if not stored
            else "smtp.password is required again: the SMTP server's settings changed.",
            code="password_required" if stored else "invalid_value",
            field="smtp.password",
            hint="Enter the mailbox's (app) password.",
        )
    if settings.imap is None:
        return SmtpPasswords(smtp, smtp)
    # IMAP's own password if typed; else the SMTP password typed now, for these very servers
    # (the two are usually the same app password); else the stored one, for the same server.
    imap = (
        settings.imap_password
        or settings.smtp_password
        or (stored.imap if stored and same_imap else None)
    )
    if not imap:
        raise BadRequest(
            "imap.password is required again: the IMAP server's settings changed.",
            code="password_required",
            field="imap.password",
            hint="Enter the IMAP (app) password; it is usually the same as SMTP's.",
        )
    return SmtpPasswords(smtp, imap)


def _server(server: Any) -> Server | None:
    return (
        Server(server.host, int(server.port), server.security, server.username) if server else None
    )


def _stored(rt: Runtime, version: str | None) -> SmtpPasswords | None:
    """The passwords saved before, to keep when the form sends the 14 dots back; None when
    there are none (or they are gone: then a password must be typed)."""
    if not version:
        return None
    try:
        return SmtpPasswords.decode(rt.secrets.access(version))
    except SecretUnavailable:
        return None


def folders(rt: Runtime, principal: Principal, requested: str) -> dict[str, Any]:
    """The mailbox's folders, with the special-use `\\Sent` one suggested."""
    mailbox_id = mailboxes.resolve_id(principal, requested, manage=True)
    mailbox = mailboxes.load(rt, principal, mailbox_id)
    provider = mailboxes.provider_for(rt, mailbox.provider)
    try:
        listed = provider.folders(mailbox)
    except SecretUnavailable as gone:
        raise mailboxes.reconnect_required(mailbox) from gone
    except ProviderFailure as failure:
        if failure.code == "no_imap":
            raise Refused(failure.reply, code="no_imap", hint=provider.hint(failure)) from failure
        raise BadGateway(
            f"The IMAP server: {failure.reply}", hint=provider.hint(failure), code=failure.code
        ) from failure
    sent = next((f["name"] for f in listed if f["special_use"] == "\\Sent"), None)
    return {"folders": listed, "suggested_sent": sent}
