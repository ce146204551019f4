"""The ports of receiving (DESIGN §8): the tenant's contacts, the correspondence synced with them,
and each receiving mailbox's sync state. Every method takes the tenant id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Protocol

from sendvia.domain.contacts import Contact


class Contacts(Protocol):
    """Contacts and the tenant's index of their addresses (domain.contacts' rules)."""

    def get(self, tenant_id: str, contact_id: str) -> Contact | None: ...

    def put(
        self, tenant_id: str, contact_id: str, name: str, addresses: list[str], now: dt.datetime
    ) -> Contact:
        """Create or replace the contact's name and host addresses, atomically; raises
        domain.contacts.AddressTaken, changing nothing, for an address the host gave another."""
        ...

    def delete(self, tenant_id: str, contact_id: str) -> bool:
        """The contact and its addresses; False when there was neither."""
        ...

    def learn(
        self, tenant_id: str, contact_id: str, addresses: list[str], now: dt.datetime
    ) -> None:
        """Give the contact these addresses where nobody holds them yet (an email sent with its
        id went to them)."""
        ...

    def owners(self, tenant_id: str, addresses: list[str]) -> dict[str, str]:
        """The contact of each of these addresses that has one (lower-cased address → id)."""
        ...

    def addresses(
        self, tenant_id: str, added_after: dt.datetime | None = None
    ) -> Iterator[tuple[str, str, dt.datetime]]:
        """(address, contact id, when it was added) of the tenant's addresses, or of those added
        after a time."""
        ...
