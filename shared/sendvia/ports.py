"""The ports services depend on; adapters implement them, tests may pass their own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sendvia.domain.mailbox import MailboxSummary
from sendvia.domain.principal import Principal
from sendvia.domain.tenant import Tenant


class Identity(Protocol):
    def verify(self, token: str) -> Principal:
        """The principal of a Firebase ID token; raises Unauthenticated or Forbidden."""
        ...


class Store(Protocol):
    """Tenant-scoped persistence: every method takes the tenant id."""

    def get_tenant(self, tenant_id: str) -> Mapping[str, Any] | None: ...

    def save_tenant(self, tenant: Tenant) -> None: ...

    def record_member(self, principal: Principal, seen_at: str) -> None: ...

    def list_members(self, tenant_id: str) -> list[Mapping[str, Any]]: ...

    def get_mailboxes(
        self, tenant_id: str, mailbox_ids: list[str]
    ) -> dict[str, MailboxSummary]: ...
