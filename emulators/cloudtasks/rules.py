"""Names, defaults and limits of Cloud Tasks queues and HTTP tasks, as the real API enforces them.

Sources: cloud.google.com/tasks/docs/reference/rpc/google.cloud.tasks.v2 (field docs) and
cloud.google.com/tasks/docs/quotas (1 MB task size, 30-day schedule, 500 dispatches/s).
Everything here works on raw protobuf messages (`Queue.pb()`, `Task.pb()`); violations raise the
INVALID_ARGUMENT the real service answers.
"""

from __future__ import annotations

import re
from typing import Any

from google.cloud.tasks_v2 import types
from google.protobuf import duration_pb2

from emulators.cloudtasks.retry import RetryPolicy
from emulators.grpc_service import invalid_argument

# Raw protobuf messages (`types.Queue.pb(queue)`); proto-plus exposes no static type for them.
Pb = Any

MAX_TASK_BYTES = 1024 * 1024
MAX_SCHEDULE_AHEAD_S = 30 * 24 * 3600
MAX_DISPATCHES_PER_SECOND = 500.0
MAX_CONCURRENT_DISPATCHES = 5000
MAX_URL_LENGTH = 2083
DEFAULT_DISPATCH_DEADLINE_S = 600.0
MIN_DISPATCH_DEADLINE_S = 15.0
MAX_DISPATCH_DEADLINE_S = 1800.0

_LOCATION = re.compile(r"^projects/[a-z0-9][a-z0-9:.-]{0,62}/locations/[a-z0-9-]{1,63}$")
_QUEUE_ID = re.compile(r"^[A-Za-z0-9-]{1,100}$")
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BODY_METHODS = {types.HttpMethod.POST, types.HttpMethod.PUT, types.HttpMethod.PATCH}
# Headers Cloud Tasks sets itself or drops from the task (creating-http-target-tasks docs).
_RESERVED_HEADERS = (
    "host",
    "content-length",
    "user-agent",
    "x-google-",
    "x-appengine-",
    "x-cloudtasks-",
)


def check_location(parent: str) -> None:
    if not _LOCATION.match(parent):
        raise invalid_argument(
            f"Invalid resource field value in the request: parent {parent!r} "
            "(expected projects/PROJECT/locations/LOCATION)"
        )


def split_queue_name(name: str) -> tuple[str, str]:
    """`projects/p/locations/l/queues/q` → (`projects/p/locations/l`, `q`)."""
    location, sep, queue_id = name.rpartition("/queues/")
    if not sep or not _LOCATION.match(location) or not _QUEUE_ID.match(queue_id):
        raise invalid_argument(
            f"Invalid queue name {name!r}: expected projects/PROJECT/locations/LOCATION/queues/"
            "QUEUE_ID with QUEUE_ID of 1-100 letters, digits or hyphens"
        )
    return location, queue_id


def split_task_name(name: str) -> tuple[str, str]:
    """`…/queues/q/tasks/t` → (queue name, `t`)."""
    queue, sep, task_id = name.rpartition("/tasks/")
    if not sep or not _TASK_ID.match(task_id):
        raise invalid_argument(
            f"Invalid task name {name!r}: expected QUEUE_NAME/tasks/TASK_ID with TASK_ID of "
            "1-500 letters, digits, hyphens or underscores"
        )
    split_queue_name(queue)
    return queue, task_id


def _seconds(duration: duration_pb2.Duration) -> float:
    return float(duration.seconds + duration.nanos / 1e9)


def _duration(seconds: float) -> duration_pb2.Duration:
    result = duration_pb2.Duration()
    result.FromNanoseconds(int(seconds * 1e9))
    return result


def apply_queue_defaults(queue: Pb) -> None:
    """Fill unset rate limits and retry settings with the service's defaults, then validate."""
    rate = queue.rate_limits
    if rate.max_dispatches_per_second == 0:
        rate.max_dispatches_per_second = MAX_DISPATCHES_PER_SECOND
    if rate.max_concurrent_dispatches == 0:
        rate.max_concurrent_dispatches = 1000
    if not 0 < rate.max_dispatches_per_second <= MAX_DISPATCHES_PER_SECOND:
        raise invalid_argument("rate_limits.max_dispatches_per_second must be in (0, 500]")
    if not 0 < rate.max_concurrent_dispatches <= MAX_CONCURRENT_DISPATCHES:
        raise invalid_argument("rate_limits.max_concurrent_dispatches must be in [1, 5000]")
    # max_burst_size is output only; the service derives it from the rate.
    rate.max_burst_size = max(1, min(100, int(rate.max_dispatches_per_second)))

    retry = queue.retry_config
    if not queue.HasField("retry_config") or retry.max_attempts == 0:
        retry.max_attempts = 100
    if not retry.HasField("min_backoff"):
        retry.min_backoff.CopyFrom(_duration(0.1))
    if not retry.HasField("max_backoff"):
        retry.max_backoff.CopyFrom(_duration(3600))
    # proto3 cannot tell 0 from unset: the service reads 0 as "unspecified" and picks 16.
    if retry.max_doublings == 0:
        retry.max_doublings = 16
    if retry.max_attempts < -1:
        raise invalid_argument("retry_config.max_attempts must be >= -1")
    if retry.max_doublings < 0:
        raise invalid_argument("retry_config.max_doublings must be >= 0")
    if _seconds(retry.min_backoff) < 0 or _seconds(retry.max_retry_duration) < 0:
        raise invalid_argument("retry_config durations must not be negative")
    if _seconds(retry.min_backoff) > _seconds(retry.max_backoff):
        raise invalid_argument("retry_config.min_backoff must not exceed max_backoff")


def retry_policy(queue: Pb) -> RetryPolicy:
    retry = queue.retry_config
    return RetryPolicy(
        max_attempts=retry.max_attempts,
        max_retry_duration_s=_seconds(retry.max_retry_duration),
        min_backoff_s=_seconds(retry.min_backoff),
        max_backoff_s=_seconds(retry.max_backoff),
        max_doublings=retry.max_doublings,
    )


def check_task(task: Pb, now: float, min_deadline_s: float) -> None:
    """Validate an HTTP task as CreateTask does and fill its dispatch deadline."""
    if task.HasField("app_engine_http_request"):
        raise invalid_argument("This emulator dispatches HTTP tasks only (http_request)")
    if not task.HasField("http_request"):
        raise invalid_argument("Task.http_request is required")
    request = task.http_request
    if not request.url.startswith(("http://", "https://")) or len(request.url) > MAX_URL_LENGTH:
        raise invalid_argument(
            "http_request.url must start with http:// or https:// and be at most 2083 characters"
        )
    if request.http_method == types.HttpMethod.HTTP_METHOD_UNSPECIFIED:
        request.http_method = types.HttpMethod.POST
    if request.body and request.http_method not in _BODY_METHODS:
        raise invalid_argument("http_request.body is allowed only for POST, PUT and PATCH")
    for name, value in request.headers.items():
        if not _HEADER_NAME.match(name) or "\r" in value or "\n" in value:
            raise invalid_argument(f"Invalid header {name!r}")
    if request.HasField("oidc_token") and not request.oidc_token.service_account_email:
        raise invalid_argument("http_request.oidc_token.service_account_email is required")
    if task.HasField("schedule_time") and task.schedule_time.seconds > now + MAX_SCHEDULE_AHEAD_S:
        raise invalid_argument("schedule_time must be at most 30 days in the future")
    if not task.HasField("dispatch_deadline"):
        task.dispatch_deadline.CopyFrom(_duration(DEFAULT_DISPATCH_DEADLINE_S))
    deadline = _seconds(task.dispatch_deadline)
    if not min_deadline_s <= deadline <= MAX_DISPATCH_DEADLINE_S:
        raise invalid_argument(
            f"dispatch_deadline must be between {min_deadline_s:g}s and 30 minutes"
        )
    if task.ByteSize() > MAX_TASK_BYTES:
        raise invalid_argument("Task size too large: the maximum task size is 1 MB")


def outgoing_headers(task: Pb) -> dict[str, str]:
    """The task's own headers less those Cloud Tasks overrides or removes."""
    headers = {
        name: value
        for name, value in task.http_request.headers.items()
        if not name.lower().startswith(_RESERVED_HEADERS)
    }
    if task.http_request.body and not any(h.lower() == "content-type" for h in headers):
        headers["Content-Type"] = "application/octet-stream"
    headers["User-Agent"] = "Google-Cloud-Tasks"
    return headers


def seconds(duration: duration_pb2.Duration) -> float:
    return _seconds(duration)
