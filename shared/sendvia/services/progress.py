"""A receiving mailbox's sync as people see it (the mailbox's settings, the members list), live
from its sync state: `state` (ok, behind, failing, or pending before its first sync), the cause
of a failure, when it last synced, and the backfill's {state, done, estimated_total, since}."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sendvia.domain.mailbox import as_json
from sendvia.runtime import Runtime


def progress(state: Mapping[str, Any] | None) -> dict[str, Any]:
    state = state or {}
    backfill = state.get("backfill") or {}
    shown: dict[str, Any] = as_json(
        {
            "state": state.get("status", "pending"),
            "cause": state.get("cause"),
            "last_synced_at": state.get("last_synced_at"),
            "backfill": {
                "state": backfill.get("state", "pending"),
                "done": backfill.get("done", 0),
                "estimated_total": backfill.get("estimated_total", 0),
                "since": backfill.get("since"),
            },
        }
    )
    return shown


def progress_of(rt: Runtime, tenant_id: str, receiving: list[str]) -> dict[str, dict[str, Any]]:
    """`progress` of the tenant's receiving mailboxes with these ids, read at once."""
    if not receiving:
        return {}
    states = rt.sync_states.get_many(tenant_id, receiving)
    return {m: progress(states.get(m)) for m in receiving}
