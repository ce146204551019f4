"""Mailbox states and the summary of a mailbox that routing and listings need."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
