"""The ports of receiving (DESIGN §8): the tenant's contacts, the correspondence synced with them,
and each receiving mailbox's sync state. Every method takes the tenant id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Protocol

from sendvia.domain.contacts import AddressTaken, Contact


class Contacts(Protocol):
    """Contacts and the tenant's index of their addresses (domain.contacts' rules)."""

    def get(self, tenant_id: str, contact_id: str) -> Contact | None: ...

    def put(
        self, tenant_id: str, contact_id: str, name: str, addresses: list[str], now: dt.datetime
    ) -> Contact:
        """Create or replace the contact's name and host addresses, atomically; raises
        domain.contacts.AddressTaken, changing nothing, for an address the host gave another."""
        ...

    def put_many(
        self, tenant_id: str, wanted: list[tuple[str, str, list[str]]], now: dt.datetime
    ) -> list[Contact | AddressTaken]:
        """`put` for each (id, name, addresses), in order: the contact as stored, or why it was
        refused (it changed nothing). Contacts are put together where they can be, so a batch
        costs a few transactions."""
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

    def addresses_added(
        self, tenant_id: str, after: str | None, through: str, limit: int
    ) -> list[tuple[str, str]]:
        """(address, its `added` mark) of addresses added after the mark `after` (from the first,
        with None) up to the mark `through`, oldest first, at most `limit`: what a backfill
        walks. Marks are domain.contacts.added_mark's, ordered as text."""
        ...


# -- reading a mailbox -------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """A message a listing found: the provider's key for it, its folder (`inbox` or `sent`),
    and the headers deciding whether it is worth fetching (From, To, Cc, Message-ID, and the
    ones a bounce report carries), when the listing gives them."""

    key: str
    folder: str
    headers: Message | None = None


@dataclass
class Listing:
    items: list[Listed]
    cursor: dict[str, Any]  # where the next call resumes (JSON, stored as it is)
    more: bool  # more is waiting now: call again (within the time budget)
    total: int | None = None  # a search's estimate of everything it finds
    units: int = 0  # the provider's quota units this call spent
    restarted: list[str] = field(default_factory=list)  # folders re-read from the start
    # The reader's share of the provider's quota is spent: read no more for this many seconds.
    pause_s: float | None = None
    # A search the provider answers only so far (Graph's $search: 1,000 results): search
    # fewer addresses at once to see the rest.
    capped: bool = False


class MailReader(Protocol):
    """One mailbox opened for reading (a context manager: closing it logs out). Raises
    ProviderFailure (classified: auth, quota with `retry_after`, transient) and nothing else."""

    def __enter__(self) -> MailReader: ...

    def __exit__(self, *exc: object) -> None: ...

    def changes(self, cursor: Mapping[str, Any] | None, limit: int) -> Listing:
        """Messages that arrived in Inbox or Sent after `cursor`, at most `limit`; with no cursor,
        none, and a cursor at the mailbox's present (earlier mail is the backfill's). A cursor
        the provider no longer honours (Gmail's history too old, Graph's 410, a new IMAP
        UIDVALIDITY) restarts that folder from its beginning: `restarted` names it; messages
        seen before come again and are stored once."""
        ...

    def search(
        self,
        addresses: list[str],
        since: dt.datetime | None,
        cursor: Mapping[str, Any] | None,
        limit: int,
    ) -> Listing:
        """Earlier messages from, to or copied to any of `addresses` (received after `since`, if
        given), newest first, a page at a time from `cursor`."""
        ...

    def fetch(self, items: list[Listed]) -> list[tuple[Listed, bytes]]:
        """The whole messages (RFC 5322), in the order asked; one gone meanwhile is left out."""
        ...

    def rotated_secret(self) -> bytes | None:
        """Credentials the provider issued in place of the stored ones while reading (Microsoft
        rotates its refresh token on every use): to store as the mailbox's new secret version."""
        ...


class SyncStates(Protocol):
    """Each receiving mailbox's cursor, backfill and health, under a lease so that two syncs of
    one mailbox never run at once."""

    def take(
        self, tenant_id: str, mailbox_id: str, holder: str, now: dt.datetime, until: dt.datetime
    ) -> dict[str, Any] | None:
        """Hold the mailbox's sync until `until` unless another holder's lease is still running:
        the state as stored (empty for a first sync), or None when it is held."""
        ...

    def save(
        self, tenant_id: str, mailbox_id: str, holder: str, changes: Mapping[str, Any]
    ) -> bool:
        """Store progress if `holder` still holds the lease; False (nothing stored) when it lost
        it: the sync must stop."""
        ...

    def get_many(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, dict[str, Any]]: ...

    def delete(self, tenant_id: str, mailbox_id: str) -> None: ...


class Correspondence(Protocol):
    """Messages with contacts, one document per message per tenant (domain.incoming.key)."""

    def store(self, tenant_id: str, records: list[tuple[str, Mapping[str, Any]]]) -> None:
        """Write each record under its key; a record seen again (another folder, another
        mailbox, a resync) adds its mailboxes and contacts to the stored one, nothing twice."""
        ...

    def page(
        self,
        tenant_id: str,
        contact_id: str,
        mailbox_id: str | None,
        page_size: int,
        after: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The contact's messages, newest first (only `mailbox_id`'s, if given), a page after the
        token `after`; and the next page's token (None on the last)."""
        ...

    def forget_contact(self, tenant_id: str, contact_id: str) -> int:
        """Take the contact off every message; messages left with no contact are deleted."""
        ...
