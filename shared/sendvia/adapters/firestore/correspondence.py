"""ports.Correspondence on Firestore: `correspondence/{key}` per message of a tenant, written with
merge so that a message seen again adds its mailboxes and contacts (array unions) and changes
nothing else twice. Read by `contact_ids` (or `contact_mailboxes`, "contact|mailbox", for a member
restricted to their own mailbox) newest first: infra/firestore.indexes.json has both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore

_UNIONS = ("contact_ids", "mailbox_ids", "contact_mailboxes")
_BATCH = 400


class FirestoreCorrespondence:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def store(self, tenant_id: str, records: list[tuple[str, Mapping[str, Any]]]) -> None:
        from google.cloud import firestore

        collection = self._db.collection(paths.correspondence(tenant_id))
        for start in range(0, len(records), _BATCH):
            batch = self._db.batch()
            for key, record in records[start : start + _BATCH]:
                document = {
                    name: firestore.ArrayUnion(list(value)) if name in _UNIONS else value
                    for name, value in record.items()
                }
                batch.set(collection.document(key), document, merge=True)
            METER.writes(len(records[start : start + _BATCH]))
            batch.commit()

    def page(
        self,
        tenant_id: str,
        contact_id: str,
        mailbox_id: str | None,
        page_size: int,
        after: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        from google.cloud import firestore

        collection = self._db.collection(paths.correspondence(tenant_id))
        field, value = (
            ("contact_mailboxes", f"{contact_id}|{mailbox_id}")
            if mailbox_id is not None
            else ("contact_ids", contact_id)
        )
        query = (
            collection.where(filter=firestore.FieldFilter(field, "array_contains", value))
            .order_by("date", direction=firestore.Query.DESCENDING)
            .order_by("__name__", direction=firestore.Query.DESCENDING)
        )
        if after:
            METER.reads()
            last = collection.document(after).get()
            if last.exists:
                query = query.start_after(last)
        found = list(query.limit(page_size + 1).stream())
        METER.reads(max(1, len(found)))
        page = [{"id": s.id, **(s.to_dict() or {})} for s in found[:page_size]]
        return page, (found[page_size - 1].id if len(found) > page_size else None)

    def forget_contact(self, tenant_id: str, contact_id: str) -> int:
        from google.cloud import firestore

        collection = self._db.collection(paths.correspondence(tenant_id))
        query = collection.where(
            filter=firestore.FieldFilter("contact_ids", "array_contains", contact_id)
        )
        changed = 0
        while True:
            found = list(query.limit(_BATCH).stream())
            METER.reads(max(1, len(found)))
            if not found:
                return changed
            batch = self._db.batch()
            for snapshot in found:
                data = snapshot.to_dict() or {}
                if [c for c in data.get("contact_ids", []) if c != contact_id]:
                    batch.update(
                        snapshot.reference,
                        {
                            "contact_ids": firestore.ArrayRemove([contact_id]),
                            "contact_mailboxes": firestore.ArrayRemove(
                                [
                                    p
                                    for p in data.get("contact_mailboxes", [])
                                    if p.startswith(f"{contact_id}|")
                                ]
                            ),
                        },
                    )
                else:
                    batch.delete(snapshot.reference)
            METER.writes(len(found))
            batch.commit()
            changed += len(found)
