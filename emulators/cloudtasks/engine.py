"""The queues, their tasks, and the loop that dispatches them over HTTP.

One lock (a Condition) guards all state. A scheduler thread wakes when a task is due, a rate-limit
token frees up, or something changed; it hands due tasks to a thread pool that performs the HTTP
request with the task's dispatch deadline. At-least-once: a task leaves memory only after a 2xx,
after its retries are exhausted, or when it is deleted or purged — never silently.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import requests
from google.cloud.tasks_v2 import types
from google.rpc import code_pb2

from emulators.cloudtasks import rules
from emulators.cloudtasks.oidc import TokenSigner
from emulators.cloudtasks.retry import backoff, gives_up
from emulators.grpc_service import already_exists, not_found, unavailable

log = logging.getLogger(__name__)

QueueState: Any = types.Queue.State
Pb = rules.Pb


@dataclass
class _Queue:
    pb: Pb  # google.cloud.tasks.v2.Queue
    heap: list[tuple[float, int, str, int]] = field(default_factory=list)
    inflight: int = 0
    tokens: float = 0.0
    refilled_at: float = 0.0


@dataclass
class _Task:
    pb: Pb  # google.cloud.tasks.v2.Task
    queue_name: str
    generation: int = 0
    running: int = 0
    first_attempt_at: float | None = None
    execution_count: int = 0
    previous_response: int | None = None
    retry_reason: str = ""


@dataclass(frozen=True)
class _Outcome:
    status: int | None  # HTTP status, None when no response came back in time
    reason: str


def _stamp(pb_field: Any, seconds: float) -> None:
    pb_field.FromNanoseconds(int(seconds * 1e9))


def _epoch(stamp: Any) -> float:
    return float(stamp.seconds + stamp.nanos / 1e9)


class Engine:
    """All queues and tasks of the emulator, and their dispatcher."""

    def __init__(
        self,
        *,
        dedup_window_s: float = 3600.0,
        min_dispatch_deadline_s: float = rules.MIN_DISPATCH_DEADLINE_S,
        workers: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dedup_window_s = dedup_window_s
        self.min_dispatch_deadline_s = min_dispatch_deadline_s
        # Added to every API call when set (POST /_emulator/latency): a benchmark's model of the
        # real service's round trip. Zero unless asked; tests never set it.
        self.latency_s = 0.0
        # The odds of refusing a CreateTask as UNAVAILABLE (POST /_emulator/faults): a soak's
        # model of Cloud Tasks failing a request; and how many were refused.
        self.create_task_failures = 0.0
        self.failed_creations = 0
        self._fault_rng = random.Random(13)  # noqa: S311 - reproducible misbehaviour
        self.signer = TokenSigner()
        self._clock = clock
        self._cond = threading.Condition()
        self._queues: dict[str, _Queue] = {}
        self._tasks: dict[str, _Task] = {}
        self._tombstones: dict[str, float] = {}
        self._tombstones_checked = 0.0
        self._seq = itertools.count()
        self._pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dispatch")
        # Keep a connection per dispatching thread (requests keeps 10 a host otherwise, and a
        # burst opens and drops the rest each time), as Google's front end keeps its own to a
        # function's instances.
        self._http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=workers)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self._stopping = False
        self._thread = threading.Thread(target=self._schedule_loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- queues --------------------------------------------------------------------------------

    def create_queue(self, queue: Pb) -> Pb:
        rules.apply_queue_defaults(queue)
        queue.state = QueueState.RUNNING
        with self._cond:
            if queue.name in self._queues:
                raise already_exists(f"Queue {queue.name} already exists.")
            self._queues[queue.name] = _Queue(
                pb=queue, tokens=queue.rate_limits.max_burst_size, refilled_at=self._clock()
            )
            return self._copy(queue)

    def replace_queue(self, name: str, build: Callable[[Pb | None], Pb]) -> Pb:
        """Update a queue (UpdateQueue creates it when missing, as the real service does)."""
        with self._cond:
            current = self._queues.get(name)
            updated = build(self._copy(current.pb) if current else None)
            rules.apply_queue_defaults(updated)
            if current is None:
                updated.state = QueueState.RUNNING
                self._queues[name] = _Queue(
                    pb=updated, tokens=updated.rate_limits.max_burst_size, refilled_at=self._clock()
                )
            else:
                current.pb = updated
            self._cond.notify_all()
            return self._copy(updated)

    def get_queue(self, name: str) -> Pb:
        with self._cond:
            return self._copy(self._queue(name).pb)

    def list_queues(self, location: str) -> list[Pb]:
        prefix = f"{location}/queues/"
        with self._cond:
            return [
                self._copy(q.pb) for n, q in sorted(self._queues.items()) if n.startswith(prefix)
            ]

    def delete_queue(self, name: str) -> None:
        with self._cond:
            self._queue(name)
            self._drop_tasks(name)
            del self._queues[name]

    def set_queue_state(self, name: str, state: int) -> Pb:
        with self._cond:
            queue = self._queue(name)
            queue.pb.state = state
            self._cond.notify_all()
            return self._copy(queue.pb)

    def purge_queue(self, name: str) -> Pb:
        with self._cond:
            queue = self._queue(name)
            self._drop_tasks(name)
            queue.heap.clear()
            _stamp(queue.pb.purge_time, self._clock())
            return self._copy(queue.pb)

    # -- tasks ---------------------------------------------------------------------------------

    def create_task(self, queue_name: str, task: Pb) -> Pb:
        with self._cond:
            failing = self._fault_rng.random() < self.create_task_failures
            self.failed_creations += failing
        if failing:
            raise unavailable("The service is currently unavailable (injected).")
        now = self._clock()
        rules.check_task(task, now, self.min_dispatch_deadline_s)
        with self._cond:
            queue = self._queue(queue_name)
            if not task.name:
                task.name = f"{queue_name}/tasks/{random.getrandbits(63)}"
            self._expire_tombstones(now)
            if task.name in self._tasks or self._tombstones.get(task.name, 0.0) > now:
                # Named tasks de-duplicate while they exist and for a window after they ran or
                # were deleted (cloud.google.com/tasks/docs/reference/rpc: CreateTask).
                raise already_exists(f"Requested entity already exists: {task.name}")
            _stamp(task.create_time, now)
            if not task.HasField("schedule_time") or _epoch(task.schedule_time) < now:
                _stamp(task.schedule_time, now)
            entry = _Task(pb=task, queue_name=queue_name)
            self._tasks[task.name] = entry
            self._push(queue, entry)
            return self._copy(task)

    def get_task(self, name: str) -> Pb:
        with self._cond:
            return self._copy(self._task(name).pb)

    def list_tasks(self, queue_name: str) -> list[Pb]:
        with self._cond:
            self._queue(queue_name)
            tasks = [t for t in self._tasks.values() if t.queue_name == queue_name]
            tasks.sort(key=lambda t: (_epoch(t.pb.schedule_time), t.pb.name))
            return [self._copy(t.pb) for t in tasks]

    def delete_task(self, name: str) -> None:
        with self._cond:
            self._task(name)
            self._forget(name)

    def run_task(self, name: str) -> Pb:
        """Dispatch now, even if paused, rate-limited or already running (RunTask docs)."""
        with self._cond:
            task = self._task(name)
            queue = self._queues[task.queue_name]
            self._start(queue, task, self._clock())
            return self._copy(task.pb)

    # -- scheduling (caller holds the lock) ----------------------------------------------------

    def _push(self, queue: _Queue, task: _Task) -> None:
        task.generation += 1
        eta = _epoch(task.pb.schedule_time)
        earliest = queue.heap[0][0] if queue.heap else float("inf")
        heapq.heappush(queue.heap, (eta, next(self._seq), task.pb.name, task.generation))
        if eta < earliest:  # the scheduler already wakes for anything at or after `earliest`
            self._cond.notify_all()

    def _schedule_loop(self) -> None:
        with self._cond:
            while not self._stopping:
                now = self._clock()
                wake = now + 1.0
                for queue in list(self._queues.values()):
                    wake = min(wake, self._pump(queue, now))
                self._cond.wait(timeout=max(0.0, wake - now))

    def _pump(self, queue: _Queue, now: float) -> float:
        """Start every due task the queue's limits allow; return when to look again."""
        if queue.pb.state != QueueState.RUNNING:
            return float("inf")
        rate = queue.pb.rate_limits
        while queue.heap:
            eta, _, name, generation = queue.heap[0]
            task = self._tasks.get(name)
            if task is None or task.generation != generation:
                heapq.heappop(queue.heap)  # deleted, purged or rescheduled since it was pushed
                continue
            if eta > now:
                return eta
            if queue.inflight >= rate.max_concurrent_dispatches:
                return float("inf")  # a finishing dispatch wakes the loop
            queue.tokens = min(
                float(rate.max_burst_size),
                queue.tokens + (now - queue.refilled_at) * rate.max_dispatches_per_second,
            )
            queue.refilled_at = now
            if queue.tokens < 1.0:
                return now + (1.0 - queue.tokens) / rate.max_dispatches_per_second
            queue.tokens -= 1.0
            heapq.heappop(queue.heap)
            self._start(queue, task, now)
        return float("inf")

    def _start(self, queue: _Queue, task: _Task, now: float) -> None:
        pb = task.pb
        headers = rules.outgoing_headers(pb)
        queue_id = task.queue_name.rsplit("/", 1)[-1]
        headers.update(
            {
                "X-CloudTasks-QueueName": queue_id,
                "X-CloudTasks-TaskName": pb.name.rsplit("/", 1)[-1],
                "X-CloudTasks-TaskRetryCount": str(pb.dispatch_count),
                "X-CloudTasks-TaskExecutionCount": str(task.execution_count),
                "X-CloudTasks-TaskETA": f"{_epoch(pb.schedule_time):.6f}",
            }
        )
        if task.previous_response is not None:
            headers["X-CloudTasks-TaskPreviousResponse"] = str(task.previous_response)
        if task.retry_reason:
            headers["X-CloudTasks-TaskRetryReason"] = task.retry_reason
        request = pb.http_request
        if request.HasField("oidc_token"):
            audience = request.oidc_token.audience or request.url
            token = self.signer.id_token(request.oidc_token.service_account_email, audience)
            headers["Authorization"] = f"Bearer {token}"
        if task.first_attempt_at is None:
            task.first_attempt_at = now
            _stamp(pb.first_attempt.schedule_time, _epoch(pb.schedule_time))
            _stamp(pb.first_attempt.dispatch_time, now)
        pb.dispatch_count += 1
        task.generation += 1  # whatever heap entry is left for this task is stale now
        task.running += 1
        queue.inflight += 1
        method = types.HttpMethod(request.http_method).name
        call = (
            method,
            request.url,
            headers,
            bytes(request.body),
            rules.seconds(pb.dispatch_deadline),
        )
        attempt_schedule = _epoch(pb.schedule_time)
        self._pool.submit(self._dispatch, pb.name, task.generation, call, attempt_schedule, now)

    def _dispatch(
        self,
        name: str,
        generation: int,
        call: tuple[str, str, dict[str, str], bytes, float],
        scheduled: float,
        dispatched: float,
    ) -> None:
        method, url, headers, body, deadline = call
        try:
            response = self._http.request(
                method,
                url,
                headers=headers,
                data=body or None,
                timeout=deadline,
                allow_redirects=False,
            )
            outcome = _Outcome(response.status_code, f"HTTP status code {response.status_code}")
            response.close()
        except requests.Timeout:
            outcome = _Outcome(None, "DEADLINE_EXCEEDED")
        except requests.RequestException as exc:
            outcome = _Outcome(None, f"UNAVAILABLE: {type(exc).__name__}")
        self._finish(name, generation, outcome, scheduled, dispatched)

    def _finish(
        self, name: str, generation: int, outcome: _Outcome, scheduled: float, dispatched: float
    ) -> None:
        with self._cond:
            task = self._tasks.get(name)
            queue = self._queues.get(task.queue_name) if task else None
            if queue is not None:
                queue.inflight -= 1
            self._cond.notify_all()
            if task is None or queue is None:
                return  # deleted or purged while in flight
            task.running -= 1
            now = self._clock()
            self._record_attempt(task, outcome, scheduled, dispatched, now)
            if outcome.status is not None and 200 <= outcome.status < 300:
                self._forget(name)
                return
            if task.generation != generation:
                return  # a RunTask dispatch started after this one; its result decides
            failures = task.pb.dispatch_count
            first = task.first_attempt_at if task.first_attempt_at is not None else now
            policy = rules.retry_policy(queue.pb)
            if gives_up(policy, failures, now - first):
                log.info("giving up on %s after %d attempts", name, failures)
                self._forget(name)
                return
            _stamp(task.pb.schedule_time, now + backoff(policy, failures))
            self._push(queue, task)

    def _record_attempt(
        self, task: _Task, outcome: _Outcome, scheduled: float, dispatched: float, now: float
    ) -> None:
        pb = task.pb
        attempt = pb.last_attempt
        attempt.Clear()
        _stamp(attempt.schedule_time, scheduled)
        _stamp(attempt.dispatch_time, dispatched)
        if outcome.status is None:
            attempt.response_status.code = (
                code_pb2.DEADLINE_EXCEEDED
                if outcome.reason == "DEADLINE_EXCEEDED"
                else code_pb2.UNAVAILABLE
            )
            attempt.response_status.message = outcome.reason
            task.previous_response = 504 if outcome.reason == "DEADLINE_EXCEEDED" else 503
        else:
            pb.response_count += 1
            _stamp(attempt.response_time, now)
            attempt.response_status.code = _rpc_code(outcome.status)
            attempt.response_status.message = outcome.reason
            task.previous_response = outcome.status
            # The execution count leaves out 5xx answers (X-CloudTasks-TaskExecutionCount docs).
            if outcome.status < 500:
                task.execution_count += 1
        task.retry_reason = outcome.reason

    # -- bookkeeping (caller holds the lock) ---------------------------------------------------

    def _forget(self, name: str) -> None:
        self._tasks.pop(name, None)
        self._tombstones[name] = self._clock() + self.dedup_window_s

    def _drop_tasks(self, queue_name: str) -> None:
        for name in [n for n, t in self._tasks.items() if t.queue_name == queue_name]:
            self._forget(name)

    def _expire_tombstones(self, now: float) -> None:
        """Forget expired names, at most once a second (a scan per create was the bottleneck of
        large batches)."""
        if now - self._tombstones_checked < 1.0:
            return
        self._tombstones_checked = now
        for name in [n for n, until in self._tombstones.items() if until <= now]:
            del self._tombstones[name]

    def _queue(self, name: str) -> _Queue:
        rules.split_queue_name(name)
        queue = self._queues.get(name)
        if queue is None:
            raise not_found(f"Queue does not exist: {name}")
        return queue

    def _task(self, name: str) -> _Task:
        queue_name, _ = rules.split_task_name(name)
        task = self._tasks.get(name)
        if task is None:
            self._queue(queue_name)
            raise not_found(f"Task does not exist: {name}")
        return task

    @staticmethod
    def _copy(message: Pb) -> Pb:
        duplicate = type(message)()
        duplicate.CopyFrom(message)
        return duplicate


def _rpc_code(status: int) -> int:
    """google.rpc.Code for an HTTP status, as Attempt.response_status reports it."""
    mapping = {
        400: code_pb2.INVALID_ARGUMENT,
        401: code_pb2.UNAUTHENTICATED,
        403: code_pb2.PERMISSION_DENIED,
        404: code_pb2.NOT_FOUND,
        409: code_pb2.ABORTED,
        429: code_pb2.RESOURCE_EXHAUSTED,
        501: code_pb2.UNIMPLEMENTED,
        503: code_pb2.UNAVAILABLE,
        504: code_pb2.DEADLINE_EXCEEDED,
    }
    if 200 <= status < 300:
        return int(code_pb2.OK)
    return int(mapping.get(status, code_pb2.UNKNOWN if status < 500 else code_pb2.INTERNAL))
