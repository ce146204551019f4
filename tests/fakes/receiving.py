"""In-memory fakes of the receiving ports (sendvia.ports.receiving), keeping their contracts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sendvia.domain.contacts import Contact, Owner, Source, claims


class FakeContacts:
    def __init__(self) -> None:
        self.names: dict[tuple[str, str], dict[str, Any]] = {}
        self.index: dict[tuple[str, str], dict[str, Any]] = {}  # (tenant, address) → entry

    def _held(self, tenant_id: str, contact_id: str) -> dict[str, dict[str, Any]]:
        return {
            a: e
            for (t, a), e in self.index.items()
            if t == tenant_id and e["contact"] == contact_id
        }

    def get(self, tenant_id: str, contact_id: str) -> Contact | None:
        held = self._held(tenant_id, contact_id)
        doc = self.names.get((tenant_id, contact_id))
        if doc is None and not held:
            return None
        return Contact(
            id=contact_id,
            name=(doc or {}).get("name", ""),
            addresses=tuple(sorted(a for a, e in held.items() if e["source"] is Source.HOST)),
            learned=tuple(sorted(a for a, e in held.items() if e["source"] is Source.DELIVERY)),
            updated_at=(doc or {}).get("updated_at"),
        )

    def put(
        self, tenant_id: str, contact_id: str, name: str, addresses: list[str], now: dt.datetime
    ) -> Contact:
        owners = {
            a: Owner(e["contact"], e["source"])
            for a in addresses
            if (e := self.index.get((tenant_id, a)))
        }
        held = {a: e["source"] for a, e in self._held(tenant_id, contact_id).items()}
        change = claims(contact_id, addresses, owners, held)
        self.names[(tenant_id, contact_id)] = {"name": name, "updated_at": now.isoformat()}
        for address in change.take:
            self.index[(tenant_id, address)] = {
                "contact": contact_id,
                "source": Source.HOST,
                "at": now,
            }
        for address in change.release:
            del self.index[(tenant_id, address)]
        found = self.get(tenant_id, contact_id)
        assert found is not None
        return found

    def delete(self, tenant_id: str, contact_id: str) -> bool:
        held = self._held(tenant_id, contact_id)
        for address in held:
            del self.index[(tenant_id, address)]
        return self.names.pop((tenant_id, contact_id), None) is not None or bool(held)

    def learn(
        self, tenant_id: str, contact_id: str, addresses: list[str], now: dt.datetime
    ) -> None:
        for address in addresses:
            self.index.setdefault(
                (tenant_id, address.lower()),
                {"contact": contact_id, "source": Source.DELIVERY, "at": now},
            )

    def owners(self, tenant_id: str, addresses: list[str]) -> dict[str, str]:
        return {
            a.lower(): e["contact"]
            for a in addresses
            if (e := self.index.get((tenant_id, a.lower())))
        }

    def addresses(
        self, tenant_id: str, added_after: dt.datetime | None = None
    ) -> Iterator[tuple[str, str, dt.datetime]]:
        for (t, address), entry in list(self.index.items()):
            if t == tenant_id and (added_after is None or entry["at"] > added_after):
                yield address, entry["contact"], entry["at"]
