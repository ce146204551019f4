"""ports.Mailboxes on Firestore. A mailbox turning broken and its admins being told happen in one
transaction, so a hundred failed sends make one notification."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths
from sendvia.domain.mailbox import MailboxRecord, MailboxState
from sendvia.errors import TooBusy
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore


_CAS_TRIES = 40


class FirestoreMailboxes:
    """`on_change(tenant_id)` is told of every write (the instance's route cache listens)."""

    def __init__(
        self, client: firestore.Client, on_change: Callable[[str], None] | None = None
    ) -> None:
        self._db = client
        self._on_change = on_change or (lambda tenant_id: None)

    def get(self, tenant_id: str, mailbox_id: str) -> MailboxRecord | None:
        METER.reads()
        snapshot = self._db.document(paths.mailbox(tenant_id, mailbox_id)).get()
        if not snapshot.exists:
            return None
        return MailboxRecord.from_doc(tenant_id, mailbox_id, snapshot.to_dict() or {})

    def get_many(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, MailboxRecord]:
        refs = [self._db.document(paths.mailbox(tenant_id, m)) for m in mailbox_ids]
        METER.reads(len(refs))
        return {
            s.id: MailboxRecord.from_doc(tenant_id, s.id, s.to_dict() or {})
            for s in self._db.get_all(refs)
            if s.exists
        }

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

    def receiving(self) -> list[tuple[str, str]]:
        from google.cloud import firestore

        query = self._db.collection_group("mailboxes").where(
            filter=firestore.FieldFilter("receive", "==", True)
        )
        found = []
        for snapshot in query.stream():
            METER.reads()
            tenant = snapshot.reference.parent.parent
            if tenant is not None and snapshot.get("state") == MailboxState.ACTIVE.value:
                found.append((tenant.id, snapshot.id))
        return found

    def spend_code_try(
        self, tenant_id: str, mailbox_id: str, max_tries: int
    ) -> Mapping[str, Any] | None:
        """A compare-and-set on the document's update time, tried again on a race: a
        transaction per guess times out its lock when many guesses arrive at once."""
        from google.api_core import exceptions
        from google.cloud import firestore

        ref = self._db.document(paths.mailbox(tenant_id, mailbox_id))
        for attempt in range(_CAS_TRIES):
            METER.reads()
            snapshot = ref.get()
            pending = (snapshot.to_dict() or {}).get("confirmation") if snapshot.exists else None
            if not pending or int(pending.get("attempts", 0)) >= max_tries:
                found: Mapping[str, Any] | None = pending or None
                return found
            METER.writes()
            try:
                ref.update(
                    {"confirmation.attempts": firestore.Increment(1)},
                    option=self._db.write_option(last_update_time=snapshot.update_time),
                )
            except (exceptions.FailedPrecondition, exceptions.NotFound):
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))  # noqa: S311 - jitter
                continue
            counted: Mapping[str, Any] = pending
            return counted
        raise TooBusy("Too many tries at this code at once.", hint="Try again in a moment.")

    def replace_secret(
        self, tenant_id: str, mailbox_id: str, old: str, new: str, now: dt.datetime
    ) -> bool:
        from google.cloud import firestore

        ref = self._db.document(paths.mailbox(tenant_id, mailbox_id))

        @firestore.transactional
        def swap(transaction: firestore.Transaction) -> bool:
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists or snapshot.get("secret_version") != old:
                return False
            METER.writes()
            transaction.update(ref, {"secret_version": new, "secret_stored_at": now})
            return True

        result: bool = swap(self._db.transaction())
        self._on_change(tenant_id)
        return result

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
        from google.cloud import firestore

        ref = self._db.document(paths.mailbox(tenant_id, mailbox_id))
        notice = self._db.collection(paths.notifications(tenant_id)).document()

        @firestore.transactional
        def break_once(transaction: firestore.Transaction) -> bool:
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            current = snapshot.to_dict() if snapshot.exists else None
            if current is None or current.get("secret_version") != credentials:
                return False
            if current.get("state") == MailboxState.BROKEN:
                METER.writes()
                transaction.update(ref, {"last_error": dict(error)})
                return False
            METER.writes(2)
            transaction.update(
                ref,
                {
                    "state": MailboxState.BROKEN.value,
                    "last_error": dict(error),
                    "broken_since": now,
                    "broken_notification": notice.id,
                },
            )
            transaction.set(notice, {**notification, "created_at": now, "read_by": []})
            return True

        result: bool = break_once(self._db.transaction())
        self._on_change(tenant_id)
        return result
