"""In-memory fakes of the receiving ports (sendvia.ports.receiving), keeping their contracts."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from email import message_from_bytes
from email.policy import compat32
from typing import Any

from sendvia.adapters.reading import Reader
from sendvia.domain.contacts import AddressTaken, Contact, Owner, Source, added_mark, claims
from sendvia.domain.incoming import parse
from sendvia.ports.receiving import Listed, Listing


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

    def put_many(
        self, tenant_id: str, wanted: list[tuple[str, str, list[str]]], now: dt.datetime
    ) -> list[Contact | AddressTaken]:
        results: list[Contact | AddressTaken] = []
        for contact_id, name, addresses in wanted:
            try:
                results.append(self.put(tenant_id, contact_id, name, addresses, now))
            except AddressTaken as taken:
                results.append(taken)
        return results

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

    def addresses_added(
        self, tenant_id: str, after: str | None, through: str, limit: int
    ) -> list[tuple[str, str]]:
        found = sorted(
            (added_mark(e["at"], a), a) for (t, a), e in self.index.items() if t == tenant_id
        )
        return [
            (a, mark) for mark, a in found if (after is None or mark > after) and mark <= through
        ][:limit]


class FakeMail:
    """The messages of fake mailboxes, by address and folder. A message's key is its position;
    `renumber(address, folder)` invalidates every cursor into that folder (a new UIDVALIDITY,
    an expired history id), and `fail_with` makes reading raise."""

    def __init__(self) -> None:
        self.folders: dict[tuple[str, str], list[bytes]] = {}
        self.epochs: dict[tuple[str, str], int] = {}
        self.fail_with: Exception | None = None
        self.fetched = 0
        self.pause_next: float | None = None  # the next listing asks for a pause this long
        self.search_cap: int | None = None  # a search finds at most this many (Graph: 1,000)
        self.searches: list[list[str]] = []

    def arrive(self, address: str, raw: bytes, folder: str = "inbox") -> None:
        self.folders.setdefault((address, folder), []).append(raw)

    def renumber(self, address: str, folder: str) -> None:
        self.epochs[(address, folder)] = self.epochs.get((address, folder), 0) + 1


class FakeReader(Reader):
    FOLDERS = ("inbox", "sent")

    def __init__(self, mail: FakeMail, address: str) -> None:
        self._mail = mail
        self._address = address

    def __enter__(self) -> FakeReader:
        if self._mail.fail_with is not None:
            raise self._mail.fail_with
        return self

    def _listed(self, folder: str, index: int) -> Listed:
        raw = self._mail.folders[(self._address, folder)][index]
        epoch = self._mail.epochs.get((self._address, folder), 0)
        headers = message_from_bytes(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", policy=compat32)
        return Listed(f"{folder}:{epoch}:{index}", folder, headers)

    def _pause(self, cursor: Mapping[str, Any] | None) -> Listing | None:
        wait, self._mail.pause_next = self._mail.pause_next, None
        if wait is None:
            return None
        return Listing(items=[], cursor=dict(cursor or {}), more=True, pause_s=wait)

    def changes(self, cursor: Mapping[str, Any] | None, limit: int) -> Listing:
        if self._mail.fail_with is not None:
            raise self._mail.fail_with
        paused = self._pause(cursor)
        if paused is not None:
            return paused
        folders = {k: dict(v) for k, v in (cursor or {}).get("folders", {}).items()}
        listing = Listing(items=[], cursor={"folders": folders}, more=False)
        for folder in self.FOLDERS:
            held = self._mail.folders.get((self._address, folder), [])
            epoch = self._mail.epochs.get((self._address, folder), 0)
            state = folders.get(folder)
            if cursor is None or state is None:
                folders[folder] = {"epoch": epoch, "next": len(held)}
                continue
            if state["epoch"] != epoch:
                state = {"epoch": epoch, "next": 0}
                listing.restarted.append(folder)
            room = limit - len(listing.items)
            upto = min(len(held), state["next"] + max(room, 0))
            listing.items += [self._listed(folder, i) for i in range(state["next"], upto)]
            listing.more = listing.more or upto < len(held)
            folders[folder] = {"epoch": epoch, "next": upto}
        return listing

    def search(
        self,
        addresses: list[str],
        since: dt.datetime | None,
        cursor: Mapping[str, Any] | None,
        limit: int,
    ) -> Listing:
        paused = self._pause(cursor)
        if paused is not None:
            return paused
        self._mail.searches.append(list(addresses))
        wanted = {a.lower() for a in addresses}
        folders = {k: dict(v) for k, v in (cursor or {}).get("folders", {}).items()}
        listing = Listing(items=[], cursor={"folders": folders}, more=False, total=0)
        for folder in self.FOLDERS:
            held = self._mail.folders.get((self._address, folder), [])
            state = folders.get(folder) or {}
            matches = [
                i
                for i in range(len(held) - 1, -1, -1)
                if wanted & set(parse(held[i]).addresses)
                and (since is None or (parse(held[i]).date or since) >= since)
            ]
            if self._mail.search_cap is not None and len(matches) > self._mail.search_cap:
                matches = matches[: self._mail.search_cap]
                listing.capped = True
            state.setdefault("total", len(matches))
            listing.total = (listing.total or 0) + state["total"]
            if state.get("below") is not None:
                matches = [i for i in matches if i < state["below"]]
            taken = matches[: max(0, limit - len(listing.items))]
            listing.items += [self._listed(folder, i) for i in taken]
            state["below"] = taken[-1] if taken else state.get("below")
            state["done"] = len(taken) == len(matches)
            listing.more = listing.more or not state["done"]
            folders[folder] = state
        return listing

    def fetch(self, items: list[Listed]) -> list[tuple[Listed, bytes]]:
        found = []
        for item in items:
            folder, _, index = item.key.split(":")
            found.append((item, self._mail.folders[(self._address, folder)][int(index)]))
        self._mail.fetched += len(found)
        return found


class FakeSyncStates:
    def __init__(self) -> None:
        self.states: dict[tuple[str, str], dict[str, Any]] = {}

    def take(
        self, tenant_id: str, mailbox_id: str, holder: str, now: dt.datetime, until: dt.datetime
    ) -> dict[str, Any] | None:
        state = self.states.setdefault((tenant_id, mailbox_id), {})
        lease = state.get("lease_until")
        if lease is not None and lease > now and state.get("holder") != holder:
            return None
        before = dict(state)
        state.update(holder=holder, lease_until=until)
        return before

    def save(
        self, tenant_id: str, mailbox_id: str, holder: str, changes: Mapping[str, Any]
    ) -> bool:
        state = self.states.get((tenant_id, mailbox_id))
        if state is None or state.get("holder") != holder:
            return False
        state.update(copy.deepcopy(dict(changes)))
        return True

    def get_many(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {
            m: dict(self.states[(tenant_id, m)])
            for m in mailbox_ids
            if (tenant_id, m) in self.states
        }

    def delete(self, tenant_id: str, mailbox_id: str) -> None:
        self.states.pop((tenant_id, mailbox_id), None)


class FakeCorrespondence:
    UNIONS = ("contact_ids", "mailbox_ids", "contact_mailboxes")

    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes = 0

    def store(self, tenant_id: str, records: list[tuple[str, Mapping[str, Any]]]) -> None:
        for key, record in records:
            self.writes += 1
            stored = self.docs.setdefault((tenant_id, key), {})
            for name, value in record.items():
                if name in self.UNIONS:
                    stored[name] = list(dict.fromkeys([*stored.get(name, []), *value]))
                else:
                    stored[name] = value

    def of(self, tenant_id: str) -> list[dict[str, Any]]:
        return [{"id": k, **d} for (t, k), d in self.docs.items() if t == tenant_id]

    def page(
        self,
        tenant_id: str,
        contact_id: str,
        mailbox_id: str | None,
        page_size: int,
        after: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        found = [
            d
            for d in self.of(tenant_id)
            if (
                f"{contact_id}|{mailbox_id}" in d["contact_mailboxes"]
                if mailbox_id is not None
                else contact_id in d["contact_ids"]
            )
        ]
        found.sort(key=lambda d: (d["date"], d["id"]), reverse=True)
        if after is not None:
            ids = [d["id"] for d in found]
            found = found[ids.index(after) + 1 :] if after in ids else []
        page = found[:page_size]
        return page, (page[-1]["id"] if len(found) > page_size else None)

    def forget_contact(self, tenant_id: str, contact_id: str) -> int:
        changed = 0
        for (t, key), doc in list(self.docs.items()):
            if t != tenant_id or contact_id not in doc["contact_ids"]:
                continue
            changed += 1
            doc["contact_ids"].remove(contact_id)
            doc["contact_mailboxes"] = [
                p for p in doc["contact_mailboxes"] if not p.startswith(f"{contact_id}|")
            ]
            if not doc["contact_ids"]:
                del self.docs[(t, key)]
        return changed
