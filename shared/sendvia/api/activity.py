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


_FILTERS = ("contact_id", "state", "category")


@router.route("GET", "/deliveries")
def deliveries(call: Call) -> Reply:
    """The delivery log, newest first; members see what they sent, admins everything."""
    from sendvia.errors import BadRequest
    from sendvia.services.send import to_json

    args = call.request.args
    filters = {name: args[name] for name in _FILTERS if args.get(name)}
    if not call.user.is_admin:
        filters["created_by"] = call.user.uid
    raw_size = args.get("page_size", "50")
    if not raw_size.isdigit() or not 1 <= int(raw_size) <= 200:
        raise BadRequest(
            "page_size must be a number from 1 to 200.",
            field="page_size",
            code="invalid_value",
            hint="Leave it out for 50.",
        )
    page, token = call.runtime.activity.list_deliveries(
        call.user.tenant_id, filters, int(raw_size), args.get("page_token") or None
    )
    return Reply(200, {"deliveries": [to_json(d["id"], d) for d in page], "next_page_token": token})


@router.route("GET", "/deliveries/{delivery_id}")
def one_delivery(call: Call, delivery_id: str) -> Reply:
    """One delivery with its attempts and last error."""
    from sendvia.services.send import to_json

    found = call.runtime.activity.get_delivery(call.user.tenant_id, delivery_id)
    if found is None or (not call.user.is_admin and found.get("created_by") != call.user.uid):
        raise NotFound(
            "There is no such delivery.",
            code="delivery_not_found",
            hint="List the deliveries to see their ids.",
        )
    shown = to_json(delivery_id, found)
    shown["last_error"] = found.get("last_error")
    shown["attempts_log"] = [
        {
            **attempt,
            "at": attempt["at"].isoformat()
            if isinstance(attempt.get("at"), dt.datetime)
            else attempt.get("at"),
        }
        for attempt in found.get("attempts_log", [])
    ]
    return Reply(200, shown)


@router.route("GET", "/recipients/{address}")
def recipient(call: Call, address: str) -> Reply:
    """An address's status with the email service, its opt-outs and its history."""
    from sendvia.services import recipients

    return Reply(200, recipients.status(call.runtime, call.user, address))


@router.route("POST", "/recipients/{address}:reactivate")
def reactivate(call: Call, address: str) -> Reply:
    from sendvia.services import recipients

    return Reply(200, recipients.reactivate(call.runtime, call.user, address, call.json))


@router.route("POST", "/recipients/{address}:opt_in")
def opt_in(call: Call, address: str) -> Reply:
    from sendvia.services import recipients

    return Reply(200, recipients.opt_in(call.runtime, call.user, address, call.json))
