"""`settings`: the tenant's email settings, mailboxes and members (API.md § settings)."""

from __future__ import annotations

from sendvia.services import settings as service
from sendvia.web import Call, Reply, Router

router = Router("settings")


@router.route("GET", "/")
def get_settings(call: Call) -> Reply:
    return Reply(200, service.overview(call.runtime, call.principal))


@router.route("PATCH", "/")
def patch_settings(call: Call) -> Reply:
    return Reply(200, service.update_tenant(call.runtime, call.principal, call.json))


@router.route("GET", "/members")
def get_members(call: Call) -> Reply:
    return Reply(200, service.members(call.runtime, call.principal))
