"""Mailbox states and the summary of a mailbox that routing and listings need."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class MailboxSummary:
    id: str
    provider: Provider
    state: MailboxState
    address: str
    display_name: str = ""
    last_synced_at: str | None = None

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
        )
