"""The delivery log's queries on Firestore: a tenant's page of deliveries, and the ones due or
stranded across tenants (for `reminders`), each on a composite index of
infra/firestore.indexes.json."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths
from sendvia.domain.delivery import Delivery, DeliveryState
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore


class DeliveryQueries:
    _db: firestore.Client

    def page(
        self, tenant_id: str, filters: Mapping[str, str], page_size: int, after: str | None
    ) -> tuple[list[Delivery], str | None]:
        from google.cloud import firestore

        collection = self._db.collection(paths.deliveries(tenant_id))
        query: Any = collection
        for name, value in filters.items():
            query = query.where(filter=firestore.FieldFilter(name, "==", value))
        query = query.order_by("created_at", direction=firestore.Query.DESCENDING)
        if after:
            METER.reads()
            cursor = collection.document(after).get()
            if not cursor.exists:
                return [], None
            query = query.start_after(cursor)
        docs = list(query.limit(page_size + 1).stream())
        METER.reads(max(1, len(docs)))  # a query costs at least one read
        page = [Delivery.from_doc(d.id, d.to_dict() or {}) for d in docs[:page_size]]
        return page, (page[-1].id if len(docs) > page_size else None)

    def due(
        self, until: dt.datetime, page_size: int, after: Any = None
    ) -> tuple[list[tuple[str, str, dt.datetime]], Any]:
        """A collection-group query: one composite index on state, send_at."""
        from google.cloud import firestore

        query = (
            self._db.collection_group("deliveries")
            .where(filter=firestore.FieldFilter("state", "==", DeliveryState.SCHEDULED.value))
            .where(filter=firestore.FieldFilter("send_at", "<=", until))
            .order_by("send_at")
            .limit(page_size)
        )
        if after is not None:
            query = query.start_after(after)
        docs = list(query.stream())
        METER.reads(max(1, len(docs)))
        found = [
            (d.reference.parent.parent.id, d.id, d.get("send_at"))
            for d in docs
            if d.reference.parent.parent is not None
        ]
        return found, (docs[-1] if len(docs) == page_size else None)

    def stranded(
        self,
        now: dt.datetime,
        older_than: dt.datetime,
        limit: int,
        overdue_before: dt.datetime | None = None,
    ) -> list[tuple[str, str, int]]:
        """Collection-group queries, each with its composite index (infra/)."""
        from google.cloud import firestore

        group = self._db.collection_group("deliveries")
        orphaned = (
            group.where(filter=firestore.FieldFilter("state", "==", DeliveryState.QUEUED.value))
            .where(filter=firestore.FieldFilter("attempts", "==", 0))
            .where(filter=firestore.FieldFilter("created_at", "<=", older_than))
            .limit(limit)
        )
        abandoned = (
            group.where(filter=firestore.FieldFilter("state", "==", DeliveryState.SENDING.value))
            .where(filter=firestore.FieldFilter("lease_until", "<=", now))
            .limit(limit)
        )
        queries = [orphaned, abandoned]
        if overdue_before is not None:
            queries.append(
                group.where(filter=firestore.FieldFilter("state", "==", DeliveryState.QUEUED.value))
                .where(filter=firestore.FieldFilter("due_at", "<=", overdue_before))
                .limit(limit)
            )
        found = []
        for query in queries:
            docs = list(query.stream())
            METER.reads(max(1, len(docs)))
            found += [
                (d.reference.parent.parent.id, d.id, int(d.get("attempts") or 0))
                for d in docs
                if d.reference.parent.parent is not None
            ]
        return found[:limit]
