"""A clock a test moves by hand, and fresh ids."""

from __future__ import annotations

import datetime as dt
import itertools

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)
