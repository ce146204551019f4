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
from sendvia.domain.contacts import AddressTaken, Contact, Owner, Source, added_mark, claims
from sendvia.errors import TooBusy
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore

_LEARNED_KEPT_S = 3600.0  # an instance remembers for an hour which addresses it taught
_CHUNK = 30  # contacts per transaction: Firestore's `in` takes 30 values
_MAX_WRITES = 450
_TRANSACTION_TRIES = 20  # racing puts of one address retry; past this, 429 "try again"


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
        [result] = self.put_many(tenant_id, [(contact_id, name, addresses)], now)
        if isinstance(result, AddressTaken):
            raise result
        return self.get(tenant_id, contact_id) or result  # with what deliveries taught it

    def put_many(
        self, tenant_id: str, wanted: list[tuple[str, str, list[str]]], now: dt.datetime
    ) -> list[Contact | AddressTaken]:
        """A transaction per chunk of contacts (at most 30: one `in` query finds what they
        hold), so a batch of 500 is a few transactions, not 500 racing for the same index."""
        results: list[Contact | AddressTaken] = []
        chunk: list[tuple[str, str, list[str]]] = []
        for item in wanted:
            if chunk and (len(chunk) == _CHUNK or _writes(chunk) + 1 + len(item[2]) > _MAX_WRITES):
                results += self._put_chunk(tenant_id, chunk, now)
                chunk = []
            chunk.append(item)
        if chunk:
            results += self._put_chunk(tenant_id, chunk, now)
        self._learned.forget_tenant(tenant_id)
        return results

    def _put_chunk(
        self, tenant_id: str, wanted: list[tuple[str, str, list[str]]], now: dt.datetime
    ) -> list[Contact | AddressTaken]:
        from google.cloud import firestore

        index = self._db.collection(paths.contact_addresses(tenant_id))
        ids = [contact_id for contact_id, _, _ in wanted]

        @firestore.transactional
        def put_once(transaction: firestore.Transaction) -> list[Contact | AddressTaken]:
            # Documents only, no query: racing puts then wait on the documents they share, not
            # on a range of the index. A contact's document lists the addresses the host gave
            # it, the ones a new put may release.
            contact_refs = [self._db.document(paths.contact(tenant_id, c)) for c in ids]
            held_by = {
                s.id: list((s.to_dict() or {}).get("addresses") or [])
                for s in transaction.get_all(contact_refs)
                if s.exists
            }
            every = sorted(
                {a for _, _, addresses in wanted for a in addresses}
                | {a for held in held_by.values() for a in held}
            )
            refs = [index.document(paths.address_hash(a)) for a in every]
            # (No addresses, no read: Firestore answers an empty batch read with an error.)
            owners = {
                str(s.get("address")): _owner(s.to_dict() or {})
                for s in (transaction.get_all(refs) if refs else [])
                if s.exists
            }
            METER.reads(len(contact_refs) + len(refs))
            results: list[Contact | AddressTaken] = []
            writes = 0
            for contact_id, name, addresses in wanted:
                held = {
                    a: Source.HOST
                    for a in held_by.get(contact_id, [])
                    if (owner := owners.get(a)) and owner.contact_id == contact_id
                }
                try:
                    change = claims(contact_id, addresses, owners, held)
                except AddressTaken as taken:
                    results.append(taken)
                    continue
                document = {"name": name, "addresses": list(addresses), "updated_at": now}
                transaction.set(self._db.document(paths.contact(tenant_id, contact_id)), document)
                for address in change.take:
                    owners[address] = Owner(contact_id, Source.HOST)
                    transaction.set(
                        index.document(paths.address_hash(address)),
                        {
                            "address": address,
                            "contact_id": contact_id,
                            "source": Source.HOST.value,
                            "at": now,
                            "added": added_mark(now, address),
                        },
                    )
                for address in change.release:
                    transaction.delete(index.document(paths.address_hash(address)))
                writes += 1 + len(change.take) + len(change.release)
                results.append(_contact(contact_id, document, [{"address": a} for a in addresses]))
            METER.writes(writes)
            return results

        try:
            done: list[Contact | AddressTaken] = put_once(
                self._db.transaction(max_attempts=_TRANSACTION_TRIES)
            )
        except ValueError as exc:  # the client's "Failed to commit transaction in N attempts"
            raise TooBusy(
                "Too many changes to these contacts at once.", hint="Try again in a moment."
            ) from exc
        return done

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


def _writes(chunk: list[tuple[str, str, list[str]]]) -> int:
    return sum(1 + len(addresses) for _, _, addresses in chunk)


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
