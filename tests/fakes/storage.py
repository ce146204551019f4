"""In-memory fakes of the storage ports (sendvia.ports.storage)."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sendvia.domain import provider_events as pe
from sendvia.domain.delivery import (
    Cancel,
    Claim,
    Delivery,
    DeliveryState,
    may_cancel,
    state_after_event,
)
from sendvia.domain.mailbox import MailboxRecord, MailboxSummary
from sendvia.domain.principal import Principal
from sendvia.domain.tenant import Tenant

from tests.fakes.clock import NOW, next_id

# -- storage -----------------------------------------------------------------------------------


class FakeStore:
    def __init__(self, mailboxes: FakeMailboxes, on_change: Callable[[str], None]) -> None:
        self.tenants: dict[str, dict[str, Any]] = {}
        self.members: dict[tuple[str, str], dict[str, Any]] = {}
        self._mailboxes = mailboxes
        self._on_change = on_change

    def get_tenant(self, tenant_id: str) -> Mapping[str, Any] | None:
        return copy.deepcopy(self.tenants.get(tenant_id))

    def save_tenant(self, tenant: Tenant) -> None:
        stored = tenant.to_json()
        del stored["id"]
        self.tenants[tenant.id] = stored
        self._on_change(tenant.id)

    def record_member(self, principal: Principal, seen_at: str) -> None:
        self.members[(principal.tenant_id, principal.uid)] = {
            "email": principal.email,
            "name": principal.name,
            "role": principal.role.value,
            "last_seen": seen_at,
        }

    def list_members(self, tenant_id: str) -> list[Mapping[str, Any]]:
        found = [{"uid": uid, **m} for (t, uid), m in self.members.items() if t == tenant_id]
        return sorted(found, key=lambda m: str(m["email"]))

    def get_mailboxes(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, MailboxSummary]:
        found = self._mailboxes.get_many(tenant_id, mailbox_ids)
        return {m: record.summary() for m, record in found.items()}


class FakeMailboxes:
    def __init__(self, notifications: FakeNotifications, on_change: Callable[[str], None]) -> None:
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self._notifications = notifications
        self._on_change = on_change
        self._lock = threading.Lock()

    def get(self, tenant_id: str, mailbox_id: str) -> MailboxRecord | None:
        doc = self.docs.get((tenant_id, mailbox_id))
        return MailboxRecord.from_doc(tenant_id, mailbox_id, copy.deepcopy(doc)) if doc else None

    def get_many(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, MailboxRecord]:
        found = {m: self.get(tenant_id, m) for m in mailbox_ids}
        return {m: record for m, record in found.items() if record is not None}

    def put(self, tenant_id: str, mailbox_id: str, data: Mapping[str, Any]) -> None:
        self.docs[(tenant_id, mailbox_id)] = copy.deepcopy(dict(data))
        self._on_change(tenant_id)

    def update(self, tenant_id: str, mailbox_id: str, changes: Mapping[str, Any]) -> None:
        self.docs[(tenant_id, mailbox_id)].update(copy.deepcopy(dict(changes)))
        self._on_change(tenant_id)

    def delete(self, tenant_id: str, mailbox_id: str) -> None:
        self.docs.pop((tenant_id, mailbox_id), None)
        self._on_change(tenant_id)

    def receiving(self) -> list[tuple[str, str]]:
        return [
            (t, m)
            for (t, m), doc in self.docs.items()
            if doc.get("receive") and doc.get("state") == "active"
        ]

    def replace_secret(
        self, tenant_id: str, mailbox_id: str, old: str, new: str, now: dt.datetime
    ) -> bool:
        with self._lock:
            doc = self.docs.get((tenant_id, mailbox_id))
            if doc is None or doc.get("secret_version") != old:
                return False
            doc.update({"secret_version": new, "secret_stored_at": now})
        self._on_change(tenant_id)
        return True

    def spend_code_try(
        self, tenant_id: str, mailbox_id: str, max_tries: int
    ) -> Mapping[str, Any] | None:
        with self._lock:
            doc = self.docs.get((tenant_id, mailbox_id)) or {}
            pending = doc.get("confirmation")
            if not pending:
                return None
            before: Mapping[str, Any] = copy.deepcopy(pending)
            if pending.get("attempts", 0) < max_tries:
                pending["attempts"] = pending.get("attempts", 0) + 1
            return before

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
        with self._lock:
            current = self.docs.get((tenant_id, mailbox_id))
            if current is None or current.get("secret_version") != credentials:
                return False
            if current.get("state") == "broken":
                current["last_error"] = dict(error)
                return False
            notice_id = self._notifications.added(tenant_id, notification, now)
            current.update(
                {
                    "state": "broken",
                    "last_error": dict(error),
                    "broken_since": now,
                    "broken_notification": notice_id,
                }
            )
        self._on_change(tenant_id)
        return True


class FakeNotifications:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def add(
        self,
        tenant_id: str,
        notice: Mapping[str, Any],
        now: dt.datetime,
        notice_id: str | None = None,
    ) -> None:
        if notice_id and (tenant_id, notice_id) in self.items:
            return
        self.added(tenant_id, notice, now, notice_id)

    def added(
        self,
        tenant_id: str,
        notice: Mapping[str, Any],
        now: dt.datetime,
        notice_id: str | None = None,
    ) -> str:
        """Add it; its id."""
        notification_id = notice_id or next_id("n")
        self.items[(tenant_id, notification_id)] = {**notice, "created_at": now, "read_by": []}
        return notification_id

    def resolve(self, tenant_id: str, notification_id: str, now: dt.datetime) -> None:
        found = self.items.get((tenant_id, notification_id))
        if found is not None:
            found["resolved_at"] = now

    def newest(
        self, tenant_id: str, audiences: list[str], limit: int = 100
    ) -> list[dict[str, Any]]:
        found = [
            {"id": n, **item}
            for (t, n), item in self.items.items()
            if t == tenant_id and item.get("audience") in audiences
        ]
        return sorted(found, key=lambda item: item["created_at"], reverse=True)[:limit]

    def get(self, tenant_id: str, notification_id: str) -> dict[str, Any] | None:
        found = self.items.get((tenant_id, notification_id))
        return {"id": notification_id, **found} if found else None

    def mark_read(self, tenant_id: str, notification_id: str, uid: str) -> None:
        read_by = self.items[(tenant_id, notification_id)]["read_by"]
        if uid not in read_by:
            read_by.append(uid)

    def of(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every notification of the tenant (for assertions)."""
        return [item for (t, _), item in self.items.items() if t == tenant_id]


class FakeOAuthStates:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    def create(self, state_hash: str, record: Mapping[str, Any]) -> None:
        self.records[state_hash] = dict(record)

    def claim(self, state_hash: str, browser_hash: str, now: dt.datetime) -> dict[str, Any] | None:
        record = self.records.get(state_hash)
        if record is None or record["expires_at"] <= now:
            return None
        if record.get("browser_hash") not in (None, browser_hash):
            return None
        record["browser_hash"] = browser_hash
        return dict(record)

    def consume(
        self, state_hash: str, now: dt.datetime, browser_hash: str
    ) -> dict[str, Any] | None:
        found = self.records.get(state_hash)
        if found is None or found.get("browser_hash") != browser_hash:
            return None
        record = self.records.pop(state_hash, None)
        return record if record and record["expires_at"] > now else None


def _version(doc: Mapping[str, Any]) -> str:
    """A document's version: the same for the same content (any write that changes it,
    changes it, as Firestore's update time does for every write)."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


class FakeDeliveries:
    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self.handovers: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def add(self, tenant_id: str, data: Mapping[str, Any]) -> str:
        delivery_id = next_id("d")
        self.docs[(tenant_id, delivery_id)] = copy.deepcopy(dict(data))
        return delivery_id

    def get(self, tenant_id: str, delivery_id: str) -> Delivery | None:
        doc = self.docs.get((tenant_id, delivery_id))
        return Delivery.from_doc(delivery_id, copy.deepcopy(doc)) if doc else None

    def create(self, tenant_id: str, delivery_id: str, data: Mapping[str, Any]) -> str | None:
        with self._lock:
            if (tenant_id, delivery_id) in self.docs:
                return None
            self.docs[(tenant_id, delivery_id)] = copy.deepcopy(dict(data))
            return _version(self.docs[(tenant_id, delivery_id)])

    def create_many(
        self, tenant_id: str, records: list[tuple[str, Mapping[str, Any]]]
    ) -> list[str | None]:
        return [self.create(tenant_id, i, data) for i, data in records]

    @staticmethod
    def _refusal(
        delivery_id: str,
        doc: Mapping[str, Any] | None,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> tuple[Claim | None, Delivery | None]:
        """Why an attempt may not take it (and the delivery, when done), or (None, delivery)."""
        if doc is None:
            return Claim.MISSING, None
        found = Delivery.from_doc(delivery_id, doc)
        refused = found.claim_refused(now, lease)
        if refused is not None:
            return refused, (found if refused is Claim.DONE else None)
        return None, found

    def claim(
        self, tenant_id: str, delivery_id: str, now: dt.datetime, lease: dt.timedelta
    ) -> tuple[Claim, Delivery | None]:
        with self._lock:
            doc = self.docs.get((tenant_id, delivery_id))
            refused, found = self._refusal(delivery_id, doc, now, lease)
            if refused is not None or found is None or doc is None:
                return refused or Claim.MISSING, found
            doc.update(
                {
                    "state": DeliveryState.SENDING.value,
                    "lease_until": now + lease,
                    "attempts": found.attempts + 1,
                }
            )
            return Claim.CLAIMED, Delivery.from_doc(delivery_id, copy.deepcopy(doc))

    def look(
        self, tenant_id: str, delivery_id: str, now: dt.datetime, lease: dt.timedelta
    ) -> tuple[Claim, Delivery | None, Any]:
        """The ticket is a copy of the document as read."""
        with self._lock:
            doc = self.docs.get((tenant_id, delivery_id))
            refused, found = self._refusal(delivery_id, doc, now, lease)
            if refused is not None or found is None:
                return refused or Claim.MISSING, found, None
            if found.state is DeliveryState.SENDING:
                return Claim.CLAIMED, found, None
            return Claim.CLAIMED, found, copy.deepcopy(doc)

    def take_and_hand_over(
        self,
        tenant_id: str,
        delivery_id: str,
        ticket: Any,
        attempt_number: int,
        *,
        lease_until: dt.datetime,
        to: Mapping[str, Any] | None = None,
    ) -> bool:
        changes = {
            "state": DeliveryState.SENDING.value,
            "lease_until": lease_until,
            "attempts": attempt_number,
            "handed_over": attempt_number,
            "handed_to": dict(to) if to else None,
        }
        taken = self._as_read(tenant_id, delivery_id, ticket, changes)
        if taken:
            self.handovers.append((tenant_id, delivery_id, attempt_number))
        return taken

    def finish_untaken(
        self,
        tenant_id: str,
        delivery_id: str,
        ticket: Any,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> bool:
        return self._as_read(
            tenant_id, delivery_id, ticket, {"handed_over": None, **changes}, attempt
        )

    def _as_read(
        self,
        tenant_id: str,
        delivery_id: str,
        ticket: Any,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> bool:
        with self._lock:
            doc = self.docs.get((tenant_id, delivery_id))
            # A ticket is the document as `look` read it, or the version `create` gave.
            if doc is None or (_version(doc) if isinstance(ticket, str) else doc) != ticket:
                return False
            doc.update(copy.deepcopy(dict(changes)))
            if attempt is not None:
                doc.setdefault("attempts_log", []).append(dict(attempt))
            return True

    def update(
        self,
        tenant_id: str,
        delivery_id: str,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> None:
        doc = self.docs[(tenant_id, delivery_id)]
        doc.update(copy.deepcopy(dict(changes)))
        if attempt is not None:
            doc.setdefault("attempts_log", []).append(dict(attempt))

    def _fenced(
        self,
        tenant_id: str,
        delivery_id: str,
        attempt_number: int,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> bool:
        """Apply `changes` only while `attempt_number` still holds the delivery."""
        with self._lock:
            doc = self.docs.get((tenant_id, delivery_id))
            if (
                doc is None
                or doc.get("state") != "sending"
                or doc.get("attempts") != attempt_number
            ):
                return False
            doc.update(copy.deepcopy(dict(changes)))
            if attempt is not None:
                doc.setdefault("attempts_log", []).append(dict(attempt))
            return True

    def hand_over(
        self,
        tenant_id: str,
        delivery_id: str,
        attempt_number: int,
        to: Mapping[str, Any] | None = None,
    ) -> bool:
        self.handovers.append((tenant_id, delivery_id, attempt_number))
        mark = {"handed_over": attempt_number, "handed_to": dict(to) if to else None}
        return self._fenced(tenant_id, delivery_id, attempt_number, mark)

    def finish(
        self,
        tenant_id: str,
        delivery_id: str,
        attempt_number: int,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> bool:
        return self._fenced(
            tenant_id, delivery_id, attempt_number, {"handed_over": None, **changes}, attempt
        )

    def page(
        self, tenant_id: str, filters: Mapping[str, str], page_size: int, after: str | None
    ) -> tuple[list[Delivery], str | None]:
        found = [
            Delivery.from_doc(d, doc)
            for (t, d), doc in self.docs.items()
            if t == tenant_id and all(doc.get(k) == v for k, v in filters.items())
        ]
        found.sort(key=lambda d: d.created_at or NOW, reverse=True)
        ids = [d.id for d in found]
        start = ids.index(after) + 1 if after in ids else (len(ids) if after else 0)
        page = found[start : start + page_size]
        more = start + page_size < len(found)
        return page, (page[-1].id if more and page else None)

    def due(
        self, until: dt.datetime, page_size: int, after: Any = None
    ) -> tuple[list[tuple[str, str, dt.datetime]], Any]:
        due = sorted(
            (doc["send_at"], t, d)
            for (t, d), doc in self.docs.items()
            if doc.get("state") == "scheduled" and doc.get("send_at") and doc["send_at"] <= until
        )
        start = int(after or 0)
        page = due[start : start + page_size]
        nxt = start + page_size if len(page) == page_size else None
        return [(t, d, at) for at, t, d in page], nxt

    def stranded(
        self,
        now: dt.datetime,
        older_than: dt.datetime,
        limit: int,
        overdue_before: dt.datetime | None = None,
    ) -> list[tuple[str, str, int]]:
        found = []
        for (tenant_id, delivery_id), doc in self.docs.items():
            due = doc.get("due_at")
            overdue = (
                overdue_before is not None
                and doc.get("state") == "queued"
                and due is not None
                and due <= overdue_before
            )
            orphaned = (
                doc.get("state") == "queued"
                and not doc.get("attempts")
                and doc.get("created_at") is not None
                and doc["created_at"] <= older_than
            )
            lease = doc.get("lease_until")
            abandoned = doc.get("state") == "sending" and lease is not None and lease <= now
            if orphaned or abandoned or overdue:
                found.append((tenant_id, delivery_id, int(doc.get("attempts") or 0)))
        return found[:limit]

    def cancel(
        self, tenant_id: str, delivery_id: str, uid: str, is_admin: bool
    ) -> tuple[Cancel, Delivery | None]:
        doc = self.docs.get((tenant_id, delivery_id))
        if doc is None or (not is_admin and doc.get("created_by") != uid):
            return Cancel.MISSING, None
        found = Delivery.from_doc(delivery_id, doc)
        if not may_cancel(found.state, handed_over=found.handed_over):
            return Cancel.TOO_LATE, found
        doc.update({"state": "cancelled", "content": None, "cancelled_by": uid})
        return Cancel.CANCELLED, Delivery.from_doc(delivery_id, doc)

    def of(self, tenant_id: str, delivery_id: str) -> dict[str, Any]:
        """The stored document (for assertions)."""
        return self.docs[(tenant_id, delivery_id)]


class FakeRecipients:
    def __init__(self, deliveries: FakeDeliveries) -> None:
        self.recipients: dict[tuple[str, str], pe.Recipient] = {}
        self.events: set[tuple[str, str, str]] = set()
        self.unmatched: set[tuple[str, str]] = set()
        self._deliveries = deliveries

    def suppressed(self, tenant_id: str, addresses: list[str]) -> dict[str, pe.Recipient]:
        found = {a.lower(): self.recipients.get((tenant_id, a.lower())) for a in addresses}
        return {
            a: r
            for a, r in found.items()
            if r is not None and (r.status is not pe.Status.ACTIVE or r.opted_out)
        }

    def get(self, tenant_id: str, address: str) -> pe.Recipient:
        found = self.recipients.get((tenant_id, address.lower()))
        return found or pe.recipient_from_doc(address.lower(), None)

    def find_delivery(
        self, message_id: str, tenant_id: str | None = None
    ) -> tuple[str, str] | None:
        wanted = f"<{message_id.strip().strip('<>').lower()}>"
        for (t, d), doc in self._deliveries.docs.items():
            if str(doc.get("message_id")).lower() == wanted and tenant_id in (None, t):
                return t, d
        return None

    def record(
        self, tenant_id: str, delivery_id: str | None, event: pe.ProviderEvent
    ) -> tuple[bool, bool, Delivery | None]:
        mark = (tenant_id, event.provider, event.event_id)
        if mark in self.events:
            return False, False, None
        self.events.add(mark)
        updated, suppressed_now = pe.apply(self.get(tenant_id, event.address), event)
        self.recipients[(tenant_id, event.address)] = updated
        delivery = self._deliveries.get(tenant_id, delivery_id) if delivery_id else None
        if delivery is not None and delivery_id is not None:
            state = state_after_event(delivery.state, event)
            if state is not None:
                self._deliveries.update(tenant_id, delivery_id, {"state": state.value})
        return True, suppressed_now, delivery

    def record_unmatched(self, event: pe.ProviderEvent) -> bool:
        mark = (event.provider, event.event_id)
        if mark in self.unmatched:
            return False
        self.unmatched.add(mark)
        return True

    def change(
        self, tenant_id: str, address: str, change: Mapping[str, Any], now: dt.datetime
    ) -> pe.Recipient:
        updated = pe.admin_change(self.get(tenant_id, address), change, now)
        self.recipients[(tenant_id, address.lower())] = updated
        return updated
