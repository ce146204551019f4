"""Receiving, as people turn it on and read it: a mailbox's `receive` switch, and a contact's
correspondence (docs/api.md § receiving).

Turning receiving on for an SMTP/IMAP mailbox needs nothing more than its IMAP settings; for a
mailbox connected by "Sign in with …" it needs the provider's read permission, which only a new
consent gives: without it the answer is 409 `consent_required`, naming the call that asks for it
(`oauth_start` with `"receive": true`). Turning it off stops syncing at once and drops the
mailbox's sync cursors (turned on again, it starts and backfills afresh; nothing is stored
twice); the correspondence already synced stays on the contacts' pages — it is the practice's
record of what was said, and a contact's deletion removes it. The read permission a person
granted stays with the provider until they reconnect without it or revoke the access.
"""

from __future__ import annotations

from typing import Any

from sendvia.domain.mailbox import MailboxRecord, MailboxState
from sendvia.domain.principal import Principal
from sendvia.domain.providers import ConnectedBy, traits
from sendvia.domain.tenant import Visibility
from sendvia.errors import BadRequest, Conflict
from sendvia.runtime import Runtime
from sendvia.services import contacts, mailboxes
from sendvia.services.settings import load_tenant
from sendvia.validation import parse_model


def set_receive(rt: Runtime, principal: Principal, requested: str, body: Any) -> MailboxRecord:
    from sendvia.domain.mailbox_settings import ReceiveChange  # pydantic: only a change needs it

    change = parse_model(ReceiveChange, body)
    mailbox_id = mailboxes.resolve_id(principal, requested, manage=True)
    mailbox = mailboxes.load(rt, principal, mailbox_id)
    if change.receive == mailbox.receive:
        return mailbox
    if change.receive:
        _may_read(rt, mailbox)
    else:
        rt.sync_states.delete(principal.tenant_id, mailbox_id)
    changes: dict[str, Any] = {"receive": change.receive}
    rt.mailboxes.update(principal.tenant_id, mailbox_id, changes)
    return mailboxes.with_changes(mailbox, changes)


def _may_read(rt: Runtime, mailbox: MailboxRecord) -> None:
    kind = traits(mailbox.provider)
    if kind.connected_by is ConnectedBy.SETTINGS:
        if mailbox.imap is None:
            raise BadRequest(
                "This mailbox has no IMAP settings, so it cannot be read.",
                field="imap",
                code="imap_required",
                hint="Save the mailbox's IMAP server first (PUT /settings/mailboxes/{id}).",
            )
        return
    oauth = rt.oauth.get(kind.sign_in or "")
    if oauth is None or not oauth.can_read(mailbox.scopes):
        raise Conflict(
            f"Reading this {kind.label} mailbox needs the permission to read mail, which it was "
            "not given when it was connected.",
            code="consent_required",
            hint=f'Connect it again with POST /oauth_start {{"provider": "{kind.sign_in}", '
            f'"mailbox": "{mailbox.id}", "receive": true}}; the person is asked to allow '
            "reading.",
        )
    if mailbox.state is not MailboxState.ACTIVE:
        raise Conflict(
            "Only a working mailbox can be read.",
            code="mailbox_not_active",
            hint="Resume or reconnect the mailbox first.",
        )


def correspondence(
    rt: Runtime, principal: Principal, contact_id: str, page_size: int, page_token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The contact's messages, newest first: the whole practice's by default; only the
    member's own mailbox's when the tenant restricts it (admins always see all)."""
    contacts.get(rt, principal, contact_id)  # 404 for a contact this tenant does not have
    restricted = (
        not principal.is_admin
        and load_tenant(rt, principal.tenant_id).correspondence is Visibility.OWN_MAILBOX
    )
    mailbox = principal.own_mailbox_id if restricted else None
    return rt.correspondence.page(principal.tenant_id, contact_id, mailbox, page_size, page_token)
