"""The Cloud Tasks emulator process: the gRPC API, plus an HTTP port serving the OIDC JWKS.

    python -m emulators.cloudtasks.server --port 8123 --http-port 8124

Point the official client at it with a plain gRPC channel (CLOUD_TASKS_EMULATOR_HOST); verify the
tokens it sends with `google.oauth2.id_token.verify_token(..., certs_url=http://HOST:HTTP_PORT/jwks)`.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from google.cloud.tasks_v2 import types
from google.protobuf import empty_pb2, field_mask_pb2

from emulators.cloudtasks import rules
from emulators.cloudtasks.engine import Engine, QueueState
from emulators.grpc_service import Method, invalid_argument, page, serve
from emulators.http_json import JsonHandler

SERVICE = "google.cloud.tasks.v2.CloudTasks"
MAX_PAGE = 1000
_QUEUE_OUTPUT_FIELDS = {"name", "state", "purge_time", "stats", "rate_limits.max_burst_size"}


class CloudTasksApi:
    """Request validation and translation between proto-plus requests and the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # queues

    def create_queue(self, request: types.CreateQueueRequest) -> types.Queue:
        rules.check_location(request.parent)
        queue = types.Queue.pb(request.queue)
        location, _ = rules.split_queue_name(queue.name)
        if location != request.parent:
            raise invalid_argument("queue.name must be inside the parent location")
        return types.Queue.wrap(self.engine.create_queue(queue))

    def update_queue(self, request: types.UpdateQueueRequest) -> types.Queue:
        incoming = types.Queue.pb(request.queue)
        rules.split_queue_name(incoming.name)
        paths = list(request.update_mask.paths)
        for path in paths:
            if path in _QUEUE_OUTPUT_FIELDS:
                raise invalid_argument(f"update_mask path {path!r} is output only")

        def build(current: Any) -> Any:
            if current is None or not paths:
                incoming.state = current.state if current is not None else QueueState.RUNNING
                return incoming
            try:
                field_mask_pb2.FieldMask(paths=paths).MergeMessage(
                    incoming, current, replace_message_field=True
                )
            except ValueError as exc:
                raise invalid_argument(f"Invalid update_mask: {exc}") from exc
            return current

        return types.Queue.wrap(self.engine.replace_queue(incoming.name, build))

    def get_queue(self, request: types.GetQueueRequest) -> types.Queue:
        return types.Queue.wrap(self.engine.get_queue(request.name))

    def list_queues(self, request: types.ListQueuesRequest) -> types.ListQueuesResponse:
        rules.check_location(request.parent)
        queues = self.engine.list_queues(request.parent)
        if request.filter:
            wanted = _state_filter(request.filter)
            queues = [q for q in queues if q.state == wanted]
        chunk, token = page(queues, request.page_size, request.page_token, 9800)
        return types.ListQueuesResponse(
            queues=[types.Queue.wrap(q) for q in chunk], next_page_token=token
        )

    def delete_queue(self, request: types.DeleteQueueRequest) -> empty_pb2.Empty:
        self.engine.delete_queue(request.name)
        return empty_pb2.Empty()

    def purge_queue(self, request: types.PurgeQueueRequest) -> types.Queue:
        return types.Queue.wrap(self.engine.purge_queue(request.name))

    def pause_queue(self, request: types.PauseQueueRequest) -> types.Queue:
        return types.Queue.wrap(self.engine.set_queue_state(request.name, QueueState.PAUSED))

    def resume_queue(self, request: types.ResumeQueueRequest) -> types.Queue:
        return types.Queue.wrap(self.engine.set_queue_state(request.name, QueueState.RUNNING))

    # tasks

    def create_task(self, request: types.CreateTaskRequest) -> types.Task:
        rules.split_queue_name(request.parent)
        task = types.Task.pb(request.task)
        if task.name:
            queue_name, _ = rules.split_task_name(task.name)
            if queue_name != request.parent:
                raise invalid_argument("task.name must be inside the parent queue")
        created = self.engine.create_task(request.parent, task)
        return _view(created, request.response_view)

    def get_task(self, request: types.GetTaskRequest) -> types.Task:
        return _view(self.engine.get_task(request.name), request.response_view)

    def list_tasks(self, request: types.ListTasksRequest) -> types.ListTasksResponse:
        rules.split_queue_name(request.parent)
        tasks = self.engine.list_tasks(request.parent)
        chunk, token = page(tasks, request.page_size, request.page_token, MAX_PAGE)
        return types.ListTasksResponse(
            tasks=[_view(t, request.response_view) for t in chunk], next_page_token=token
        )

    def delete_task(self, request: types.DeleteTaskRequest) -> empty_pb2.Empty:
        self.engine.delete_task(request.name)
        return empty_pb2.Empty()

    def run_task(self, request: types.RunTaskRequest) -> types.Task:
        return _view(self.engine.run_task(request.name), request.response_view)

    def methods(self) -> dict[str, Method]:
        t = types
        return {
            "CreateQueue": Method(self.create_queue, t.CreateQueueRequest, t.Queue),
            "UpdateQueue": Method(self.update_queue, t.UpdateQueueRequest, t.Queue),
            "GetQueue": Method(self.get_queue, t.GetQueueRequest, t.Queue),
            "ListQueues": Method(self.list_queues, t.ListQueuesRequest, t.ListQueuesResponse),
            "DeleteQueue": Method(self.delete_queue, t.DeleteQueueRequest, empty_pb2.Empty),
            "PurgeQueue": Method(self.purge_queue, t.PurgeQueueRequest, t.Queue),
            "PauseQueue": Method(self.pause_queue, t.PauseQueueRequest, t.Queue),
            "ResumeQueue": Method(self.resume_queue, t.ResumeQueueRequest, t.Queue),
            "CreateTask": Method(self.create_task, t.CreateTaskRequest, t.Task),
            "GetTask": Method(self.get_task, t.GetTaskRequest, t.Task),
            "ListTasks": Method(self.list_tasks, t.ListTasksRequest, t.ListTasksResponse),
            "DeleteTask": Method(self.delete_task, t.DeleteTaskRequest, empty_pb2.Empty),
            "RunTask": Method(self.run_task, t.RunTaskRequest, t.Task),
        }


def _view(task: Any, view: int) -> types.Task:
    """BASIC (the default) leaves out the body, which may be large or sensitive; FULL keeps it."""
    task.view = types.Task.View.FULL if view == types.Task.View.FULL else types.Task.View.BASIC
    if task.view != types.Task.View.FULL:
        task.http_request.ClearField("body")
    return types.Task.wrap(task)


def _state_filter(text: str) -> int:
    key, _, value = text.partition(":")
    if key.strip() != "state" or value.strip() not in {"RUNNING", "PAUSED", "DISABLED"}:
        raise invalid_argument(
            f"Invalid filter {text!r}: only 'state: RUNNING|PAUSED' is supported"
        )
    return int(QueueState[value.strip()])


def serve_http(engine: Engine, host: str, port: int) -> ThreadingHTTPServer:
    """JWKS for verifying the OIDC tokens, and a readiness probe."""

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.path in ("/jwks", "/certs", "/oauth2/v3/certs"):
                self.send_json(200, engine.signer.jwks())
            elif self.path == "/healthz":
                self.send_json(200, {"ok": True})
            elif self.path == "/_emulator/latency":
                self.send_json(200, {"latency_ms": engine.latency_s * 1000})
            elif self.path == "/_emulator/faults":
                self.send_json(
                    200,
                    {
                        "create_task_failures": engine.create_task_failures,
                        "failed_creations": engine.failed_creations,
                    },
                )
            else:
                self.send_json(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path == "/_emulator/faults":
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                engine.create_task_failures = float(body.get("create_task_failures", 0.0))
                self.send_json(200, {"create_task_failures": engine.create_task_failures})
                return
            if self.path != "/_emulator/latency":
                self.send_json(404, {"error": "not found"})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                latency_ms = float(body["latency_ms"])
                if not 0 <= latency_ms <= 1000:
                    raise ValueError(latency_ms)
            except (ValueError, KeyError, TypeError):
                self.send_json(400, {"error": 'send {"latency_ms": 0 to 1000}'})
                return
            engine.latency_s = latency_ms / 1000
            self.send_json(200, {"latency_ms": latency_ms})

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="jwks", daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="Cloud Tasks emulator (gRPC + JWKS over HTTP)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--http-port", type=int, default=8124)
    parser.add_argument(
        "--dedup-window",
        type=float,
        default=3600.0,
        help="seconds a task name stays taken after the task ran or was deleted",
    )
    parser.add_argument(
        "--min-dispatch-deadline",
        type=float,
        default=rules.MIN_DISPATCH_DEADLINE_S,
        help="smallest dispatch_deadline accepted (the real service: 15 s)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    engine = Engine(
        dedup_window_s=args.dedup_window, min_dispatch_deadline_s=args.min_dispatch_deadline
    )
    api = CloudTasksApi(engine)
    server, _ = serve(
        SERVICE, api.methods(), args.host, args.port, workers=64, latency=lambda: engine.latency_s
    )
    serve_http(engine, args.host, args.http_port)
    logging.info(
        "Cloud Tasks emulator on %s:%d, JWKS at http://%s:%d/jwks",
        args.host,
        args.port,
        args.host,
        args.http_port,
    )
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(grace=1)
    engine.stop()


if __name__ == "__main__":
    main()
