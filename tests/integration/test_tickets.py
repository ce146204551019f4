"""A triggered email's task carries its delivery as `send` created it, sealed (decision 0009),
against the Cloud Tasks, Firestore and Secret Manager emulators: `deliver` opens it to exactly
what Firestore stored, and a task whose content was changed, or whose delivery was cancelled
after it was queued, sends what is stored, or nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from google.cloud import firestore, tasks_v2
from google.protobuf.timestamp_pb2 import Timestamp
from sendvia.adapters.google_clients import secret_manager_client
from sendvia.domain import ticket
from sendvia.domain.delivery import Delivery

from emulators.services import TICKET_KEY_VERSION
from tests.integration.api import call
from tests.integration.helpers import (
    QUEUE,
    deliver_task,
    delivery,
    delivery_task_id,
    eventually,
    queue_idle,
    queued,
    relay_messages,
    state_is,
)


@pytest.fixture
def paused(tasks: tasks_v2.CloudTasksClient) -> Iterator[None]:
    """The queue holds its tasks until the test lets them go (or the test ends)."""
    tasks.pause_queue(name=QUEUE)
    try:
        yield
    finally:
        tasks.resume_queue(name=QUEUE)


def task_of(tasks: tasks_v2.CloudTasksClient, clinic: Any, delivery_id: str) -> tasks_v2.Task:
    name = f"{QUEUE}/tasks/{delivery_task_id(clinic, delivery_id)}"
    return tasks.get_task(request={"name": name, "response_view": tasks_v2.Task.View.FULL})


def body_of(task: tasks_v2.Task) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(task.http_request.body)
    return loaded


def test_the_task_carries_the_delivery_as_firestore_stored_it(
    clinic, recipient, tasks, project, paused
):
    delivery_id = queued(clinic, recipient)
    body = body_of(task_of(tasks, clinic, delivery_id))
    assert set(body) == {"tenant_id", "delivery_id", "as_created"}
    key = secret_manager_client().access_secret_version(name=TICKET_KEY_VERSION).payload.data
    opened = ticket.unseal(key, clinic.tenant, delivery_id, body["as_created"])
    assert opened is not None
    snapshot = (
        firestore.Client(project=project)
        .document(f"tenants/{clinic.tenant}/deliveries/{delivery_id}")
        .get()
    )
    version = Timestamp()
    version.FromJsonString(opened[0])
    assert version == snapshot.update_time.timestamp_pb()  # to the nanosecond
    assert Delivery.from_doc(delivery_id, opened[1]) == Delivery.from_doc(
        delivery_id, snapshot.to_dict() or {}
    )
    assert opened[1] == snapshot.to_dict()
    assert key.hex() not in json.dumps(body) and key.decode("latin-1") not in json.dumps(body)


def test_a_task_whose_content_was_changed_sends_what_is_stored(
    clinic, recipient, tasks, project, paused
):
    delivery_id = queued(clinic, recipient, subject="Your appointment on Monday")
    task = task_of(tasks, clinic, delivery_id)
    body = body_of(task)
    doc = body["as_created"]["doc"]
    forged = doc.replace("Your appointment on Monday", "Pay your invoice here")
    assert forged != doc
    tasks.delete_task(name=task.name)
    deliver_task(tasks, {**body, "as_created": {**body["as_created"], "doc": forged}})
    tasks.resume_queue(name=QUEUE)
    eventually(state_is(project, clinic, delivery_id, "sent"))
    sent = relay_messages(recipient)
    assert [m["headers"]["Subject"] for m in sent] == ["Your appointment on Monday"]


def test_an_email_cancelled_after_its_task_was_created_is_not_sent(
    clinic, recipient, tasks, project, paused
):
    delivery_id = queued(clinic, recipient)
    assert "as_created" in body_of(task_of(tasks, clinic, delivery_id))
    cancelled = call("POST", "send", f"/{delivery_id}:cancel", bearer=clinic.admin)
    assert cancelled.status_code == 200, cancelled.text
    tasks.resume_queue(name=QUEUE)
    eventually(lambda: queue_idle(tasks))
    assert relay_messages(recipient) == []
    assert delivery(project, clinic, delivery_id)["state"] == "cancelled"


def test_the_same_ticket_dispatched_again_after_the_email_went_sends_nothing(
    clinic, recipient, tasks, project, paused
):
    delivery_id = queued(clinic, recipient)
    body = body_of(task_of(tasks, clinic, delivery_id))
    tasks.resume_queue(name=QUEUE)
    eventually(state_is(project, clinic, delivery_id, "sent"))
    for _ in range(3):  # at-least-once: the same body again, the ticket included
        deliver_task(tasks, body)
    eventually(lambda: queue_idle(tasks))
    assert len(relay_messages(recipient)) == 1
    assert delivery(project, clinic, delivery_id)["attempts"] == 1


def test_the_largest_ticket_goes_through_cloud_tasks(clinic, recipient, tasks, project, paused):
    """A document just under the limit once JSON has escaped it (each « is six characters),
    escaped again inside the task's body: still far under Cloud Tasks' 1 MB."""
    text = "«" * 10_000
    delivery_id = queued(clinic, recipient, text=text)
    body = body_of(task_of(tasks, clinic, delivery_id))
    assert 60_000 < len(body["as_created"]["doc"]) <= 64_000
    tasks.resume_queue(name=QUEUE)
    eventually(state_is(project, clinic, delivery_id, "sent"))
    assert len(relay_messages(recipient)) == 1
