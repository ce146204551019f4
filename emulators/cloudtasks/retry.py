"""When Cloud Tasks retries a failed attempt, and when it gives up (pure functions).

cloud.google.com/tasks/docs/reference/rest/v2/RetryConfig: the interval starts at min_backoff,
doubles max_doublings times, then grows linearly by 2^max_doublings * min_backoff, and is capped
at max_backoff. Example from the docs: min 10s, max 300s, 3 doublings →
10, 20, 40, 80, 160, 240, 300, 300 …
Retrying stops only when max_attempts (including the first; -1 = unlimited) and
max_retry_duration (from the first attempt; 0 = unlimited) are *both* satisfied.
"""

from __future__ import annotations

from dataclasses import dataclass

# Without any limit a task is retried until the maximum task retention (31 days) runs out.
MAX_TASK_RETENTION_S = 31 * 24 * 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 100
    max_retry_duration_s: float = 0.0
    min_backoff_s: float = 0.1
    max_backoff_s: float = 3600.0
    max_doublings: int = 16


def backoff(policy: RetryPolicy, failures: int) -> float:
    """Seconds to wait after the `failures`-th failed attempt (1 = the first attempt failed)."""
    step = max(failures - 1, 0)
    doublings = min(step, policy.max_doublings)
    interval = policy.min_backoff_s * (2**doublings)
    if step > policy.max_doublings:
        interval = (
            policy.min_backoff_s * (2**policy.max_doublings) * (step - policy.max_doublings + 1)
        )
    return float(min(interval, policy.max_backoff_s))


def gives_up(policy: RetryPolicy, attempts: int, seconds_since_first_attempt: float) -> bool:
    """Whether a task that has failed `attempts` times is deleted instead of retried."""
    attempts_done = policy.max_attempts != -1 and attempts >= policy.max_attempts
    duration_done = (
        policy.max_retry_duration_s == 0
        or seconds_since_first_attempt >= policy.max_retry_duration_s
    )
    if policy.max_attempts == -1 and policy.max_retry_duration_s == 0:
        return seconds_since_first_attempt >= MAX_TASK_RETENTION_S
    if policy.max_attempts == -1:
        return seconds_since_first_attempt >= policy.max_retry_duration_s
    return attempts_done and duration_done
