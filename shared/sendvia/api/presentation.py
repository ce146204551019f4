"""How the API shows what services return: the Delivery, Mailbox, Notification and Recipient
objects of docs/api.md. Times are ISO 8601; a credential is never shown (a stored password reads
back as exactly 14 dots)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from sendvia.domain import provider_events as pe
from sendvia.domain.delivery import Delivery
from sendvia.domain.mailbox import PASSWORD_DOTS, MailboxRecord


def _stamp(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _stamped(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return {k: _stamp(v) for k, v in item.items()} if item else None


def delivery(found: Delivery) -> dict[str, Any]:
    """The API's Delivery."""
    return {
        "id": found.id,
        "kind": found.kind.value,
        "category": found.category,
        "contact_id": found.contact_id,
        "state": found.state.value,
        "route": dict(found.route) if found.route is not None else None,
        "to": list(found.to),
        "cc": list(found.cc),
        "subject": found.subject,
        "attempts": found.attempts,
        "send_at": _stamp(found.send_at),
        "sent_at": _stamp(found.sent_at),
        "message_id": found.message_id,
        "provider_message_id": found.provider_message_id,
        "error": dict(found.error) if found.error is not None else None,
        "delivery_note": found.delivery_note,
        "warnings": [dict(w) for w in found.warnings],
    }


def delivery_with_attempts(found: Delivery) -> dict[str, Any]:
    """One delivery with its attempts log and last error."""
    return {
        **delivery(found),
        "last_error": dict(found.last_error) if found.last_error is not None else None,
        "attempts_log": [_stamped(a) for a in found.attempts_log],
    }


def mailbox(found: MailboxRecord, sync: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's Mailbox: settings and state, never a credential; `sync`: how its receiving
    goes (services/progress), for a receiving mailbox."""

    def server(settings: Any) -> dict[str, Any] | None:
        return {**dataclasses.asdict(settings), "password": PASSWORD_DOTS} if settings else None

    return {
        "id": found.id,
        "provider": found.provider.value,
        "address": found.address,
        "display_name": found.display_name,
        "state": found.state.value,
        "smtp": server(found.smtp),
        "imap": server(found.imap),
        "sent_folder": found.sent_folder,
        "receive": found.receive,
        "scopes": list(found.scopes),
        "last_error": _stamped(found.last_error),
        "connected_at": _stamp(found.connected_at),
        "confirmed_at": _stamp(found.confirmed_at),
        "last_tested_at": _stamp(found.last_tested_at),
        "last_synced_at": (sync or {}).get("last_synced_at") or _stamp(found.last_synced_at),
        "sync": sync if found.receive else None,
        "warnings": [dict(w) for w in found.warnings],
    }


def message(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A message of a contact's correspondence."""
    mailboxes = list(stored.get("mailbox_ids") or [])
    return {
        "id": stored["id"],
        "direction": stored.get("direction"),
        "from": stored.get("from"),
        "to": stored.get("to", []),
        "cc": stored.get("cc", []),
        "subject": stored.get("subject", ""),
        "date": _stamp(stored.get("date")),
        "message_id": stored.get("message_id"),
        "thread_id": stored.get("thread_id"),
        "mailbox": mailboxes[0] if mailboxes else None,
        "mailboxes": mailboxes,
        "text": stored.get("text", ""),
        "text_truncated": bool(stored.get("text_truncated")),
        "attachments": [
            {
                "filename": a.get("filename"),
                "content_type": a.get("content_type"),
                "size": a.get("size"),
            }
            for a in stored.get("attachments", [])
        ],
    }


def notification(item: Mapping[str, Any], uid: str) -> dict[str, Any]:
    return {
        "id": item["id"],
        "kind": item.get("kind"),
        "title": item.get("title"),
        "message": item.get("message"),
        "hint": item.get("hint"),
        "mailbox": item.get("mailbox"),
        "delivery_id": item.get("delivery_id"),  # for a notice about one email
        "created_at": _stamp(item.get("created_at")),
        "resolved_at": _stamp(item.get("resolved_at")),
        "read": uid in item.get("read_by", []),
    }


def recipient(found: pe.Recipient) -> dict[str, Any]:
    return {
        "address": found.address,
        "status": found.status.value,
        "status_since": _stamp(found.status_since),
        "status_reason": found.status_reason,
        "opted_out": list(found.opted_out),
        "events": [_stamped(event) for event in found.events],
    }
