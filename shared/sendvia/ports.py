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


class Secrets(Protocol):
    """Credentials in Secret Manager; values only ever in memory."""

    def add_version(self, secret_id: str, data: bytes, labels: Mapping[str, str]) -> str: ...

    def access(self, version_name: str) -> bytes: ...

    def forget(self, version_name: str) -> None: ...

    def destroy_older(self, secret_id: str, keep_version: str) -> None: ...

    def delete(self, secret_id: str) -> None: ...


class Store(Protocol):
    """Tenant-scoped persistence: every method takes the tenant id."""

    def get_tenant(self, tenant_id: str) -> Mapping[str, Any] | None: ...

    def save_tenant(self, tenant: Tenant) -> None: ...

    def record_member(self, principal: Principal, seen_at: str) -> None: ...

    def list_members(self, tenant_id: str) -> list[Mapping[str, Any]]: ...

    def get_mailboxes(
        self, tenant_id: str, mailbox_ids: list[str]
    ) -> dict[str, MailboxSummary]: ...
