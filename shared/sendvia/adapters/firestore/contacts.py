"""ports.Contacts on Firestore: `contacts/{id}` holds the name; `contact_addresses/{hash}` is the
tenant's index of addresses, one document per address naming its one contact, so "whose is this
address" is one read however many contacts a tenant has, and two contacts can never both hold an
address (putting a contact is one transaction over the index entries it touches)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths
from sendvia.cache import TenantCache
from sendvia.domain.contacts import Contact, Owner, Source, added_mark, claims
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore

_LEARNED_KEPT_S = 3600.0  # an instance remembers for an hour which addresses it taught


def _owner(data: dict[str, Any]) -> Owner:
    return Owner(str(data["contact_id"]), Source(data.get("source", Source.HOST)))


class FirestoreContacts:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client
        self._learned: TenantCache[bool] = TenantCache(_LEARNED_KEPT_S)

    def _held_query(self, tenant_id: str, contact_id: str) -> Any:
        from google.cloud import firestore

        return self._db.collection(paths.contact_addresses(tenant_id)).where(
            filter=firestore.FieldFilter("contact_id", "==", contact_id)
        )

    def get(self, tenant_id: str, contact_id: str) -> Contact | None:
        METER.reads()
        snapshot = self._db.document(paths.contact(tenant_id, contact_id)).get()
        held = [s.to_dict() or {} for s in self._held_query(tenant_id, contact_id).stream()]
        METER.reads(max(1, len(held)))
        if not snapshot.exists and not held:
            return None
        return _contact(contact_id, snapshot.to_dict() or {}, held)

    def put(
        self, tenant_id: str, contact_id: str, name: str, addresses: list[str], now: dt.datetime
    ) -> Contact:
        from google.cloud import firestore

        contact_ref = self._db.document(paths.contact(tenant_id, contact_id))

        @firestore.transactional
        def put_once(transaction: firestore.Transaction) -> Contact:
            held_docs = list(transaction.get(self._held_query(tenant_id, contact_id)))
            refs = [self._db.document(paths.contact_address(tenant_id, a)) for a in addresses]
            owners = {
                str(s.get("address")): _owner(s.to_dict() or {})
                for s in transaction.get_all(refs)
                if s.exists
            }
            METER.reads(1 + len(held_docs) + len(refs))
            held = {str(s.get("address")): Source(s.get("source")) for s in held_docs}
            change = claims(contact_id, addresses, owners, held)  # raises AddressTaken
            document = {"name": name, "updated_at": now}
            transaction.set(contact_ref, document)
            for address in change.take:
                transaction.set(
                    self._db.document(paths.contact_address(tenant_id, address)),
                    {
                        "address": address,
                        "contact_id": contact_id,
                        "source": "host",
                        "at": now,
                        "added": added_mark(now, address),
                    },
                )
            for address in change.release:
                transaction.delete(self._db.document(paths.contact_address(tenant_id, address)))
            METER.writes(1 + len(change.take) + len(change.release))
            kept = [
                {"address": a, "source": s.value}
                for a, s in held.items()
                if a not in change.release and a not in addresses
            ]
            return _contact(contact_id, document, [*kept, *({"address": a} for a in addresses)])

        result: Contact = put_once(self._db.transaction())
        self._learned.forget_tenant(tenant_id)
        return result

    def delete(self, tenant_id: str, contact_id: str) -> bool:
        """The contact and its index entries, in batches; True when there was anything."""
        contact_ref = self._db.document(paths.contact(tenant_id, contact_id))
        METER.reads()
        existed = contact_ref.get().exists
        refs = [s.reference for s in self._held_query(tenant_id, contact_id).stream()]
        METER.reads(max(1, len(refs)))
        for start in range(0, len(refs) + 1, 400):
            batch = self._db.batch()
            for ref in refs[start : start + 400]:
                batch.delete(ref)
            if start == 0:
                batch.delete(contact_ref)
            METER.writes(len(refs[start : start + 400]) + (start == 0))
            batch.commit()
        self._learned.forget_tenant(tenant_id)
        return existed or bool(refs)

    def learn(
        self, tenant_id: str, contact_id: str, addresses: list[str], now: dt.datetime
    ) -> None:
        """Teach the contact these addresses, unless they belong to someone already: one blind
        create per address this instance has not taught within the hour, nothing to read."""
        from google.api_core import exceptions

        generation = self._learned.generation()
        for address in dict.fromkeys(a.lower() for a in addresses):
            if self._learned.get((tenant_id, address)):
                continue
            ref = self._db.document(paths.contact_address(tenant_id, address))
            METER.writes()
            # Someone's already (the host's word, or an earlier delivery's): theirs it stays.
            with contextlib.suppress(exceptions.Conflict):
                ref.create(
                    {
                        "address": address,
                        "contact_id": contact_id,
                        "source": Source.DELIVERY.value,
                        "at": now,
                        "added": added_mark(now, address),
                    }
                )
            self._learned.put((tenant_id, address), True, generation)

    def owners(self, tenant_id: str, addresses: list[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(a.lower() for a in addresses))
        if not wanted:
            return {}
        refs = [self._db.document(paths.contact_address(tenant_id, a)) for a in wanted]
        METER.reads(len(refs))
        return {
            str(s.get("address")): str(s.get("contact_id"))
            for s in self._db.get_all(refs)
            if s.exists
        }

    def addresses_added(
        self, tenant_id: str, after: str | None, through: str, limit: int
    ) -> list[tuple[str, str]]:
        from google.cloud import firestore

        query = (
            self._db.collection(paths.contact_addresses(tenant_id))
            .where(filter=firestore.FieldFilter("added", "<=", through))
            .order_by("added")
        )
        if after is not None:
            query = query.where(filter=firestore.FieldFilter("added", ">", after))
        found = list(query.limit(limit).stream())
        METER.reads(max(1, len(found)))
        return [(str(s.get("address")), str(s.get("added"))) for s in found]


def _contact(contact_id: str, document: dict[str, Any], held: list[dict[str, Any]]) -> Contact:
    updated = document.get("updated_at")
    given = sorted(str(h["address"]) for h in held if h.get("source", "host") == "host")
    learned = sorted(str(h["address"]) for h in held if h.get("source") == "delivery")
    return Contact(
        id=contact_id,
        name=str(document.get("name") or ""),
        addresses=tuple(given),
        learned=tuple(learned),
        updated_at=updated.isoformat() if isinstance(updated, dt.datetime) else None,
    )
