"""Hot documents: where a busy tenant concentrates Firestore writes. Firestore sustains about one
write a second per document; this runs three workloads for one tenant against the local stack and
prints, for each, the most-written documents with their busiest second, their writes, and their
sustained rate (writes ÷ the seconds the workload ran). The functions host counts every write it
makes by document path (sendvia.metering.WRITE_PATHS, switched on by the local stack).

  (a) triggered emails, 100 a second for 30 s (send/batch → Cloud Tasks → deliver → the relay);
  (b) a burst of 2,000 signed bounce and complaint events about those emails (a bad import);
  (c) a batch of 10,000 reminders falling due together (scheduled sends, `reminders`, delivery).

A document is hot when its sustained rate is above one write a second. A delivery's three writes
(create, claim, outcome) land within a second by design and are not a sustained rate.

    make bench                                   (starts a stack of its own)
    python bench/hot_documents.py [--quick]      (against a running stack: source .stack/env)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import functools
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from sendvia import devtools  # noqa: E402

FUNCTIONS = os.environ.get("SENDVIA_FUNCTIONS_URL", "")
RATE = 100  # triggered emails a second, in (a)


def meter(reset: bool = False) -> dict[str, Any]:
    answer = requests.get(
        f"{FUNCTIONS}/_dev/meter", params={"reset": "1"} if reset else {}, timeout=30
    )
    return dict(answer.json())


@functools.cache
def _db() -> Any:
    from google.cloud import firestore

    return firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])


def sent_count(tenant: str) -> int:
    """The tenant's deliveries the relay took (an aggregation query: one read, not metered)."""
    from google.cloud import firestore

    query = (
        _db()
        .collection(f"tenants/{tenant}/deliveries")
        .where(filter=firestore.FieldFilter("state", "==", "sent"))
        .count()
    )
    return int(query.get()[0][0].value)


def wait_sent(tenant: str, n: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while (done := sent_count(tenant)) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {done} of {n} emails were sent")
        time.sleep(1)


def send_batch(token: str, messages: list[dict[str, Any]]) -> list[str]:
    answer = requests.post(
        f"{FUNCTIONS}/send/batch",
        json={"messages": messages},
        headers={"Authorization": f"Bearer {token}"},
        timeout=300,
    )
    answer.raise_for_status()
    return [r["delivery"]["id"] for r in answer.json()["results"]]


def triggered(
    tenant: str, token: str, domain: str, seconds: int
) -> tuple[float, list[tuple[str, str]]]:
    """(a): RATE emails each second, each to an address of its own; (seconds, [(address, id)])."""
    sent: list[tuple[str, str]] = []
    started = time.monotonic()
    for second in range(seconds):
        addresses = [f"pat-{second}-{i}@{domain}" for i in range(RATE)]
        messages = [
            {"to": [a], "subject": "Your appointment", "text": "Tomorrow at 10:00.",
             "category": "appointment_reminder", "mode": "queue"}
            for a in addresses
        ]  # fmt: skip
        sent += zip(addresses, send_batch(token, messages), strict=True)
        time.sleep(max(0.0, started + second + 1 - time.monotonic()))
    wait_sent(tenant, len(sent), timeout_s=300)
    return time.monotonic() - started, sent


def bounce_storm(tenant: str, sent: list[tuple[str, str]], n: int) -> float:
    """(b): n events (three bounces to one complaint) posted as SendGrid does, in signed
    batches of 100 from four connections at once."""
    events = [
        {
            "email": address,
            "timestamp": int(time.time()),
            "event": "spamreport" if i % 4 == 3 else "bounce",
            **({} if i % 4 == 3 else {"type": "bounce", "reason": "550 5.1.1 no such user"}),
            "sg_event_id": uuid.uuid4().hex,
            "sg_message_id": f"{uuid.uuid4().hex}.filter",
            "sendvia_tenant": tenant,
            "sendvia_delivery": delivery_id,
        }
        for i, (address, delivery_id) in enumerate(sent[:n])
    ]

    def post(batch: list[dict[str, Any]]) -> None:
        devtools.post_sendgrid(batch).raise_for_status()

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(post, [events[i : i + 100] for i in range(0, len(events), 100)]))
    return time.monotonic() - started


def reminder_batch(tenant: str, token: str, domain: str, n: int) -> float:
    """(c): n scheduled sends due together, then Cloud Scheduler's `reminders`, until the relay
    has them all; the sends are created before the meter starts."""
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)).isoformat()
    for first in range(0, n, 500):
        messages = [
            {"to": [f"rem-{i}@{domain}"], "subject": "Reminder", "text": "Tomorrow at 10:00.",
             "category": "appointment_reminder", "send_at": due}
            for i in range(first, min(first + 500, n))
        ]  # fmt: skip
        send_batch(token, messages)
    time.sleep(max(0.0, (dt.datetime.fromisoformat(due) - dt.datetime.now(dt.UTC)).seconds))
    meter(reset=True)
    started = time.monotonic()
    requests.post(f"{FUNCTIONS}/reminders", timeout=300).raise_for_status()
    wait_sent(tenant, n, timeout_s=900)
    return time.monotonic() - started


def report(title: str, seconds: float, hot: list[dict[str, Any]], top: int = 6) -> None:
    print(f"\n{title} ({seconds:.0f} s)")
    print(f"  {'document':<58} {'writes':>7} {'busiest s':>9} {'sustained/s':>11}")
    for row in hot[:top]:
        sustained = row["writes"] / max(seconds, 1.0)
        flag = "  HOT" if sustained > 1.0 else ""
        print(
            f"  {row['path'][:58]:<58} {row['writes']:>7} {row['peak_per_s']:>9} "
            f"{sustained:>11.2f}{flag}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of each workload")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    if "hot_documents" not in meter():
        raise SystemExit("the functions host does not count writes: SENDVIA_METER_WRITE_PATHS=1")
    tenant = f"hot-{uuid.uuid4().hex[:6]}"
    token = devtools.id_token(tenant=tenant, uid="hot-admin", role="admin", email="a@hot.example")
    run = uuid.uuid4().hex[:6]
    print(f"hot documents: one tenant, {os.cpu_count()} CPUs for the whole stack")

    meter(reset=True)
    seconds, sent = triggered(tenant, token, f"a{run}.example", 30 // scale)
    report(f"(a) {len(sent)} triggered emails at {RATE}/s", seconds, meter()["hot_documents"])

    meter(reset=True)
    seconds = bounce_storm(tenant, sent, 2000 // scale)
    report(f"(b) {2000 // scale} bounce and complaint events", seconds, meter()["hot_documents"])

    other = f"hot-{uuid.uuid4().hex[:6]}"  # its own tenant, so that its sends are counted apart
    token = devtools.id_token(tenant=other, uid="hot-admin", role="admin", email="a@hot.example")
    seconds = reminder_batch(other, token, f"c{run}.example", 10000 // scale)
    report(f"(c) {10000 // scale} reminders due together", seconds, meter()["hot_documents"])


if __name__ == "__main__":
    main()
