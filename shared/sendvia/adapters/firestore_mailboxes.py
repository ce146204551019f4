"""Mailboxes, one-time OAuth states, deliveries and notifications in Firestore.

Mailbox documents hold the secret's resource name, never a credential. State changes that must
happen once — a mailbox turning broken and its admins being told, an OAuth state being used — run
in transactions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore


class FirestoreMailboxes:
    def __init__(
        self, client: firestore.Client, on_change: Callable[[str], None] | None = None
    ) -> None:
        self._db = client
        self._on_change = on_change or (lambda tenant_id: None)

    def get(self, tenant_id: str, mailbox_id: str) -> dict[str, Any] | None:
        METER.reads()
        snapshot = self._db.document(paths.mailbox(tenant_id, mailbox_id)).get()
        return snapshot.to_dict() if snapshot.exists else None

    def get_many(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Several mailboxes in one round trip; missing ones are left out."""
        refs = [self._db.document(paths.mailbox(tenant_id, m)) for m in mailbox_ids]
        METER.reads(len(refs))
        return {s.id: s.to_dict() or {} for s in self._db.get_all(refs) if s.exists}

    def put(self, tenant_id: str, mailbox_id: str, data: Mapping[str, Any]) -> None:
        METER.writes()
        self._db.document(paths.mailbox(tenant_id, mailbox_id)).set(dict(data))
        self._on_change(tenant_id)

    def update(self, tenant_id: str, mailbox_id: str, changes: Mapping[str, Any]) -> None:
        METER.writes()
        self._db.document(paths.mailbox(tenant_id, mailbox_id)).update(dict(changes))
        self._on_change(tenant_id)

    def delete(self, tenant_id: str, mailbox_id: str) -> None:
        METER.writes()
        self._db.document(paths.mailbox(tenant_id, mailbox_id)).delete()
        self._on_change(tenant_id)

    def mark_broken(
        self,
        tenant_id: str,
        mailbox_id: str,
        error: Mapping[str, Any],
        notification: Mapping[str, Any],
        now: dt.datetime,
        *,
        credentials: str | None,
    ) -> bool:
        """Turn the mailbox broken and notify its admins, once per breakage.

        Returns True when this call broke it (and created the notification); False when it was
        already broken, so a hundred failed sends make one notification (sBizzl), or when it no
        longer has the `credentials` (secret version) that failed."""
        from google.cloud import firestore

        ref = self._db.document(paths.mailbox(tenant_id, mailbox_id))
        notice = self._db.collection(paths.notifications(tenant_id)).document()

        @firestore.transactional
        def apply(transaction: firestore.Transaction) -> bool:
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            current = snapshot.to_dict() if snapshot.exists else None
            if current is None or current.get("secret_version") != credentials:
                return False
            if current.get("state") == "broken":
                METER.writes()
                transaction.update(ref, {"last_error": dict(error)})
                return False
            METER.writes(2)
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
        self._on_change(tenant_id)
        return result

    def add_notification(self, tenant_id: str, notice: Mapping[str, Any], now: dt.datetime) -> None:
        METER.writes()
        self._db.collection(paths.notifications(tenant_id)).document().set(
            {**notice, "created_at": now, "read_by": []}
        )

    def resolve_notification(self, tenant_id: str, notification_id: str, now: dt.datetime) -> None:
        from google.api_core import exceptions

        METER.writes()
        try:
            self._db.document(f"{paths.notifications(tenant_id)}/{notification_id}").update(
                {"resolved_at": now}
            )
        except exceptions.NotFound:
            return

    # -- one-time OAuth states -----------------------------------------------------------------

    def create_state(self, state_hash: str, record: Mapping[str, Any]) -> None:
        METER.writes()
        self._db.document(paths.oauth_state(state_hash)).create(dict(record))

    def claim_state(
        self, state_hash: str, browser_hash: str, now: dt.datetime
    ) -> dict[str, Any] | None:
        """Bind a state to the first browser that opens its link; None if unusable."""
        from google.cloud import firestore

        ref = self._db.document(paths.oauth_state(state_hash))

        @firestore.transactional
        def apply(transaction: firestore.Transaction) -> dict[str, Any] | None:
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            record = snapshot.to_dict() if snapshot.exists else None
            if record is None or record["expires_at"] <= now:
                return None
            if record.get("browser_hash") not in (None, browser_hash):
                return None
            METER.writes()
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
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            METER.writes()
            transaction.delete(ref)
            record = snapshot.to_dict() or {}
            return record if record.get("expires_at") and record["expires_at"] > now else None

        consumed: dict[str, Any] | None = apply(self._db.transaction())
        return consumed


_CLAIM_TRIES = 3


class FirestoreActivity:
    """Deliveries and in-app notifications."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def add_delivery(self, tenant_id: str, data: Mapping[str, Any]) -> str:
        ref = self._db.collection(paths.deliveries(tenant_id)).document()
        METER.writes()
        ref.set(dict(data))
        delivery_id: str = ref.id
        return delivery_id

    def get_delivery(self, tenant_id: str, delivery_id: str) -> dict[str, Any] | None:
        METER.reads()
        snapshot = self._db.document(f"{paths.deliveries(tenant_id)}/{delivery_id}").get()
        return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None

    def create_delivery(self, tenant_id: str, delivery_id: str, data: Mapping[str, Any]) -> bool:
        """Create it unless it exists (an idempotent retry); False when it already did."""
        from google.api_core import exceptions

        METER.writes()
        try:
            self._db.document(f"{paths.deliveries(tenant_id)}/{delivery_id}").create(dict(data))
        except exceptions.Conflict:
            return False
        return True

    def create_deliveries(
        self, tenant_id: str, records: list[tuple[str, Mapping[str, Any]]]
    ) -> list[bool]:
        """Create several deliveries in one commit; for each, False when it already existed.

        The commit is atomic, so one existing delivery (a retried batch) fails it whole: then
        each is created on its own, and the ones that exist are reported as such."""
        from google.api_core import exceptions

        batch = self._db.batch()
        for delivery_id, data in records:
            ref = self._db.document(f"{paths.deliveries(tenant_id)}/{delivery_id}")
            batch.create(ref, dict(data))
        METER.writes(len(records))
        try:
            batch.commit()
        except exceptions.Conflict:
            return [self.create_delivery(tenant_id, i, data) for i, data in records]
        return [True] * len(records)

    def claim_delivery(
        self, tenant_id: str, delivery_id: str, now: dt.datetime, lease: dt.timedelta
    ) -> tuple[str, dict[str, Any] | None]:
        """Take the delivery for sending: ("claimed", doc) for exactly one caller; ("done", doc)
        once it is sent, failed or cancelled; ("busy", None) while another attempt holds an
        unexpired lease; ("missing", None) when there is no such delivery.

        A compare-and-set rather than a transaction: the lease is written on the condition that
        the document has not changed since it was read (its update time), so of two racing
        claimers one write fails its precondition, and that claimer reads again and finds the
        delivery `sending` or done. One read and one write, two round trips."""
        from google.api_core import exceptions

        ref = self._db.document(f"{paths.deliveries(tenant_id)}/{delivery_id}")
        for _ in range(_CLAIM_TRIES):
            METER.reads()
            snapshot = ref.get()
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
            METER.writes()
            try:
                ref.update(
                    changes, option=self._db.write_option(last_update_time=snapshot.update_time)
                )
            except (exceptions.FailedPrecondition, exceptions.NotFound):
                continue  # changed since we read it: look again
            return "claimed", {**doc, **changes}
        return "busy", None

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
            METER.reads()
            cursor = collection.document(after).get()
            if not cursor.exists:
                return [], None
            query = query.start_after(cursor)
        docs = list(query.limit(page_size + 1).stream())
        METER.reads(max(1, len(docs)))  # a query costs at least one read
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
        METER.reads(max(1, len(docs)))
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
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            doc = {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None
            if doc is None or (not is_admin and doc.get("created_by") != uid):
                return "missing", None
            if doc["state"] not in ("scheduled", "queued"):
                return "too_late", doc
            METER.writes()
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
        METER.writes()
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
        found = [{"id": doc.id, **(doc.to_dict() or {})} for doc in query.stream()]
        METER.reads(max(1, len(found)))
        return found

    def notification(self, tenant_id: str, notification_id: str) -> dict[str, Any] | None:
        METER.reads()
        snapshot = self._db.document(f"{paths.notifications(tenant_id)}/{notification_id}").get()
        return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None

    def mark_read(self, tenant_id: str, notification_id: str, uid: str) -> None:
        from google.cloud import firestore

        METER.writes()
        self._db.document(f"{paths.notifications(tenant_id)}/{notification_id}").update(
            {"read_by": firestore.ArrayUnion([uid])}
        )
