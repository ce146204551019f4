"""Conformance of our Cloud Tasks emulator, driven through the official google-cloud-tasks client.

Most tests use the stack's emulator (CLOUD_TASKS_EMULATOR_HOST, picked by sendvia's adapter);
the few that need other emulator settings (a short de-duplication window, a short dispatch
deadline) start the same server in-process with those settings.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import os
import time
from collections.abc import Iterator

import grpc
import jwt
import pytest
from google.api_core import exceptions
from google.auth.transport import requests as google_requests
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport
from google.oauth2 import id_token
from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2
from sendvia.adapters.google_clients import cloud_tasks_client

from emulators.cloudtasks.engine import Engine
from emulators.cloudtasks.server import SERVICE, CloudTasksApi
from emulators.grpc_service import serve
from tests.integration.emulators.target import serve_target
from tests.integration.helpers import eventually

SERVICE_ACCOUNT = "sendvia-tasks@demo-sendvia.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def client() -> tasks_v2.CloudTasksClient:
    return cloud_tasks_client()


@pytest.fixture
def location(project: str) -> str:
    return f"projects/{project}/locations/us-central1"


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


def make_queue(
    client: tasks_v2.CloudTasksClient, location: str, queue_id: str, **config: object
) -> tasks_v2.Queue:
    retry = {
        "max_attempts": 5,
        "min_backoff": _duration(0.1),
        "max_backoff": _duration(2),
        "max_doublings": 4,
    }
    retry.update(config.pop("retry", {}))  # type: ignore[call-overload]
    queue = {"name": f"{location}/queues/{queue_id}", "retry_config": retry, **config}
    return client.create_queue(parent=location, queue=queue)


@pytest.fixture
def queue(client: tasks_v2.CloudTasksClient, location: str, unique_id: str) -> Iterator[str]:
    created = make_queue(client, location, f"q-{unique_id}")
    yield created.name
    client.delete_queue(name=created.name)


def http_task(url: str, name: str | None = None, **extra: object) -> dict[str, object]:
    task: dict[str, object] = {"http_request": {"url": url, **extra}}
    if name:
        task["name"] = name
    return task


def in_future(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds))
    return stamp


# -- queues ------------------------------------------------------------------------------------


def test_queue_lifecycle_create_get_list_pause_resume_delete(client, location, unique_id):
    name = f"{location}/queues/life-{unique_id}"
    created = client.create_queue(parent=location, queue={"name": name})
    assert created.state == tasks_v2.Queue.State.RUNNING
    # Defaults of the real service when nothing is given.
    assert created.rate_limits.max_dispatches_per_second == 500
    assert created.rate_limits.max_concurrent_dispatches == 1000
    assert created.retry_config.max_attempts == 100
    assert created.retry_config.max_doublings == 16

    assert client.get_queue(name=name).name == name
    assert name in [q.name for q in client.list_queues(parent=location)]
    assert client.pause_queue(name=name).state == tasks_v2.Queue.State.PAUSED
    paused = client.list_queues(request={"parent": location, "filter": "state: PAUSED"})
    assert name in [q.name for q in paused]
    assert client.resume_queue(name=name).state == tasks_v2.Queue.State.RUNNING
    client.delete_queue(name=name)
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=name)


def test_duplicate_queue_is_refused(client, location, queue):
    with pytest.raises(exceptions.AlreadyExists):
        client.create_queue(parent=location, queue={"name": queue})


def test_update_queue_changes_only_the_masked_fields(client, queue):
    mask = field_mask_pb2.FieldMask(paths=["retry_config.max_attempts"])
    updated = client.update_queue(
        queue={"name": queue, "retry_config": {"max_attempts": 9}}, update_mask=mask
    )
    assert updated.retry_config.max_attempts == 9
    assert updated.retry_config.max_doublings == 4  # kept


def test_rate_limits_above_the_service_maximum_are_invalid(client, location, unique_id):
    with pytest.raises(exceptions.InvalidArgument):
        make_queue(
            client, location, f"fast-{unique_id}", rate_limits={"max_dispatches_per_second": 501}
        )


@pytest.mark.parametrize(
    "bad",
    [
        "projects/p/queues/x",
        "projects/demo/locations/us/queues/a_b",
        "projects/demo/locations/us/queues/" + "x" * 101,
    ],
)
def test_malformed_queue_names_are_invalid(client, bad):
    with pytest.raises(exceptions.InvalidArgument):
        client.get_queue(name=bad)


def test_unknown_queue_is_not_found(client, location):
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=f"{location}/queues/never-created")
    with pytest.raises(exceptions.NotFound):
        client.create_task(
            parent=f"{location}/queues/never-created", task=http_task("http://127.0.0.1:9/x")
        )


def test_purge_removes_every_task(client, queue):
    for _ in range(3):
        client.create_task(
            parent=queue,
            task={**http_task("http://127.0.0.1:9/x"), "schedule_time": in_future(600)},
        )
    assert len(list(client.list_tasks(parent=queue))) == 3
    purged = client.purge_queue(name=queue)
    assert purged.purge_time
    assert list(client.list_tasks(parent=queue)) == []


# -- dispatch ----------------------------------------------------------------------------------


def test_http_task_is_dispatched_with_method_headers_body_and_cloud_tasks_headers(client, queue):
    with serve_target() as target:
        task = client.create_task(
            parent=queue,
            task=http_task(
                target.url,
                name=f"{queue}/tasks/hello-1",
                http_method=tasks_v2.HttpMethod.PUT,
                headers={"Content-Type": "application/json", "X-Tenant": "t1"},
                body=b'{"a": 1}',
            ),
        )
        hit = target.wait_for(1)[0]
    assert (hit.method, hit.path, hit.body) == ("PUT", "/task", b'{"a": 1}')
    assert hit.headers["Content-Type"] == "application/json"
    assert hit.headers["X-Tenant"] == "t1"
    assert hit.headers["User-Agent"] == "Google-Cloud-Tasks"
    assert hit.headers["X-CloudTasks-QueueName"] == queue.rsplit("/", 1)[1]
    assert hit.headers["X-CloudTasks-TaskName"] == "hello-1"
    assert hit.headers["X-CloudTasks-TaskRetryCount"] == "0"
    assert hit.headers["X-CloudTasks-TaskExecutionCount"] == "0"
    eta = float(hit.headers["X-CloudTasks-TaskETA"])
    assert abs(eta - task.schedule_time.timestamp()) < 0.01


def test_duplicate_task_name_is_refused_while_it_exists_and_after_it_ran(client, queue):
    with serve_target() as target:
        name = f"{queue}/tasks/once"
        client.create_task(
            parent=queue, task={**http_task(target.url, name), "schedule_time": in_future(1)}
        )
        with pytest.raises(exceptions.AlreadyExists):
            client.create_task(parent=queue, task=http_task(target.url, name))
        target.wait_for(1)
        _wait_gone(client, name)
        with pytest.raises(exceptions.AlreadyExists):
            client.create_task(parent=queue, task=http_task(target.url, name))
        time.sleep(0.5)
        assert len(target.hits) == 1


def test_deleted_task_name_stays_taken_and_is_never_dispatched(client, queue):
    name = f"{queue}/tasks/deleted"
    client.create_task(
        parent=queue,
        task={**http_task("http://127.0.0.1:9/x", name), "schedule_time": in_future(600)},
    )
    client.delete_task(name=name)
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=name)
    with pytest.raises(exceptions.AlreadyExists):
        client.create_task(parent=queue, task=http_task("http://127.0.0.1:9/x", name))


def test_failing_target_is_retried_with_growing_gaps_until_max_attempts(
    client, location, unique_id
):
    queue = make_queue(
        client,
        location,
        f"r500-{unique_id}",
        retry={
            "max_attempts": 4,
            "min_backoff": _duration(0.2),
            "max_backoff": _duration(10),
            "max_doublings": 5,
        },
    )
    with serve_target(statuses=[500]) as target:
        task = client.create_task(parent=queue.name, task=http_task(target.url))
        hits = target.wait_for(4)
        _wait_gone(client, task.name)
        time.sleep(1.0)  # a fifth attempt would come 1.6 s after the fourth
        hits = list(target.hits)
    assert len(hits) == 4
    gaps = [b.at - a.at for a, b in itertools.pairwise(hits)]
    # 0.2 s, 0.4 s, 0.8 s: each gap about twice the one before.
    assert gaps[0] >= 0.18
    assert gaps[1] > gaps[0] * 1.6
    assert gaps[2] > gaps[1] * 1.6
    assert [h.headers["X-CloudTasks-TaskRetryCount"] for h in hits] == ["0", "1", "2", "3"]
    # 5xx answers do not count as executions (X-CloudTasks-TaskExecutionCount docs).
    assert {h.headers["X-CloudTasks-TaskExecutionCount"] for h in hits} == {"0"}
    assert [h.headers.get("X-CloudTasks-TaskPreviousResponse") for h in hits[1:]] == ["500"] * 3
    client.delete_queue(name=queue.name)


def test_success_after_two_503s_takes_exactly_three_attempts(client, queue):
    with serve_target(statuses=[503, 503, 200]) as target:
        task = client.create_task(parent=queue, task=http_task(target.url))
        target.wait_for(3)
        _wait_gone(client, task.name)
        time.sleep(0.5)
        hits = list(target.hits)
    assert len(hits) == 3
    assert [h.headers["X-CloudTasks-TaskRetryCount"] for h in hits] == ["0", "1", "2"]
    assert hits[2].headers["X-CloudTasks-TaskPreviousResponse"] == "503"


def test_4xx_answers_are_retried_and_counted_as_executions(client, queue):
    with serve_target(statuses=[404, 200]) as target:
        client.create_task(parent=queue, task=http_task(target.url))
        hits = target.wait_for(2)
    assert hits[1].headers["X-CloudTasks-TaskExecutionCount"] == "1"


def test_max_retry_duration_ends_unlimited_attempts(client, location, unique_id):
    queue = make_queue(
        client,
        location,
        f"dur-{unique_id}",
        retry={
            "max_attempts": -1,
            "max_retry_duration": _duration(1),
            "min_backoff": _duration(0.2),
            "max_backoff": _duration(0.2),
        },
    )
    with serve_target(statuses=[503]) as target:
        task = client.create_task(parent=queue.name, task=http_task(target.url))
        _wait_gone(client, task.name, timeout=5)
        count = len(target.hits)
        time.sleep(0.5)
    assert 4 <= count <= 8  # one attempt every 0.2 s for about 1 s
    assert len(target.hits) == count
    client.delete_queue(name=queue.name)


def test_oidc_token_verifies_against_the_emulator_jwks(client, queue):
    custom = "https://deliver.example.com"
    with serve_target() as target:
        client.create_task(
            parent=queue,
            task=http_task(
                target.url,
                f"{queue}/tasks/default-aud",
                oidc_token={"service_account_email": SERVICE_ACCOUNT},
            ),
        )
        client.create_task(
            parent=queue,
            task=http_task(
                target.url,
                f"{queue}/tasks/custom-aud",
                oidc_token={"service_account_email": SERVICE_ACCOUNT, "audience": custom},
            ),
        )
        hits = target.wait_for(2)
    # The audience defaults to the target URL; an explicit one is used as given.
    expected = {"default-aud": target.url, "custom-aud": custom}
    for hit in hits:
        scheme, token = hit.headers["Authorization"].split()
        assert scheme == "Bearer"
        audience = expected[hit.headers["X-CloudTasks-TaskName"]]
        claims = id_token.verify_token(
            token,
            google_requests.Request(),
            audience=audience,
            certs_url=os.environ["CLOUD_TASKS_OIDC_CERTS_URL"],
        )
        assert claims["email"] == SERVICE_ACCOUNT
        assert claims["email_verified"] is True
        assert claims["iss"] == "https://accounts.google.com"


def test_forged_oidc_token_does_not_verify(client, queue):
    with serve_target() as target:
        client.create_task(
            parent=queue,
            task=http_task(target.url, oidc_token={"service_account_email": SERVICE_ACCOUNT}),
        )
        token = target.wait_for(1)[0].headers["Authorization"].split()[1]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "attacker@evil.example"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{signature}"
    with pytest.raises(jwt.InvalidSignatureError):
        id_token.verify_token(
            forged,
            google_requests.Request(),
            audience=target.url,
            certs_url=os.environ["CLOUD_TASKS_OIDC_CERTS_URL"],
        )


def test_paused_queue_dispatches_nothing_until_resumed(client, queue):
    client.pause_queue(name=queue)
    with serve_target() as target:
        client.create_task(parent=queue, task=http_task(target.url))
        time.sleep(1.0)
        assert target.hits == []
        client.resume_queue(name=queue)
        assert len(target.wait_for(1)) == 1


def test_schedule_time_is_honoured(client, queue):
    with serve_target() as target:
        task = client.create_task(
            parent=queue, task={**http_task(target.url), "schedule_time": in_future(1.0)}
        )
        hit = target.wait_for(1)[0]
    assert hit.at >= task.schedule_time.timestamp() - 0.01


def test_schedule_more_than_30_days_ahead_is_invalid(client, queue):
    with pytest.raises(exceptions.InvalidArgument):
        client.create_task(
            parent=queue,
            task={**http_task("http://127.0.0.1:9/x"), "schedule_time": in_future(31 * 86400)},
        )


def test_get_list_and_run_task(client, queue):
    client.pause_queue(name=queue)
    with serve_target() as target:
        name = f"{queue}/tasks/later"
        client.create_task(
            parent=queue,
            task={**http_task(target.url, name, body=b"x"), "schedule_time": in_future(600)},
        )
        basic = client.get_task(name=name)
        assert basic.view == tasks_v2.Task.View.BASIC
        assert basic.http_request.body == b""  # BASIC view leaves the body out
        full = client.get_task(request={"name": name, "response_view": "FULL"})
        assert full.http_request.body == b"x"
        assert [t.name for t in client.list_tasks(parent=queue)] == [name]
        # RunTask dispatches now, even though the queue is paused and the task is not due.
        client.run_task(name=name)
        hit = target.wait_for(1)[0]
    assert hit.headers["X-CloudTasks-TaskName"] == "later"
    _wait_gone(client, name)


def test_max_concurrent_dispatches_is_respected(client, location, unique_id):
    queue = make_queue(
        client, location, f"conc-{unique_id}", rate_limits={"max_concurrent_dispatches": 2}
    )
    with serve_target(delay_s=0.3) as target:
        for _ in range(6):
            client.create_task(parent=queue.name, task=http_task(target.url))
        target.wait_for(6)
    assert target.max_active == 2
    client.delete_queue(name=queue.name)


def test_max_dispatches_per_second_spaces_dispatches(client, location, unique_id):
    queue = make_queue(
        client, location, f"rate-{unique_id}", rate_limits={"max_dispatches_per_second": 4}
    )
    with serve_target() as target:
        for _ in range(12):
            client.create_task(parent=queue.name, task=http_task(target.url))
        hits = target.wait_for(12)
    # A burst of 4, then 4 per second: the last of 12 cannot come before ~2 s.
    assert hits[-1].at - hits[0].at >= 1.8
    client.delete_queue(name=queue.name)


# -- bad input ---------------------------------------------------------------------------------


def test_task_larger_than_1_mb_is_invalid(client, queue):
    with pytest.raises(exceptions.InvalidArgument, match="too large"):
        client.create_task(
            parent=queue, task=http_task("http://127.0.0.1:9/x", body=b"x" * (1024 * 1024 + 1))
        )
    # Just under the limit is fine.
    task = client.create_task(
        parent=queue,
        task={
            **http_task("http://127.0.0.1:9/x", body=b"x" * 1_000_000),
            "schedule_time": in_future(600),
        },
    )
    client.delete_task(name=task.name)


@pytest.mark.parametrize("task_id", ["has space", "a/b", "x" * 501, "ü"])
def test_malformed_task_names_are_invalid(client, queue, task_id):
    with pytest.raises(exceptions.InvalidArgument):
        client.create_task(
            parent=queue, task=http_task("http://127.0.0.1:9/x", f"{queue}/tasks/{task_id}")
        )


@pytest.mark.parametrize(
    "request_fields",
    [
        {"url": "ftp://example.com/x"},
        {"url": "http://127.0.0.1:9/x", "http_method": tasks_v2.HttpMethod.GET, "body": b"x"},
        {"url": "http://127.0.0.1:9/x", "oidc_token": {"audience": "x"}},
    ],
)
def test_invalid_http_requests_are_refused(client, queue, request_fields):
    with pytest.raises(exceptions.InvalidArgument):
        client.create_task(parent=queue, task={"http_request": request_fields})


def test_dispatch_deadline_outside_15s_to_30min_is_invalid(client, queue):
    for seconds in (5, 1801):
        with pytest.raises(exceptions.InvalidArgument):
            client.create_task(
                parent=queue,
                task={**http_task("http://127.0.0.1:9/x"), "dispatch_deadline": _duration(seconds)},
            )


def test_task_in_another_queue_name_is_invalid(client, queue, location):
    with pytest.raises(exceptions.InvalidArgument):
        client.create_task(
            parent=queue,
            task=http_task("http://127.0.0.1:9/x", f"{location}/queues/other/tasks/t1"),
        )


# -- settings of the emulator itself (in-process server) ---------------------------------------


@pytest.fixture
def local_emulator() -> Iterator[tuple[tasks_v2.CloudTasksClient, Engine]]:
    engine = Engine(dedup_window_s=0.5, min_dispatch_deadline_s=0.2)
    server, port = serve(SERVICE, CloudTasksApi(engine).methods(), "127.0.0.1", 0)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel)), engine
    channel.close()
    server.stop(grace=0)
    engine.stop()


def test_task_name_is_free_again_after_the_dedup_window(local_emulator, location):
    client, _ = local_emulator
    queue = make_queue(client, location, "dedup")
    name = f"{queue.name}/tasks/again"
    client.create_task(
        parent=queue.name,
        task={**http_task("http://127.0.0.1:9/x", name), "schedule_time": in_future(600)},
    )
    client.delete_task(name=name)
    with pytest.raises(exceptions.AlreadyExists):
        client.create_task(parent=queue.name, task=http_task("http://127.0.0.1:9/x", name))
    time.sleep(0.6)
    client.create_task(
        parent=queue.name,
        task={**http_task("http://127.0.0.1:9/x", name), "schedule_time": in_future(600)},
    )


def test_dispatch_deadline_cuts_a_stalled_target_and_retries(local_emulator, location):
    client, _ = local_emulator
    queue = make_queue(client, location, "deadline", retry={"max_attempts": 2})
    with serve_target(delay_s=1.5) as target:
        task = client.create_task(
            parent=queue.name, task={**http_task(target.url), "dispatch_deadline": _duration(0.3)}
        )
        hits = target.wait_for(2, timeout=10)
        current = client.get_task(name=task.name) if _exists(client, task.name) else None
    assert hits[1].headers["X-CloudTasks-TaskPreviousResponse"] == "504"
    assert hits[1].at - hits[0].at < 1.0  # retried after the deadline, not after the answer
    if current is not None:
        assert current.dispatch_count == 2


def _exists(client: tasks_v2.CloudTasksClient, name: str) -> bool:
    try:
        client.get_task(name=name)
    except exceptions.NotFound:
        return False
    return True


def _wait_gone(client: tasks_v2.CloudTasksClient, name: str, timeout: float = 10.0) -> None:
    eventually(lambda: not _exists(client, name), timeout=timeout)
