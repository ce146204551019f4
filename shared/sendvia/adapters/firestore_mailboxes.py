"""Mailboxes, one-time OAuth states, deliveries and notifications in Firestore.

Mailbox documents hold the secret's resource name, never a credential. State changes that must
happen once — a mailbox turning broken and its admins being told, an OAuth state being used — run
in transactions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths

if TYPE_CHECKING:
    from google.cloud import firestore


class FirestoreMailboxes:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def get(self, tenant_id: str, mailbox_id: str) -> dict[str, Any] | None:
        snapshot = self._db.document(paths.mailbox(tenant_id, mailbox_id)).get()
        return snapshot.to_dict() if snapshot.exists else None

    def get_many(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Several mailboxes in one round trip; missing ones are left out."""
        refs = [self._db.document(paths.mailbox(tenant_id, m)) for m in mailbox_ids]
        return {s.id: s.to_dict() or {} for s in self._db.get_all(refs) if s.exists}

    def put(self, tenant_id: str, mailbox_id: str, data: Mapping[str, Any]) -> None:
        self._db.document(paths.mailbox(tenant_id, mailbox_id)).set(dict(data))

    def update(self, tenant_id: str, mailbox_id: str, changes: Mapping[str, Any]) -> None:
        self._db.document(paths.mailbox(tenant_id, mailbox_id)).update(dict(changes))

    def delete(self, tenant_id: str, mailbox_id: str) -> None:
        self._db.document(paths.mailbox(tenant_id, mailbox_id)).delete()

    def mark_broken(
        self,
        tenant_id: str,
        mailbox_id: str,
        error: Mapping[str, Any],
        notification: Mapping[str, Any],
        now: dt.datetime,
    ) -> bool:
        """Turn the mailbox broken and notify its admins, once per breakage.

        Returns True when this call broke it (and created the notification); False when it was
        already broken, so a hundred failed sends make one notification (sBizzl)."""
        from google.cloud import firestore

        ref = self._db.document(paths.mailbox(tenant_id, mailbox_id))
        notice = self._db.collection(paths.notifications(tenant_id)).document()

        @firestore.transactional
        def apply(transaction: firestore.Transaction) -> bool:
            snapshot = ref.get(transaction=transaction)
            current = snapshot.to_dict() if snapshot.exists else None
            if current is None:
                return False
            if current.get("state") == "broken":
                transaction.update(ref, {"last_error": dict(error)})
                return False
            transaction.update(
                ref,
                {
                    "state": "broken",
                    "last_error": dict(error),
                    "broken_since": now,
                    "broken_notification": notice.id,
                },
            )
            transaction.set(notice, {**notification, "created_at": now, "read_by": []})
            return True

        result: bool = apply(self._db.transaction())
        return result

    def add_notification(self, tenant_id: str, notice: Mapping[str, Any], now: dt.datetime) -> None:
        self._db.collection(paths.notifications(tenant_id)).document().set(
            {**notice, "created_at": now, "read_by": []}
        )

    def resolve_notification(self, tenant_id: str, notification_id: str, now: dt.datetime) -> None:
        from google.api_core import exceptions

        try:
            self._db.document(f"{paths.notifications(tenant_id)}/{notification_id}").update(
                {"resolved_at": now}
            )
        except exceptions.NotFound:
            return

    # -- one-time OAuth states -----------------------------------------------------------------

    def create_state(self, state_hash: str, record: Mapping[str, Any]) -> None:
        self._db.document(paths.oauth_state(state_hash)).create(dict(record))

    def claim_state(
        self, state_hash: str, browser_hash: str, now: dt.datetime
    ) -> dict[str, Any] | None:
        """Bind a state to the first browser that opens its link; None if unusable."""
        from google.cloud import firestore

        ref = self._db.document(paths.oauth_state(state_hash))

        @firestore.transactional
        def apply(transaction: firestore.Transaction) -> dict[str, Any] | None:
            snapshot = ref.get(transaction=transaction)
            record = snapshot.to_dict() if snapshot.exists else None
            if record is None or record["expires_at"] <= now:
                return None
            if record.get("browser_hash") not in (None, browser_hash):
                return None
            transaction.update(ref, {"browser_hash": browser_hash})
            return record

        claimed: dict[str, Any] | None = apply(self._db.transaction())
        return claimed

    def consume_state(self, state_hash: str, now: dt.datetime) -> dict[str, Any] | None:
        """Read and delete a state in one transaction: it can be used once, before it expires."""
        from google.cloud import firestore

        ref = self._db.document(paths.oauth_state(state_hash))

        @firestore.transactional
        def apply(transaction: firestore.Transaction) -> dict[str, Any] | None:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            transaction.delete(ref)
            record = snapshot.to_dict() or {}
            return record if record.get("expires_at") and record["expires_at"] > now else None

        consumed: dict[str, Any] | None = apply(self._db.transaction())
        return consumed


class FirestoreActivity:
    """Deliveries and in-app notifications."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def add_delivery(self, tenant_id: str, data: Mapping[str, Any]) -> str:
        ref = self._db.collection(paths.deliveries(tenant_id)).document()
        ref.set(dict(data))
        delivery_id: str = ref.id
        return delivery_id

    def get_delivery(self, tenant_id: str, delivery_id: str) -> dict[str, Any] | None:
        snapshot = self._db.document(f"{paths.deliveries(tenant_id)}/{delivery_id}").get()
        return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None

    def create_delivery(self, tenant_id: str, delivery_id: str, data: Mapping[str, Any]) -> bool:
        """Create it unless it exists (an idempotent retry); False when it already did."""
        from google.api_core import exceptions

        try:
            self._db.document(f"{paths.deliveries(tenant_id)}/{delivery_id}").create(dict(data))
        except exceptions.Conflict:
            return False
        return True

    def claim_delivery(
        self, tenant_id: str, delivery_id: str, now: dt.datetime, lease: dt.timedelta
    ) -> tuple[str, dict[str, Any] | None]:
        """Take the delivery for sending, in a transaction: ("claimed", doc) for exactly one
        caller; ("done", doc) once it is sent, failed or cancelled; ("busy", None) while another
        attempt holds an unexpired lease; ("missing", None) when there is no such delivery."""
        from google.cloud import firestore

        ref = self._db.document(f"{paths.deliveries(tenant_id)}/{delivery_id}")

        @firestore.transactional
        def apply(transaction: firestore.Transaction) -> tuple[str, dict[str, Any] | None]:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return "missing", None
            doc = {"id": snapshot.id, **(snapshot.to_dict() or {})}
            if doc["state"] in ("sent", "failed", "cancelled", "suppressed"):
                return "done", doc
            if doc["state"] == "scheduled" and doc.get("send_at") and doc["send_at"] > now + lease:
                return "done", doc  # not due: a task from before a reschedule
            lease_until = doc.get("lease_until")
            if doc["state"] == "sending" and lease_until and lease_until > now:
                return "busy", None
            changes = {
                "state": "sending",
                "lease_until": now + lease,
                "attempts": int(doc.get("attempts", 0)) + 1,
            }
            transaction.update(ref, changes)
            return "claimed", {**doc, **changes}

        result: tuple[str, dict[str, Any] | None] = apply(self._db.transaction())
        return result

    def list_deliveries(
        self, tenant_id: str, filters: Mapping[str, str], page_size: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first, equality filters, paged by the last id of the previous page."""
        from google.cloud import firestore

        collection = self._db.collection(paths.deliveries(tenant_id))
        query: Any = collection
        for field, value in filters.items():
            query = query.where(filter=firestore.FieldFilter(field, "==", value))
        query = query.order_by("created_at", direction=firestore.Query.DESCENDING)
        if after:
            cursor = collection.document(after).get()
            if not cursor.exists:
                return [], None
            query = query.start_after(cursor)
        docs = list(query.limit(page_size + 1).stream())
        page = [{"id": d.id, **(d.to_dict() or {})} for d in docs[:page_size]]
        return page, (page[-1]["id"] if len(docs) > page_size else None)

    def due_deliveries(
        self, until: dt.datetime, page_size: int, after: Any = None
    ) -> tuple[list[tuple[str, str, dt.datetime]], Any]:
        """(tenant, delivery, send_at) of scheduled deliveries due by `until`, across tenants,
        a page at a time (a collection-group query: one composite index on state, send_at)."""
        from google.cloud import firestore

        query = (
            self._db.collection_group("deliveries")
            .where(filter=firestore.FieldFilter("state", "==", "scheduled"))
            .where(filter=firestore.FieldFilter("send_at", "<=", until))
            .order_by("send_at")
            .limit(page_size)
        )
        if after is not None:
            query = query.start_after(after)
        docs = list(query.stream())
        found = [
            (d.reference.parent.parent.id, d.id, d.get("send_at"))
            for d in docs
            if d.reference.parent.parent is not None
        ]
        return found, (docs[-1] if len(docs) == page_size else None)

    def cancel_delivery(
        self, tenant_id: str, delivery_id: str, uid: str, is_admin: bool
    ) -> tuple[str, dict[str, Any] | None]:
        """Cancel a delivery not yet sent: ("cancelled"|"too_late"|"missing", doc)."""
        from google.cloud import firestore

        ref = self._db.document(f"{paths.deliveries(tenant_id)}/{delivery_id}")

        @firestore.transactional
        def apply(transaction: firestore.Transaction) -> tuple[str, dict[str, Any] | None]:
            snapshot = ref.get(transaction=transaction)
            doc = {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None
            if doc is None or (not is_admin and doc.get("created_by") != uid):
                return "missing", None
            if doc["state"] not in ("scheduled", "queued"):
                return "too_late", doc
            transaction.update(ref, {"state": "cancelled", "content": None, "cancelled_by": uid})
            return "cancelled", {**doc, "state": "cancelled"}

        result: tuple[str, dict[str, Any] | None] = apply(self._db.transaction())
        return result

    def update_delivery(
        self,
        tenant_id: str,
        delivery_id: str,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> None:
        """Change the delivery; `attempt` is appended to its attempts log."""
        data = dict(changes)
        if attempt is not None:
            from google.cloud import firestore

            data["attempts_log"] = firestore.ArrayUnion([dict(attempt)])
        self._db.document(f"{paths.deliveries(tenant_id)}/{delivery_id}").update(data)

    def notifications(
        self, tenant_id: str, audiences: list[str], limit: int = 100
    ) -> list[dict[str, Any]]:
        from google.cloud import firestore

        query = (
            self._db.collection(paths.notifications(tenant_id))
            .where(filter=firestore.FieldFilter("audience", "in", audiences))
            .order_by("created_at", direction=firestore.Query.DESCENDING)
            .limit(limit)
        )
        return [{"id": doc.id, **(doc.to_dict() or {})} for doc in query.stream()]

    def notification(self, tenant_id: str, notification_id: str) -> dict[str, Any] | None:
        snapshot = self._db.document(f"{paths.notifications(tenant_id)}/{notification_id}").get()
        return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None

    def mark_read(self, tenant_id: str, notification_id: str, uid: str) -> None:
        from google.cloud import firestore

        self._db.document(f"{paths.notifications(tenant_id)}/{notification_id}").update(
            {"read_by": firestore.ArrayUnion([uid])}
        )
