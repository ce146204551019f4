"""ports.Deliveries on Firestore: `tenants/{t}/deliveries/{id}`, moved through the states of
domain/delivery by compare-and-set writes and transactions."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths
from sendvia.adapters.firestore.delivery_queries import DeliveryQueries
from sendvia.adapters.firestore.documents import Documents
from sendvia.domain.delivery import (
    Cancel,
    Claim,
    Delivery,
    DeliveryState,
    may_cancel,
)
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore

_CLAIM_TRIES = 3
MAX_HELD = 10_000  # deliveries this instance holds at once, at most (their update times)


class FirestoreDeliveries(DeliveryQueries):
    """An attempt's own writes are fenced without reading first: the claim (or the creation of
    a manual send, claimed from the start) remembers the update time of its write, and the
    attempt's next write is conditional on it. The document unchanged since our own write means
    the attempt still holds it; any other write in between fails the condition, and the fence
    falls back to reading the document and checking it. One read per email, the claim's; none when
    the claim is conditional on the version `create` gave (a task's ticket, services/tickets).

    An attempt's reads and writes go through `Documents` (protobuf messages, without the
    client's proto-plus wrappers: half their CPU); versions are protobuf Timestamps."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client
        self._documents = Documents(client)
        self._held: dict[tuple[str, str], tuple[int, Any]] = {}
        self._lock = threading.Lock()

    def _hold(self, tenant_id: str, delivery_id: str, attempt: int, update_time: Any) -> None:
        with self._lock:
            if len(self._held) >= MAX_HELD:
                self._held.pop(next(iter(self._held)))  # the oldest: it reads again if alive
            self._held[(tenant_id, delivery_id)] = (attempt, update_time)

    def _release(self, tenant_id: str, delivery_id: str) -> None:
        with self._lock:
            self._held.pop((tenant_id, delivery_id), None)

    def _ref(self, tenant_id: str, delivery_id: str) -> Any:
        return self._db.document(paths.delivery(tenant_id, delivery_id))

    def add(self, tenant_id: str, data: Mapping[str, Any]) -> str:
        ref = self._db.collection(paths.deliveries(tenant_id)).document()
        METER.writes()
        ref.set(dict(data))
        delivery_id: str = ref.id
        return delivery_id

    def get(self, tenant_id: str, delivery_id: str) -> Delivery | None:
        METER.reads()
        snapshot = self._ref(tenant_id, delivery_id).get()
        return Delivery.from_doc(snapshot.id, snapshot.to_dict() or {}) if snapshot.exists else None

    def create(self, tenant_id: str, delivery_id: str, data: Mapping[str, Any]) -> str | None:
        from google.api_core import exceptions

        METER.writes()
        try:
            written = self._documents.create_all([(paths.delivery(tenant_id, delivery_id), data)])
        except exceptions.Conflict:
            return None
        if data.get("state") == DeliveryState.SENDING:  # a manual send, claimed from the start
            self._hold(tenant_id, delivery_id, int(data.get("attempts") or 0), written[0])
        return _version_text(written[0])

    def create_many(
        self, tenant_id: str, records: list[tuple[str, Mapping[str, Any]]]
    ) -> list[str | None]:
        """In one commit. The commit is atomic, so one existing delivery (a retried batch) fails
        it whole: then each is created on its own, and the ones that exist are reported."""
        from google.api_core import exceptions

        METER.writes(len(records))
        try:
            written = self._documents.create_all(
                (paths.delivery(tenant_id, delivery_id), data) for delivery_id, data in records
            )
        except exceptions.Conflict:
            return [self.create(tenant_id, i, data) for i, data in records]
        return [_version_text(version) for version in written]

    def claim(
        self, tenant_id: str, delivery_id: str, now: dt.datetime, lease: dt.timedelta
    ) -> tuple[Claim, Delivery | None]:
        """A compare-and-set rather than a transaction: the lease is written on the condition
        that the document has not changed since it was read (its update time), so of two racing
        claimers one write fails its precondition, and that claimer reads again and finds the
        delivery `sending` or done. One read and one write, two round trips."""
        from google.api_core import exceptions

        path = paths.delivery(tenant_id, delivery_id)
        for _ in range(_CLAIM_TRIES):
            METER.reads()
            snapshot = self._documents.get(path)
            if snapshot is None:
                return Claim.MISSING, None
            found = Delivery.from_doc(delivery_id, snapshot.data)
            refused = found.claim_refused(now, lease)
            if refused is not None:
                return refused, (found if refused is Claim.DONE else None)
            changes = {
                "state": DeliveryState.SENDING.value,
                "lease_until": now + lease,
                "attempts": found.attempts + 1,
            }
            METER.writes()
            try:
                written = self._documents.update(path, changes, if_updated_at=snapshot.update_time)
            except (exceptions.FailedPrecondition, exceptions.NotFound):
                continue  # changed since we read it: look again
            self._hold(tenant_id, delivery_id, found.attempts + 1, written)
            return Claim.CLAIMED, Delivery.from_doc(found.id, {**snapshot.data, **changes})
        return Claim.BUSY, None

    def look(
        self, tenant_id: str, delivery_id: str, now: dt.datetime, lease: dt.timedelta
    ) -> tuple[Claim, Delivery | None, Any]:
        """One read; the ticket is the document's update time."""
        METER.reads()
        snapshot = self._documents.get(paths.delivery(tenant_id, delivery_id))
        if snapshot is None:
            return Claim.MISSING, None, None
        found = Delivery.from_doc(delivery_id, snapshot.data)
        refused = found.claim_refused(now, lease)
        if refused is not None:
            return refused, (found if refused is Claim.DONE else None), None
        if found.state is DeliveryState.SENDING:  # its attempt died: `claim` takes it over
            return Claim.CLAIMED, found, None
        return Claim.CLAIMED, found, snapshot.update_time

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
        return self._as_read(tenant_id, delivery_id, ticket, changes, hold=attempt_number)

    def finish_untaken(
        self,
        tenant_id: str,
        delivery_id: str,
        ticket: Any,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> bool:
        data = {"handed_over": None, **changes}
        logged = {"attempts_log": [dict(attempt)]} if attempt is not None else None
        return self._as_read(tenant_id, delivery_id, ticket, data, hold=None, append=logged)

    def _as_read(
        self,
        tenant_id: str,
        delivery_id: str,
        ticket: Any,
        changes: Mapping[str, Any],
        *,
        hold: int | None,
        append: Mapping[str, list[Any]] | None = None,
    ) -> bool:
        """Write `changes` if the document is as `look` read it (its update time). The client
        retries a write that got no answer; if the first try landed, the retry fails its
        condition, so a failed condition is checked against this write's own id."""
        from google.api_core import exceptions

        path = paths.delivery(tenant_id, delivery_id)
        write_id = secrets.token_hex(8)
        if isinstance(ticket, str):  # a version `create` gave, carried in a task
            ticket = _version(ticket)
        try:
            update_time = self._documents.update(
                path, {**changes, "write_id": write_id}, if_updated_at=ticket, append=append
            )
        except (exceptions.FailedPrecondition, exceptions.NotFound):
            METER.reads()
            snapshot = self._documents.get(path)
            if snapshot is None or snapshot.data.get("write_id") != write_id:
                return False
            update_time = snapshot.update_time  # ours, landed on an earlier try
        METER.writes()
        if hold is not None:
            self._hold(tenant_id, delivery_id, hold, update_time)
        return True

    def update(
        self,
        tenant_id: str,
        delivery_id: str,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> None:
        data = dict(changes)
        if attempt is not None:
            from google.cloud import firestore

            data["attempts_log"] = firestore.ArrayUnion([dict(attempt)])
        METER.writes()
        self._ref(tenant_id, delivery_id).update(data)

    def _fenced(
        self,
        tenant_id: str,
        delivery_id: str,
        attempt_number: int,
        changes: dict[str, Any],
        append: Mapping[str, list[Any]] | None = None,
    ) -> bool:
        """Write `changes` on the condition that attempt `attempt_number` still holds the
        delivery: a compare-and-set on the update time, read again after a race."""
        from google.api_core import exceptions

        path = paths.delivery(tenant_id, delivery_id)
        write_id = secrets.token_hex(8)  # a retried write that had landed recognises itself
        changes = {**changes, "write_id": write_id}
        with self._lock:
            held = self._held.get((tenant_id, delivery_id))
        if held is not None and held[0] == attempt_number:
            try:
                written = self._documents.update(
                    path, changes, if_updated_at=held[1], append=append
                )
            except (exceptions.FailedPrecondition, exceptions.NotFound):
                pass  # written by someone else since: read it and check
            else:
                METER.writes()
                self._hold(tenant_id, delivery_id, attempt_number, written)
                return True
        for _ in range(_CLAIM_TRIES):
            METER.reads()
            snapshot = self._documents.get(path)
            if snapshot is None:
                return False
            found = snapshot.data
            if found.get("write_id") == write_id:
                self._hold(tenant_id, delivery_id, attempt_number, snapshot.update_time)
                return True  # this write had landed on an earlier try
            if (
                found.get("state") != DeliveryState.SENDING
                or int(found.get("attempts") or 0) != attempt_number
            ):
                return False
            METER.writes()
            try:
                written = self._documents.update(
                    path, changes, if_updated_at=snapshot.update_time, append=append
                )
            except (exceptions.FailedPrecondition, exceptions.NotFound):
                continue
            self._hold(tenant_id, delivery_id, attempt_number, written)
            return True
        return False

    def hand_over(
        self,
        tenant_id: str,
        delivery_id: str,
        attempt_number: int,
        to: Mapping[str, Any] | None = None,
    ) -> bool:
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
        data = {"handed_over": None, **changes}
        logged = {"attempts_log": [dict(attempt)]} if attempt is not None else None
        done = self._fenced(tenant_id, delivery_id, attempt_number, data, append=logged)
        self._release(tenant_id, delivery_id)
        return done

    def cancel(
        self, tenant_id: str, delivery_id: str, uid: str, is_admin: bool
    ) -> tuple[Cancel, Delivery | None]:
        from google.cloud import firestore

        ref = self._ref(tenant_id, delivery_id)

        @firestore.transactional
        def cancel_unsent(transaction: firestore.Transaction) -> tuple[Cancel, Delivery | None]:
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return Cancel.MISSING, None
            doc = snapshot.to_dict() or {}
            found = Delivery.from_doc(snapshot.id, doc)
            if not is_admin and found.created_by != uid:
                return Cancel.MISSING, None
            if not may_cancel(found.state, handed_over=found.handed_over):
                return Cancel.TOO_LATE, found
            changes = {"state": DeliveryState.CANCELLED.value, "content": None, "cancelled_by": uid}
            METER.writes()
            transaction.update(ref, changes)
            return Cancel.CANCELLED, Delivery.from_doc(found.id, {**doc, **changes})

        result: tuple[Cancel, Delivery | None] = cancel_unsent(self._db.transaction())
        return result


def _version_text(version: Any) -> str:
    """A document's version (its update time) as text, to the nanosecond: a task carries it."""
    text: str = version.ToJsonString()
    return text


def _version(text: str) -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    version = Timestamp()
    version.FromJsonString(text)
    return version
