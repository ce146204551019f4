"""One step of an API mailbox's connection test (Gmail, Microsoft): run it, time it, and record
its outcome in the TestRun, a failure with its cause (under the name a person recognises) and
the provider's hint."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from sendvia.domain.failures import ProviderFailure
from sendvia.ports import TestRun


def run_step(
    run: TestRun,
    name: str,
    action: Callable[[], Any],
    describe: Callable[[Any], str],
    *,
    hint: Callable[[ProviderFailure], str],
    causes: Mapping[str, str],
) -> Any:
    """The action's result, or None when it failed (the TestRun keeps the first failure)."""
    started = time.perf_counter()
    try:
        result = action()
    except ProviderFailure as failure:
        run.failure = run.failure or failure
        step = {
            "ok": False,
            "reply": failure.reply,
            "cause": causes.get(failure.code, failure.code),
            "hint": hint(failure),
        }
        result = None
    else:
        step = {"ok": True, "reply": describe(result), "cause": None, "hint": None}
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    run.steps.append({"name": name, **step, "elapsed_ms": elapsed_ms})
    return result
