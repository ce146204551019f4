"""`settings`: the tenant's email settings, mailboxes and members (API.md § settings)."""

from __future__ import annotations

from sendvia.services import mailboxes
from sendvia.services import settings as service
from sendvia.web import Call, Reply, Router

router = Router("settings")


@router.route("GET", "/")
def get_settings(call: Call) -> Reply:
    return Reply(200, service.overview(call.runtime, call.user))


@router.route("PATCH", "/")
def patch_settings(call: Call) -> Reply:
    return Reply(200, service.update_tenant(call.runtime, call.user, call.json))


@router.route("GET", "/members")
def get_members(call: Call) -> Reply:
    return Reply(200, service.members(call.runtime, call.user))


@router.route("GET", "/mailboxes/{mailbox_id}")
def get_mailbox(call: Call, mailbox_id: str) -> Reply:
    stored_id = mailboxes.resolve_id(call.user, mailbox_id, manage=False)
    return Reply(
        200, mailboxes.to_json(stored_id, mailboxes.load(call.runtime, call.user, stored_id))
    )


@router.route("POST", "/mailboxes/{mailbox_id}:revert")
def revert_mailbox(call: Call, mailbox_id: str) -> Reply:
    return Reply(200, mailboxes.revert(call.runtime, call.user, mailbox_id))


@router.route("POST", "/mailboxes/{mailbox_id}:resume")
def resume_mailbox(call: Call, mailbox_id: str) -> Reply:
    return Reply(200, mailboxes.resume(call.runtime, call.user, mailbox_id))


@router.route("POST", "/mailboxes/{mailbox_id}:revoke")
def revoke_mailbox(call: Call, mailbox_id: str) -> Reply:
    return Reply(200, mailboxes.revoke(call.runtime, call.user, mailbox_id))


@router.route("DELETE", "/mailboxes/{mailbox_id}")
def forget_mailbox(call: Call, mailbox_id: str) -> Reply:
    mailboxes.forget(call.runtime, call.user, mailbox_id)
    return Reply(204)


@router.route("PUT", "/mailboxes/{mailbox_id}")
def save_mailbox(call: Call, mailbox_id: str) -> Reply:
    from sendvia.services import smtp_mailboxes

    return Reply(200, smtp_mailboxes.save(call.runtime, call.user, mailbox_id, call.json()))


@router.route("GET", "/mailboxes/{mailbox_id}/folders")
def mailbox_folders(call: Call, mailbox_id: str) -> Reply:
    from sendvia.services import smtp_mailboxes

    return Reply(200, smtp_mailboxes.folders(call.runtime, call.user, mailbox_id))
