"""The retry schedule of our Cloud Tasks emulator against the examples in Google's docs."""

from __future__ import annotations

import pytest

from emulators.cloudtasks.retry import MAX_TASK_RETENTION_S, RetryPolicy, backoff, gives_up


def test_backoff_follows_the_documented_example():
    # RetryConfig docs: min 10 s, max 300 s, 3 doublings → 10, 20, 40, 80, 160, 240, 300, 300.
    policy = RetryPolicy(min_backoff_s=10, max_backoff_s=300, max_doublings=3)
    assert [backoff(policy, n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 240, 300, 300]


def test_backoff_without_doublings_grows_linearly():
    policy = RetryPolicy(min_backoff_s=1, max_backoff_s=100, max_doublings=0)
    assert [backoff(policy, n) for n in range(1, 5)] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("max_attempts", "max_duration", "attempts", "elapsed", "expected"),
    [
        (3, 0, 2, 0, False),
        (3, 0, 3, 0, True),  # attempts reached, duration unlimited
        (3, 60, 3, 10, False),  # attempts reached but duration not yet: both must be met
        (3, 60, 3, 61, True),
        (3, 60, 1, 61, False),  # duration passed but attempts not yet
        (-1, 60, 50, 59, False),  # unlimited attempts: the duration decides
        (-1, 60, 50, 60, True),
        (-1, 0, 10_000, MAX_TASK_RETENTION_S - 1, False),  # until the task retention limit
        (-1, 0, 10_000, MAX_TASK_RETENTION_S, True),
    ],
)
def test_gives_up_only_when_both_limits_are_met(
    max_attempts, max_duration, attempts, elapsed, expected
):
    policy = RetryPolicy(max_attempts=max_attempts, max_retry_duration_s=max_duration)
    assert gives_up(policy, attempts, elapsed) is expected
