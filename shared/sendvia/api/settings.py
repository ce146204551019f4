"""`settings`: the tenant's email settings, mailboxes and members (docs/api.md § settings)."""

from __future__ import annotations

from sendvia.api import presentation as show
from sendvia.services import discovery, mailboxes
from sendvia.services import settings as service
from sendvia.services.progress import progress_of
from sendvia.web import Call, Reply, Router

router = Router("settings")


@router.route("GET", "/")
def get_settings(call: Call) -> Reply:
    found = service.overview(call.runtime, call.user)
    return Reply(
        200,
        {
            "tenant": found.tenant.to_json(),
            "mailboxes": {
                "tenant": show.mailbox(found.tenant_mailbox) if found.tenant_mailbox else None,
                "me": show.mailbox(found.own_mailbox) if found.own_mailbox else None,
            },
            "route": found.route.to_json(),
            "may_send": found.may_send,
        },
    )


@router.route("PATCH", "/")
def patch_settings(call: Call) -> Reply:
    return Reply(200, service.update_tenant(call.runtime, call.user, call.json))


@router.route("GET", "/discover")
def discover(call: Call) -> Reply:
    """Which way to connect an address: google, microsoft, or smtp with a preset."""
    address = call.request.args.get("address", "")
    return Reply(200, discovery.discover(call.runtime, address).to_json())


@router.route("GET", "/members")
def get_members(call: Call) -> Reply:
    return Reply(200, service.members(call.runtime, call.user))


@router.route("GET", "/mailboxes/{mailbox_id}")
def get_mailbox(call: Call, mailbox_id: str) -> Reply:
    stored_id = mailboxes.resolve_id(call.user, mailbox_id, manage=False)
    found = mailboxes.load(call.runtime, call.user, stored_id)
    live = progress_of(call.runtime, found.tenant_id, [found.id] if found.receive else [])
    return Reply(200, show.mailbox(found, live.get(found.id)))


@router.route("POST", "/mailboxes/{mailbox_id}:revert")
def revert_mailbox(call: Call, mailbox_id: str) -> Reply:
    return Reply(200, show.mailbox(mailboxes.revert(call.runtime, call.user, mailbox_id)))


@router.route("POST", "/mailboxes/{mailbox_id}:resume")
def resume_mailbox(call: Call, mailbox_id: str) -> Reply:
    return Reply(200, show.mailbox(mailboxes.resume(call.runtime, call.user, mailbox_id)))


@router.route("POST", "/mailboxes/{mailbox_id}:revoke")
def revoke_mailbox(call: Call, mailbox_id: str) -> Reply:
    return Reply(200, show.mailbox(mailboxes.revoke(call.runtime, call.user, mailbox_id)))


@router.route("DELETE", "/mailboxes/{mailbox_id}")
def forget_mailbox(call: Call, mailbox_id: str) -> Reply:
    mailboxes.forget(call.runtime, call.user, mailbox_id)
    return Reply(204)


@router.route("PUT", "/mailboxes/{mailbox_id}")
def save_mailbox(call: Call, mailbox_id: str) -> Reply:
    from sendvia.services.smtp_mailboxes import save

    saved = save(call.runtime, call.user, mailbox_id, call.json())
    return Reply(200, show.mailbox(saved))


@router.route("POST", "/mailboxes/{mailbox_id}:receive")
def receive_mailbox(call: Call, mailbox_id: str) -> Reply:
    """Turn receiving (sync of correspondence and bounces) on or off: `{"receive": bool}`."""
    from sendvia.services.receiving import set_receive

    changed = set_receive(call.runtime, call.user, mailbox_id, call.json())
    return Reply(200, show.mailbox(changed))


@router.route("GET", "/mailboxes/{mailbox_id}/folders")
def mailbox_folders(call: Call, mailbox_id: str) -> Reply:
    from sendvia.services.smtp_mailboxes import folders

    return Reply(200, folders(call.runtime, call.user, mailbox_id))
