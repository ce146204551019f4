"""Reminder batch: N scheduled emails due within the horizon, enqueued by one `reminders` run
(paged query, concurrent named tasks), against the floor of a sequential create-task loop over
the same number of tasks. Both against the same Cloud Tasks emulator, in one run. Peak memory is
the run's own (tracemalloc) while it enqueues.

    make bench                                  (starts a stack of its own)
    python bench/reminder_batch.py -n 10000     (against a running stack)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from google.cloud import firestore  # noqa: E402
from sendvia import config  # noqa: E402
from sendvia.adapters.google_clients import cloud_tasks_client  # noqa: E402
from sendvia.runtime import build  # noqa: E402
from sendvia.services import reminders  # noqa: E402


def seed(n: int, tenant: str) -> None:
    """N scheduled deliveries due in an hour and a half — beyond any dispatch during the run."""
    db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    due = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    writer = db.bulk_writer()
    for index in range(n):
        writer.set(
            db.document(f"tenants/{tenant}/deliveries/r{index:06d}"),
            {
                "state": "scheduled",
                "kind": "scheduled",
                "send_at": due,
                "created_at": dt.datetime.now(dt.UTC),
                "to": ["pat@example.com"],
                "subject": f"reminder {index}",
            },
        )
    writer.close()


def clean_up(n: int, tenant: str, queue: str) -> None:
    """Leave a developer's stack as it was: no seeded deliveries, no tasks about to fire."""
    db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    writer = db.bulk_writer()
    for index in range(n):
        writer.delete(db.document(f"tenants/{tenant}/deliveries/r{index:06d}"))
    writer.close()
    cloud_tasks_client().purge_queue(name=queue)


def sequential_floor(n: int, queue: str) -> float:
    client = cloud_tasks_client()
    body = json.dumps({"tenant_id": "floor", "delivery_id": "x"}).encode()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    started = time.perf_counter()
    for index in range(n):
        client.create_task(
            parent=queue,
            task={
                "name": f"{queue}/tasks/floor-{uuid.uuid4().hex[:8]}-{index}",
                "schedule_time": later,
                "http_request": {"url": os.environ["SENDVIA_DELIVER_URL"], "body": body},
            },
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=10_000)
    args = parser.parse_args()
    runtime = build(config.load())
    assert runtime.queue is not None, "SENDVIA_DELIVER_URL is not set"
    runtime.queue.enqueue("warm-up", uuid.uuid4().hex)  # creates the queue outside the timing
    tenant = f"bench-{uuid.uuid4().hex[:6]}"
    seed(args.n, tenant)

    tracemalloc.start()
    started = time.perf_counter()
    result = reminders.run(runtime)
    batch_s = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result["enqueued"] >= args.n, result
    floor_s = sequential_floor(args.n, runtime.queue.queue_name)
    clean_up(args.n, tenant, runtime.queue.queue_name)

    print(f"reminder batch, {args.n} due reminders")
    print(f"  floor (sequential create_task loop)  {floor_s:7.1f} s   1.00x")
    print(
        f"  one reminders run                    {batch_s:7.1f} s   {floor_s / batch_s:4.2f}x "
        f"faster, peak memory {peak / 2**20:.0f} MB"
    )


if __name__ == "__main__":
    main()
