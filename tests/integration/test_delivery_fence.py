"""The fence on an attempt's writes, against the Firestore emulator: the attempt chains its
writes on the update time of its own last write (no read), and a write by anyone else in
between sends it back to reading, where it finds it no longer holds the delivery."""

from __future__ import annotations

import datetime as dt
import uuid

from google.cloud import firestore
from sendvia.adapters.firestore.deliveries import FirestoreDeliveries
from sendvia.domain.delivery import LEASE, Claim
from sendvia.metering import METER


def queued(store: FirestoreDeliveries, tenant: str) -> str:
    delivery_id = uuid.uuid4().hex
    assert store.create(
        tenant, delivery_id, {"state": "queued", "kind": "triggered", "to": ["a@b.example"]}
    )
    return delivery_id


def test_an_attempt_writes_without_reading_while_it_holds_the_delivery(project):
    store = FirestoreDeliveries(firestore.Client(project=project))
    tenant = f"fence-{uuid.uuid4().hex[:8]}"
    delivery_id = queued(store, tenant)
    claim, delivery = store.claim(tenant, delivery_id, dt.datetime.now(dt.UTC), LEASE)
    assert claim is Claim.CLAIMED and delivery is not None
    before = METER.snapshot()["firestore_reads"]
    assert store.hand_over(tenant, delivery_id, delivery.attempts)
    assert store.finish(tenant, delivery_id, delivery.attempts, {"state": "sent"})
    assert METER.snapshot()["firestore_reads"] == before  # chained, not read


def test_a_write_by_another_attempt_in_between_is_never_overwritten(project):
    """Attempt 1 claimed; its lease passed and attempt 2 claimed (another instance). Attempt 1
    may neither hand the message over nor record anything, though it remembers a write time."""
    db = firestore.Client(project=project)
    first, second = FirestoreDeliveries(db), FirestoreDeliveries(db)
    tenant = f"fence-{uuid.uuid4().hex[:8]}"
    delivery_id = queued(first, tenant)
    now = dt.datetime.now(dt.UTC)
    _, one = first.claim(tenant, delivery_id, now, LEASE)
    assert one is not None
    claim, two = second.claim(tenant, delivery_id, now + LEASE + dt.timedelta(seconds=1), LEASE)
    assert claim is Claim.CLAIMED and two is not None and two.attempts == one.attempts + 1
    assert not first.hand_over(tenant, delivery_id, one.attempts)
    assert not first.finish(tenant, delivery_id, one.attempts, {"state": "failed"})
    assert second.hand_over(tenant, delivery_id, two.attempts)
    assert second.finish(tenant, delivery_id, two.attempts, {"state": "sent"})
    stored = db.document(f"tenants/{tenant}/deliveries/{delivery_id}").get().to_dict()
    assert (stored["state"], stored["attempts"]) == ("sent", two.attempts)


def test_of_two_attempts_that_read_the_same_version_one_takes_the_delivery(project):
    """The claim is the hand-over write, conditional on the version each attempt read."""
    db = firestore.Client(project=project)
    first, second = FirestoreDeliveries(db), FirestoreDeliveries(db)
    tenant = f"fence-{uuid.uuid4().hex[:8]}"
    delivery_id = queued(first, tenant)
    now = dt.datetime.now(dt.UTC)
    _, _, one = first.look(tenant, delivery_id, now, LEASE)
    _, _, two = second.look(tenant, delivery_id, now, LEASE)
    assert first.take_and_hand_over(tenant, delivery_id, one, 1, lease_until=now + LEASE)
    assert not second.take_and_hand_over(tenant, delivery_id, two, 1, lease_until=now + LEASE)
    assert not second.finish_untaken(tenant, delivery_id, two, {"state": "failed"})
    assert first.finish(tenant, delivery_id, 1, {"state": "sent"})
    stored = db.document(f"tenants/{tenant}/deliveries/{delivery_id}").get().to_dict()
    assert (stored["state"], stored["attempts"], stored["handed_over"]) == ("sent", 1, None)
