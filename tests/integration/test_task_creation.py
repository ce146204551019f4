"""A batch's tasks are created many at once (CloudTasksQueue.enqueue_all, on gRPC's futures)
against the Cloud Tasks emulator: each delivery gets its named task once, a task that exists is
reported as such, and each carries its delivery and its time."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from tests.integration.receiving import queue


def test_many_tasks_are_created_at_once_each_once():
    tasks = queue()
    tenant = f"tasks-{uuid.uuid4().hex[:8]}"
    later = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    ids = [uuid.uuid4().hex for _ in range(40)]
    assert tasks.enqueue(tenant, ids[3], at=later)  # made earlier (a retried batch)
    created = tasks.enqueue_all(tenant, [(i, later) for i in ids])
    assert created == [i != ids[3] for i in ids]
    assert tasks.enqueue_all(tenant, [(i, later) for i in ids[:5]]) == [False] * 5
    client = tasks._tasks()
    names = [f"{tasks.queue_name}/tasks/{tasks.task_id(tenant, i)}" for i in ids]
    try:
        for delivery_id, name in zip(ids, names, strict=True):
            found = client.get_task(request={"name": name, "response_view": "FULL"})
            assert json.loads(found.http_request.body) == {
                "tenant_id": tenant,
                "delivery_id": delivery_id,
            }
            assert found.schedule_time == later
    finally:
        for name in names:
            client.delete_task(name=name)
