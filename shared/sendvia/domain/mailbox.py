"""Mailbox states, the stored mailbox as a typed record, and the summary routing needs."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class MailboxState(StrEnum):
    PENDING_CONFIRMATION = "pending_confirmation"
    ACTIVE = "active"
    BROKEN = "broken"
    REVERTED = "reverted"


class Provider(StrEnum):
    GMAIL = "gmail"
    MICROSOFT = "microsoft"
    SMTP = "smtp"


TENANT_MAILBOX = "tenant"
# A saved password as it reads back: exactly these 14 dots; written back, they keep it.
PASSWORD_DOTS = "\u2022" * 14


def mailbox_secret_id(tenant_id: str, mailbox_id: str) -> str:
    """The Secret Manager id of a mailbox's credentials: a digest of the tenant and the mailbox,
    so no two (tenant, mailbox) pairs share one — `acme`/`user-user-q` and `acme-user`/`user-q`
    did when the id was the two joined by a dash. The secret's labels name them for a person."""
    digest = hashlib.sha256(f"{tenant_id}/{mailbox_id}".encode()).hexdigest()[:40]
    return f"sendvia-mailbox-{digest}"


@dataclass(frozen=True)
class Server:
    """An SMTP or IMAP server as the mailbox's settings give it (never with its password)."""

    host: str
    port: int
    security: str  # "starttls" | "tls"
    username: str

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Server | None:
        if not doc:
            return None
        return cls(str(doc["host"]), int(doc["port"]), str(doc["security"]), str(doc["username"]))


@dataclass(frozen=True)
class MailboxRecord:
    """A stored mailbox (`tenants/{t}/mailboxes/{id}`) as providers and services read it.

    `secret_version` names the credentials in Secret Manager (a refresh token, or the SMTP and
    IMAP passwords); the credentials themselves are never part of a record."""

    tenant_id: str
    id: str
    provider: Provider
    state: MailboxState
    address: str
    display_name: str = ""
    secret_version: str | None = None
    scopes: tuple[str, ...] = ()
    smtp: Server | None = None
    imap: Server | None = None
    sent_folder: str | None = None
    receive: bool = False
    broken_notification: str | None = None
    throttled_until: dt.datetime | None = None
    last_error: Mapping[str, Any] | None = None
    warnings: tuple[Mapping[str, Any], ...] = ()
    confirmation: Mapping[str, Any] | None = None  # the pending test email's code (its hash)
    connected_at: dt.datetime | None = None
    confirmed_at: dt.datetime | None = None
    last_tested_at: dt.datetime | None = None
    last_synced_at: dt.datetime | None = None
    # The stored document as read, for a write that keeps what it does not change.
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_doc(cls, tenant_id: str, mailbox_id: str, doc: Mapping[str, Any]) -> MailboxRecord:
        def stamp(key: str) -> dt.datetime | None:
            value = doc.get(key)
            return value if isinstance(value, dt.datetime) else None

        return cls(
            tenant_id=tenant_id,
            id=mailbox_id,
            provider=Provider(doc["provider"]),
            state=MailboxState(doc.get("state") or MailboxState.PENDING_CONFIRMATION),
            address=str(doc.get("address", "")),
            display_name=str(doc.get("display_name") or ""),
            secret_version=doc.get("secret_version") or None,
            scopes=tuple(doc.get("scopes") or ()),
            smtp=Server.from_doc(doc.get("smtp")),
            imap=Server.from_doc(doc.get("imap")),
            sent_folder=doc.get("sent_folder") or None,
            receive=bool(doc.get("receive", False)),
            broken_notification=doc.get("broken_notification") or None,
            throttled_until=stamp("throttled_until"),
            last_error=doc.get("last_error") or None,
            warnings=tuple(doc.get("warnings") or ()),
            confirmation=doc.get("confirmation") or None,
            connected_at=stamp("connected_at"),
            confirmed_at=stamp("confirmed_at"),
            last_tested_at=stamp("last_tested_at"),
            last_synced_at=stamp("last_synced_at"),
            raw=doc,
        )

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[-1]

    def summary(self) -> MailboxSummary:
        synced = self.last_synced_at
        return MailboxSummary(
            id=self.id,
            provider=self.provider,
            state=self.state,
            address=self.address,
            display_name=self.display_name,
            last_synced_at=synced.isoformat() if synced else None,
        )


@dataclass(frozen=True)
class MailboxSummary:
    id: str
    provider: Provider
    state: MailboxState
    address: str
    display_name: str = ""
    last_synced_at: str | None = None
    receive: bool = False

    @classmethod
    def from_doc(cls, mailbox_id: str, doc: Mapping[str, Any]) -> MailboxSummary:
        synced = doc.get("last_synced_at")
        return cls(
            id=mailbox_id,
            provider=Provider(doc["provider"]),
            state=MailboxState(doc["state"]),
            address=doc.get("address", ""),
            display_name=doc.get("display_name", ""),
            last_synced_at=synced.isoformat() if isinstance(synced, dt.datetime) else synced,
            receive=bool(doc.get("receive", False)),
        )


def as_json(value: Any) -> Any:
    """Stored data as JSON: times as ISO 8601, however deep."""
    if isinstance(value, Mapping):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value.isoformat() if isinstance(value, dt.datetime) else value
