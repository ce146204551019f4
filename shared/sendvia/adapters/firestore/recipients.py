"""Recipients' statuses and the email service's events, in Firestore.

Each event is recorded in one transaction with the address's status and the delivery it is
about: the event's mark (`provider_events/{hash}`) is created there, so a duplicate — SendGrid
and SNS both deliver at least once — finds it and changes nothing a second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths
from sendvia.cache import TenantCache
from sendvia.domain import provider_events as pe
from sendvia.domain.delivery import Delivery, state_after_event
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore


# How long the marks of recorded events are kept (infra/: Firestore TTL on `expire_at`): longer
# than any email service retries a webhook (SendGrid: 72 hours; SNS: days).
EVENT_MARK_LIFETIME = dt.timedelta(days=30)
UNMATCHED_LIFETIME = dt.timedelta(days=90)  # for an operator to look into


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FirestoreRecipients:
    """`cache_s`: how long an instance reuses a suppression shard (dropped at once when this
    instance changes an address of that tenant)."""

    def __init__(self, client: firestore.Client, cache_s: float = 0.0) -> None:
        self._db = client
        self._shards: TenantCache[dict[str, Any]] = TenantCache(cache_s)

    def suppressed(self, tenant_id: str, addresses: list[str]) -> dict[str, pe.Recipient]:
        """The addresses among these that are suppressed or opted out of something."""
        wanted = {a.lower(): paths.address_hash(a) for a in addresses}
        shards = sorted({paths.suppression_shard_of(h) for h in wanted.values()})
        entries: dict[str, Any] = {}
        missing = []
        for shard in shards:
            cached = self._shards.get((tenant_id, shard))
            if cached is None:
                missing.append(shard)
            else:
                entries.update(cached)
        if missing:
            generation = self._shards.generation()
            refs = [self._db.document(paths.suppression_shard(tenant_id, m)) for m in missing]
            METER.reads(len(refs))
            for snapshot in self._db.get_all(refs):
                found = (snapshot.to_dict() or {}).get("entries", {}) if snapshot.exists else {}
                entries.update(found)
                self._shards.put((tenant_id, snapshot.id), found, generation)
        return {
            address: pe.recipient_from_doc(address, entries[digest])
            for address, digest in wanted.items()
            if digest in entries
        }

    def get(self, tenant_id: str, address: str) -> pe.Recipient:
        METER.reads()
        snapshot = self._db.document(paths.recipient(tenant_id, address)).get()
        return pe.recipient_from_doc(
            address.lower(), snapshot.to_dict() if snapshot.exists else None
        )

    def find_delivery(
        self, message_id: str, tenant_id: str | None = None
    ) -> tuple[str, str] | None:
        """(tenant, delivery) of the email with our Message-ID: across tenants, or within one."""
        from google.cloud import firestore

        scope = (
            self._db.collection(paths.deliveries(tenant_id))
            if tenant_id is not None
            else self._db.collection_group("deliveries")
        )
        # As we wrote it, or lower-cased (a report may have changed the domain's case).
        given = message_id.strip().strip("<>")
        forms = sorted({f"<{given}>", f"<{given.lower()}>"})
        query = scope.where(filter=firestore.FieldFilter("message_id", "in", forms)).limit(1)
        docs = list(query.stream())
        METER.reads(max(1, len(docs)))
        if not docs or docs[0].reference.parent.parent is None:
            return None
        return docs[0].reference.parent.parent.id, docs[0].id

    def record(
        self, tenant_id: str, delivery_id: str | None, event: pe.ProviderEvent
    ) -> tuple[bool, bool, Delivery | None]:
        """Record one event: (new, suppressed_now, the delivery as it was). `new` is False for
        a duplicate, which changes nothing."""
        from google.cloud import firestore

        mark = self._db.document(paths.provider_event(tenant_id, event.provider, event.event_id))
        recipient_ref = self._db.document(paths.recipient(tenant_id, event.address))
        delivery_ref = (
            self._db.document(paths.delivery(tenant_id, delivery_id)) if delivery_id else None
        )

        @firestore.transactional
        def record_once(
            transaction: firestore.Transaction,
        ) -> tuple[bool, bool, Delivery | None]:
            refs = [mark, recipient_ref, *([delivery_ref] if delivery_ref else [])]
            METER.reads(len(refs))
            snapshots = {s.reference.path: s for s in transaction.get_all(refs)}
            if snapshots[mark.path].exists:
                return False, False, None
            current = snapshots[recipient_ref.path]
            recipient = pe.recipient_from_doc(
                event.address, current.to_dict() if current.exists else None
            )
            updated, suppressed_now = pe.apply(recipient, event)
            METER.writes(2)
            transaction.set(recipient_ref, pe.recipient_to_doc(updated))
            _index(transaction, self._db, tenant_id, recipient, updated)
            transaction.create(
                mark,
                {
                    "kind": event.kind.value,
                    "type": event.raw_type,
                    "at": event.at,
                    "address_hash": paths.address_hash(event.address),
                    "delivery_id": delivery_id,
                    # Firestore's TTL deletes the mark after the email services stop retrying.
                    "expire_at": _now() + EVENT_MARK_LIFETIME,
                },
            )
            delivery = None
            if delivery_ref is not None and snapshots[delivery_ref.path].exists:
                delivery = Delivery.from_doc(
                    delivery_ref.id, snapshots[delivery_ref.path].to_dict() or {}
                )
                changes: dict[str, Any] = {
                    "provider_events": firestore.ArrayUnion([event.to_json()])
                }
                state = state_after_event(delivery.state, event)
                if state is not None:
                    changes["state"] = state.value
                    changes["outcome_at"] = event.at
                    if event.reason:
                        changes["outcome_reason"] = event.reason
                METER.writes()
                transaction.update(delivery_ref, changes)
            return True, suppressed_now, delivery

        result: tuple[bool, bool, Delivery | None] = record_once(self._db.transaction())
        self._shards.forget_tenant(tenant_id)
        return result

    def record_unmatched(self, event: pe.ProviderEvent) -> bool:
        """An event for an email we cannot place: kept (once) for the operator; no tenant's."""
        from google.api_core import exceptions

        METER.writes()
        try:
            self._db.document(paths.unmatched_event(event.provider, event.event_id)).create(
                {
                    **event.to_json(),
                    "address_hash": paths.address_hash(event.address),
                    "expire_at": _now() + UNMATCHED_LIFETIME,  # Firestore's TTL
                }
            )
        except exceptions.Conflict:
            return False
        return True

    def change(
        self,
        tenant_id: str,
        address: str,
        change: Mapping[str, Any],
        now: dt.datetime,
    ) -> pe.Recipient:
        """An admin's change of an address (reactivation, re-opt-in), in its history too."""
        from google.cloud import firestore

        ref = self._db.document(paths.recipient(tenant_id, address))

        @firestore.transactional
        def change_once(transaction: firestore.Transaction) -> pe.Recipient:
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            recipient = pe.recipient_from_doc(
                address.lower(), snapshot.to_dict() if snapshot.exists else None
            )
            updated = pe.admin_change(recipient, change, now)
            METER.writes()
            transaction.set(ref, pe.recipient_to_doc(updated))
            _index(transaction, self._db, tenant_id, recipient, updated)
            return updated

        changed: pe.Recipient = change_once(self._db.transaction())
        self._shards.forget_tenant(tenant_id)
        return changed


def _index(
    transaction: Any,
    db: firestore.Client,
    tenant_id: str,
    before: pe.Recipient,
    after: pe.Recipient,
) -> None:
    """Keep the suppression shard in step: an entry while the address is suppressed or opted
    out of anything, none otherwise (written blind, without reading the shard)."""
    from google.cloud import firestore

    def entry(r: pe.Recipient) -> dict[str, Any] | None:
        if r.status is pe.Status.ACTIVE and not r.opted_out:
            return None
        return {
            "address": r.address,
            "status": r.status.value,
            "opted_out": list(r.opted_out),
            "status_since": r.status_since,
            "status_reason": r.status_reason,
        }

    old, new = entry(before), entry(after)
    if old == new:
        return
    digest = paths.address_hash(after.address)
    METER.writes()
    transaction.set(
        db.document(paths.suppression_shard(tenant_id, paths.suppression_shard_of(digest))),
        {"entries": {digest: new if new is not None else firestore.DELETE_FIELD}},
        merge=True,
    )
