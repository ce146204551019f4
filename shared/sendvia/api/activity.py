"""`activity`: the caller's notifications (and, later, the delivery log and recipients)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sendvia.errors import NotFound
from sendvia.web import Call, Reply, Router

router = Router("activity")


def _audiences(call: Call) -> list[str]:
    return [f"user:{call.user.uid}", *(["admins"] if call.user.is_admin else [])]


def _json(item: dict[str, Any], uid: str) -> dict[str, Any]:
    def stamp(value: Any) -> Any:
        return value.isoformat() if isinstance(value, dt.datetime) else value

    return {
        "id": item["id"],
        "kind": item.get("kind"),
        "title": item.get("title"),
        "message": item.get("message"),
        "hint": item.get("hint"),
        "mailbox": item.get("mailbox"),
        "created_at": stamp(item.get("created_at")),
        "resolved_at": stamp(item.get("resolved_at")),
        "read": uid in item.get("read_by", []),
    }


@router.route("GET", "/notifications")
def notifications(call: Call) -> Reply:
    uid = call.user.uid
    items = call.runtime.activity.notifications(call.user.tenant_id, _audiences(call))
    listed = [_json(item, uid) for item in items]
    if call.request.args.get("unread") == "true":
        listed = [item for item in listed if not item["read"]]
    return Reply(200, {"notifications": listed})


@router.route("POST", "/notifications/{notification_id}:read")
def mark_read(call: Call, notification_id: str) -> Reply:
    item = call.runtime.activity.notification(call.user.tenant_id, notification_id)
    if item is None or item.get("audience") not in _audiences(call):
        raise NotFound(
            "There is no such notification.",
            code="notification_not_found",
            hint="List your notifications to see their ids.",
        )
    call.runtime.activity.mark_read(call.user.tenant_id, notification_id, call.user.uid)
    return Reply(
        200, _json({**item, "read_by": [*item.get("read_by", []), call.user.uid]}, call.user.uid)
    )
