"""ports.Notifications on Firestore: `tenants/{t}/notifications/{id}`, each for an audience."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore


class FirestoreNotifications:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def add(
        self,
        tenant_id: str,
        notice: Mapping[str, Any],
        now: dt.datetime,
        notice_id: str | None = None,
    ) -> None:
        from google.api_core import exceptions

        collection = self._db.collection(paths.notifications(tenant_id))
        ref = collection.document(notice_id) if notice_id else collection.document()
        METER.writes()
        try:
            ref.create({**notice, "created_at": now, "read_by": []})
        except exceptions.Conflict:
            return  # told already

    def resolve(self, tenant_id: str, notification_id: str, now: dt.datetime) -> None:
        from google.api_core import exceptions

        METER.writes()
        try:
            self._db.document(paths.notification(tenant_id, notification_id)).update(
                {"resolved_at": now}
            )
        except exceptions.NotFound:
            return

    def newest(
        self, tenant_id: str, audiences: list[str], limit: int = 100
    ) -> list[dict[str, Any]]:
        from google.cloud import firestore

        query = (
            self._db.collection(paths.notifications(tenant_id))
            .where(filter=firestore.FieldFilter("audience", "in", audiences))
            .order_by("created_at", direction=firestore.Query.DESCENDING)
            .limit(limit)
        )
        found = [{"id": doc.id, **(doc.to_dict() or {})} for doc in query.stream()]
        METER.reads(max(1, len(found)))
        return found

    def get(self, tenant_id: str, notification_id: str) -> dict[str, Any] | None:
        METER.reads()
        snapshot = self._db.document(paths.notification(tenant_id, notification_id)).get()
        return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None

    def mark_read(self, tenant_id: str, notification_id: str, uid: str) -> None:
        from google.cloud import firestore

        METER.writes()
        self._db.document(paths.notification(tenant_id, notification_id)).update(
            {"read_by": firestore.ArrayUnion([uid])}
        )
