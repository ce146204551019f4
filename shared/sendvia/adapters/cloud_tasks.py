"""The Queue port on Cloud Tasks: one named HTTP task per delivery, aimed at `deliver`.

Task names are derived from the tenant and delivery, so a retried `send` or a second `reminders`
run creates no second task: Cloud Tasks answers ALREADY_EXISTS while the task exists and for about
an hour after it ran (cloud.google.com/tasks/docs/reference/rpc: CreateTask). The payload names the
delivery, and for a delivery `send` has just created, its document as created, sealed
(services/tickets.py): never a credential. The functions only enqueue
(roles/cloudtasks.enqueuer): the queue belongs to Terraform in production and to the local
stack's start (`queue_spec`), both from sendvia/queue.json, so retries never depend on defaults.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sendvia.adapters import grpc_calls
from sendvia.config import QUEUE, TasksSettings


class CloudTasksQueue:
    def __init__(
        self,
        settings: TasksSettings,
        project: str,
        client_factory: Callable[[], Any],
        sync_url: str | None = None,
        sync_queue: str | None = None,
    ) -> None:
        self._settings = settings
        self._sync_url = sync_url
        self._parent = f"projects/{project}/locations/{settings.location}"
        self.queue_name = f"{self._parent}/queues/{settings.queue}"
        # Receiving's tasks have a queue of their own: neither waits for the other's.
        self.sync_queue_name = f"{self._parent}/queues/{sync_queue or QUEUE['sync']['name']}"
        self._client_factory = client_factory
        self._client: Any = None
        self._create_task: grpc_calls.Call | None = None
        self._create_tasks: Callable[..., list[Any]] | None = None
        self._lock = threading.Lock()

    def _tasks(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def _create_task_method(self) -> tuple[Any, str, Any, Any]:
        """CreateTask on the client's channel (adapters/grpc_calls): the client, the method,
        its request and response types."""
        from google.cloud.tasks_v2.types import cloudtasks, task

        method = "/google.cloud.tasks.v2.CloudTasks/CreateTask"
        return self._tasks(), method, cloudtasks.CreateTaskRequest, task.Task

    def _creating(self) -> grpc_calls.Call:
        """CreateTask with protobuf messages; like the generated client's, it is not retried
        (20 s)."""
        if self._create_task is None:
            self._create_task = grpc_calls.unary(*self._create_task_method(), timeout_s=20.0)
        return self._create_task

    def task_id(self, tenant_id: str, delivery_id: str, generation: int = 0) -> str:
        digest = hashlib.sha256(f"{tenant_id}/{delivery_id}".encode()).hexdigest()[:40]
        return f"d-{digest}-{generation}"

    def enqueue(
        self,
        tenant_id: str,
        delivery_id: str,
        *,
        at: dt.datetime | None = None,
        generation: int = 0,
    ) -> bool:
        """Create the delivery's task; False when it already exists (nothing to do)."""
        body = {"tenant_id": tenant_id, "delivery_id": delivery_id}
        name = self.task_id(tenant_id, delivery_id, generation)
        url = self._settings.deliver_url
        return self._create(f"{self.queue_name}/tasks/{name}", url, url, body, at)

    def enqueue_all(
        self,
        tenant_id: str,
        deliveries: Sequence[tuple[str, dt.datetime | None]],
        seals: Mapping[str, Mapping[str, str]] | None = None,
    ) -> list[bool]:
        """The deliveries' tasks, IN_FLIGHT creations waiting at a time on gRPC's futures
        rather than a thread each (bench/pipeline.py: a third of their CPU). A delivery with a
        seal carries it as `as_created` (services/tickets.py)."""
        from google.api_core import exceptions

        if self._create_tasks is None:
            method = self._create_task_method()
            self._create_tasks = grpc_calls.unary_many(*method, timeout_s=20.0)
        url, seals = self._settings.deliver_url, seals or {}
        requests = []
        for delivery_id, at in deliveries:
            body: dict[str, Any] = {"tenant_id": tenant_id, "delivery_id": delivery_id}
            if delivery_id in seals:
                body["as_created"] = seals[delivery_id]
            name = f"{self.queue_name}/tasks/{self.task_id(tenant_id, delivery_id)}"
            requests.append(self._request(name, url, url, body, at))
        answers = self._create_tasks(requests, IN_FLIGHT)
        for answer in answers:  # every creation was tried; the first failure is the caller's
            if isinstance(answer, Exception) and not isinstance(answer, exceptions.AlreadyExists):
                raise answer
        return [not isinstance(answer, Exception) for answer in answers]

    def enqueue_sync(
        self, tenant_id: str, mailbox_id: str, name: str, at: dt.datetime | None = None
    ) -> bool:
        """The task syncing one mailbox, aimed at `sync`'s /mailbox, with sync's URL as the
        audience of its token."""
        if self._sync_url is None:
            raise RuntimeError("sync is not configured (SENDVIA_SYNC_URL)")
        digest = hashlib.sha256(f"{tenant_id}/{mailbox_id}".encode()).hexdigest()[:40]
        target = f"{self._sync_url.rstrip('/')}/mailbox"
        body = {"tenant_id": tenant_id, "mailbox_id": mailbox_id}
        task = f"{self.sync_queue_name}/tasks/s-{digest}-{name}"
        return self._create(task, target, self._sync_url, body, at)

    def _create(
        self,
        name: str,  # the task's full name: its queue's, then /tasks/{id}
        url: str,
        audience: str,
        body: dict[str, Any],
        at: dt.datetime | None,
    ) -> bool:
        from google.api_core import exceptions

        request, metadata = self._request(name, url, audience, body, at)
        try:
            self._creating()(request, metadata)
        except exceptions.AlreadyExists:
            return False
        return True

    def _request(
        self,
        name: str,
        url: str,
        audience: str,
        body: dict[str, Any],
        at: dt.datetime | None,
    ) -> tuple[Any, tuple[tuple[str, str], ...]]:
        """CreateTask's request for the task, built as protobuf messages (the client's
        proto-plus conversion of a dict costs as much again: bench/pipeline.py), and its
        routing header."""
        from google.cloud.tasks_v2.types import cloudtasks, target
        from google.cloud.tasks_v2.types import task as tasks

        pb = tasks.Task.pb()(name=name)
        call = pb.http_request
        call.http_method = int(target.HttpMethod.POST)
        call.url = url
        call.headers["Content-Type"] = "application/json"
        call.body = json.dumps(body).encode()
        call.oidc_token.service_account_email = self._settings.service_account
        call.oidc_token.audience = audience
        if at is not None:
            pb.schedule_time.FromDatetime(at)
        parent = name.rsplit("/tasks/", 1)[0]
        request = cloudtasks.CreateTaskRequest.pb()(parent=parent, task=pb)
        return request, (grpc_calls.routing("parent", parent),)


IN_FLIGHT = 32  # task creations waiting on Cloud Tasks at once, for a batch


def queue_spec(settings: TasksSettings, queue_name: str) -> dict[str, Any]:
    """The queue as Cloud Tasks' API takes it (CreateQueue), from the same numbers as
    Terraform's: what the local stack creates at `make up`."""
    from google.protobuf import duration_pb2

    def seconds(value: float) -> duration_pb2.Duration:
        duration = duration_pb2.Duration()
        duration.FromNanoseconds(int(value * 1e9))
        return duration

    return {
        "name": queue_name,
        "retry_config": {
            "max_attempts": settings.max_attempts,
            "min_backoff": seconds(settings.min_backoff_s),
            "max_backoff": seconds(settings.max_backoff_s),
            "max_doublings": settings.max_doublings,
            "max_retry_duration": seconds(settings.max_retry_duration_s),
        },
        "rate_limits": {
            "max_dispatches_per_second": settings.max_dispatches_per_s,
            "max_concurrent_dispatches": int(settings.max_concurrent),
        },
    }
