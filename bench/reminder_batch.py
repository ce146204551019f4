"""Reminder batch: N scheduled emails due within the horizon, enqueued by one `reminders` run
(paged query, concurrent named tasks), against the floor of a sequential create-task loop over
the same number of tasks. Both against the same Cloud Tasks emulator, in one run, twice: with no
network between them (every call costs only the emulator's CPU, on the same cores as the run), and
with a modelled round trip per call as in production (--latency-ms, 10 ms by default; the
sequential floor is then timed over a fifth of the tasks and scaled). Peak memory is a run's own
(tracemalloc, in a second run over the same reminders).

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

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from google.cloud import firestore  # noqa: E402
from sendvia import config  # noqa: E402
from sendvia.adapters.google_clients import cloud_tasks_client  # noqa: E402
from sendvia.runtime import Runtime, build  # noqa: E402
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


def set_latency(ms: float) -> None:
    """The Cloud Tasks emulator's modelled round trip per API call (0: none)."""
    url = os.environ["CLOUD_TASKS_OIDC_CERTS_URL"].rsplit("/", 1)[0] + "/_emulator/latency"
    requests.post(url, json={"latency_ms": ms}, timeout=10).raise_for_status()


def scenario(runtime: Runtime, n: int, latency_ms: float, floor_n: int) -> None:
    assert runtime.queue is not None
    set_latency(latency_ms)
    try:
        tenant = f"bench-{uuid.uuid4().hex[:6]}"
        seed(n, tenant)
        started = time.perf_counter()
        first = reminders.run(runtime)
        batch_s = time.perf_counter() - started
        assert first["enqueued"] >= n, first
        # Memory: a second run over the same reminders (the same paging and concurrency; every
        # name is taken now, so it also shows that a second run in the window adds nothing).
        tracemalloc.start()
        again = reminders.run(runtime)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert again["enqueued"] == 0, again
        floor_s = sequential_floor(floor_n, runtime.queue.queue_name) * n / floor_n
        clean_up(n, tenant, runtime.queue.queue_name)
    finally:
        set_latency(0)
    scaled = "" if floor_n == n else f" (timed over {floor_n}, x{n / floor_n:g})"
    print(f"reminder batch, {n} due reminders, Cloud Tasks round trip {latency_ms:g} ms")
    print(f"  floor (sequential create_task loop)  {floor_s:7.1f} s   1.00x{scaled}")
    print(
        f"  one reminders run                    {batch_s:7.1f} s   {floor_s / batch_s:5.2f}x "
        f"faster; peak memory of a run {peak / 2**20:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=10.0,
        help="the modelled Cloud Tasks round trip of the second measurement",
    )
    args = parser.parse_args()
    runtime = build(config.load())
    assert runtime.queue is not None, "SENDVIA_DELIVER_URL is not set"
    runtime.queue.enqueue("warm-up", uuid.uuid4().hex)  # creates the queue outside the timing
    # Everything on one machine: a call to the emulator costs CPU only, no network.
    scenario(runtime, args.n, 0.0, args.n)
    # Cloud Tasks across a network: each call waits a round trip, which the run overlaps.
    scenario(runtime, args.n, args.latency_ms, max(1, args.n // 5))


if __name__ == "__main__":
    main()
