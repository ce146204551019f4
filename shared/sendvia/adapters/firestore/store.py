"""The Store port on Firestore (the emulator when FIRESTORE_EMULATOR_HOST is set)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths
from sendvia.domain.mailbox import MailboxSummary
from sendvia.domain.principal import Principal
from sendvia.domain.tenant import Tenant
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore

MAX_MEMBERS = 1000


class FirestoreStore:
    def __init__(
        self, client: firestore.Client, on_change: Callable[[str], None] | None = None
    ) -> None:
        self._db = client
        self._on_change = on_change or (lambda tenant_id: None)

    def get_tenant(self, tenant_id: str) -> Mapping[str, Any] | None:
        METER.reads()
        snapshot = self._db.document(paths.tenant(tenant_id)).get()
        return snapshot.to_dict() if snapshot.exists else None

    def save_tenant(self, tenant: Tenant) -> None:
        stored = tenant.to_json()
        del stored["id"]  # the document id
        METER.writes()
        self._db.document(paths.tenant(tenant.id)).set(stored)
        self._on_change(tenant.id)

    def record_member(self, principal: Principal, seen_at: str) -> None:
        METER.writes()
        self._db.document(paths.member(principal.tenant_id, principal.uid)).set(
            {
                "email": principal.email,
                "name": principal.name,
                "role": principal.role.value,
                "last_seen": seen_at,
            },
            merge=True,
        )

    def list_members(self, tenant_id: str) -> list[Mapping[str, Any]]:
        query = self._db.collection(paths.members(tenant_id)).order_by("email").limit(MAX_MEMBERS)
        found: list[Mapping[str, Any]] = [
            {"uid": doc.id, **(doc.to_dict() or {})} for doc in query.stream()
        ]
        METER.reads(max(1, len(found)))
        return found

    def get_mailboxes(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, MailboxSummary]:
        if not mailbox_ids:
            return {}
        refs = [self._db.document(paths.mailbox(tenant_id, m)) for m in mailbox_ids]
        METER.reads(len(refs))
        found: dict[str, MailboxSummary] = {}
        for snapshot in self._db.get_all(refs):
            data = snapshot.to_dict() if snapshot.exists else None
            if data:
                found[snapshot.id] = MailboxSummary.from_doc(snapshot.id, data)
        return found
