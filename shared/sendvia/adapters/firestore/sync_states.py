"""ports.SyncStates on Firestore: one document per receiving mailbox (`sync_states/{mailbox}`),
held by one sync at a time under a lease taken in a transaction; every save is conditional on
still holding it, so a sync that outlived its lease can store nothing over its successor's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore


class FirestoreSyncStates:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def take(
        self, tenant_id: str, mailbox_id: str, holder: str, now: dt.datetime, until: dt.datetime
    ) -> dict[str, Any] | None:
        from google.cloud import firestore

        ref = self._db.document(paths.sync_state(tenant_id, mailbox_id))

        @firestore.transactional
        def take_once(transaction: firestore.Transaction) -> dict[str, Any] | None:
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            state = snapshot.to_dict() or {} if snapshot.exists else {}
            lease = state.get("lease_until")
            if isinstance(lease, dt.datetime) and lease > now and state.get("holder") != holder:
                return None
            METER.writes()
            transaction.set(ref, {"holder": holder, "lease_until": until}, merge=True)
            return state

        taken: dict[str, Any] | None = take_once(self._db.transaction())
        return taken

    def save(
        self, tenant_id: str, mailbox_id: str, holder: str, changes: Mapping[str, Any]
    ) -> bool:
        from google.cloud import firestore

        ref = self._db.document(paths.sync_state(tenant_id, mailbox_id))

        @firestore.transactional
        def save_once(transaction: firestore.Transaction) -> bool:
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists or snapshot.get("holder") != holder:
                return False
            METER.writes()
            transaction.update(ref, dict(changes))
            return True

        saved: bool = save_once(self._db.transaction())
        return saved

    def get_many(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not mailbox_ids:
            return {}
        refs = [self._db.document(paths.sync_state(tenant_id, m)) for m in mailbox_ids]
        METER.reads(len(refs))
        return {s.id: s.to_dict() or {} for s in self._db.get_all(refs) if s.exists}

    def delete(self, tenant_id: str, mailbox_id: str) -> None:
        METER.writes()
        self._db.document(paths.sync_state(tenant_id, mailbox_id)).delete()
