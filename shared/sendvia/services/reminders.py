"""A reminder batch (Cloud Scheduler, every few minutes): every scheduled email due within the
horizon gets its named task with `schedule_time`. Names derive from the delivery, so a second run
in the same window creates nothing new (Cloud Tasks answers ALREADY_EXISTS)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sendvia.errors import Unavailable
from sendvia.runtime import Runtime
from sendvia.services.send import REMINDER_HORIZON

PAGE_SIZE = 500
CONCURRENCY = 32  # task creations in flight; the queue's own rate limit paces the dispatches


def run(rt: Runtime, horizon: dt.timedelta = REMINDER_HORIZON) -> dict[str, Any]:
    queue = rt.queue
    if queue is None:
        raise Unavailable(
            "Triggered emails are not configured.", code="no_queue", hint="Set SENDVIA_DELIVER_URL."
        )
    until = rt.clock() + horizon
    enqueued = already = 0
    after: Any = None
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        while True:
            page, after = rt.activity.due_deliveries(until, PAGE_SIZE, after)
            created = list(pool.map(lambda due: queue.enqueue(due[0], due[1], at=due[2]), page))
            enqueued += sum(created)
            already += len(created) - sum(created)
            if after is None:
                break
    return {"enqueued": enqueued, "already_queued": already, "until": until.isoformat()}
