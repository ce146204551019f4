"""A reminder batch (Cloud Scheduler, every few minutes): every scheduled email due within the
horizon gets its named task with `schedule_time`. Names derive from the delivery, so a second run
in the same window creates nothing new (Cloud Tasks answers ALREADY_EXISTS).

Tasks are created CONCURRENCY at a time while the next page is read; at most two pages are held."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sendvia.domain.delivery import REMINDER_HORIZON
from sendvia.errors import Unavailable
from sendvia.ports import Queue
from sendvia.runtime import Runtime

PAGE_SIZE = 500
CONCURRENCY = 32  # task creations in flight; the queue's own rate limit paces the dispatches
# A queued delivery still without an attempt SENDVIA_RECOVER_AFTER_S (10 min) after it was
# created lost its task: its request creates the task right after the delivery, and Cloud Tasks
# dispatches within seconds.
RECOVER_LIMIT = 500  # per run; the next run takes the rest


def run(rt: Runtime, horizon: dt.timedelta = REMINDER_HORIZON) -> dict[str, Any]:
    queue = rt.queue
    if queue is None:
        raise Unavailable(
            "Triggered emails are not configured.", code="no_queue", hint="Set SENDVIA_DELIVER_URL."
        )
    until = rt.clock() + horizon
    created: list[bool] = []
    after: Any = None
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        in_flight: list[Future[bool]] = []
        while True:
            page, after = rt.deliveries.due(until, PAGE_SIZE, after)
            # The previous page's tasks were being created while this page was read.
            created.extend(f.result() for f in in_flight)
            in_flight = [pool.submit(queue.enqueue, t, d, at=at) for t, d, at in page]
            if after is None:
                break
        created.extend(f.result() for f in in_flight)
    enqueued = sum(created)
    return {
        "enqueued": enqueued,
        "already_queued": len(created) - enqueued,
        "recovered": _recover(rt, queue),
        "until": until.isoformat(),
    }


def _recover(rt: Runtime, queue: Queue) -> int:
    """Give a task to every delivery nothing would run: a queued one whose task was never
    created (its request died after writing it, and nobody retried); one queued again whose
    task's retries ran out while every attempt failed before writing anything (a killed
    instance, an unreadable secret); and one whose attempt died while sending (its lease
    passed). The task's generation is the delivery's attempt count, so
    a second sweep before it runs creates nothing more; `deliver` then sends it, or records it
    `sent_unconfirmed` when the dead attempt had handed it over."""
    now = rt.clock()
    older_than = now - dt.timedelta(seconds=rt.settings.recover_after_s)
    # A delivery back in `queued` waits for Cloud Tasks' retry (up to the queue's longest
    # backoff) or its deferred task: only past that is it stranded.
    backoff = rt.settings.tasks.max_backoff_s if rt.settings.tasks else 600.0
    overdue_before = older_than - dt.timedelta(seconds=backoff)
    stranded = rt.deliveries.stranded(now, older_than, RECOVER_LIMIT, overdue_before)
    return sum(queue.enqueue(t, d, generation=g) for t, d, g in stranded)
