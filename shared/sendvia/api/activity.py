"""`activity`: the caller's notifications, the delivery log, and recipients' email status
(docs/api.md § activity)."""

from __future__ import annotations

import re

from sendvia import validation
from sendvia.api import presentation as show
from sendvia.services import activity as service
from sendvia.services import contacts, receiving, recipients
from sendvia.web import Call, Reply, Router

router = Router("activity")
_DELIVERY_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # a delivery's id
_MESSAGE_TOKEN = re.compile(r"^[0-9a-f]{40}$")  # a message's key (domain.incoming)


@router.route("GET", "/notifications")
def notifications(call: Call) -> Reply:
    unread = call.request.args.get("unread") == "true"
    found = service.notifications(call.runtime, call.user, unread=unread)
    return Reply(200, {"notifications": [show.notification(n, call.user.uid) for n in found]})


@router.route("POST", "/notifications/{notification_id}:read")
def mark_read(call: Call, notification_id: str) -> Reply:
    read = service.mark_read(call.runtime, call.user, notification_id)
    return Reply(200, show.notification(read, call.user.uid))


@router.route("GET", "/deliveries")
def deliveries(call: Call) -> Reply:
    """The delivery log, newest first; members see what they sent, admins everything."""
    args = call.request.args
    size, token = validation.page(args, default=50, most=200, token=_DELIVERY_TOKEN)
    filters = {name: args[name] for name in service.DELIVERY_FILTERS if args.get(name)}
    page, token = service.deliveries(call.runtime, call.user, filters, size, token)
    return Reply(200, {"deliveries": [show.delivery(d) for d in page], "next_page_token": token})


@router.route("GET", "/deliveries/{delivery_id}")
def one_delivery(call: Call, delivery_id: str) -> Reply:
    """One delivery with its attempts and last error."""
    found = service.delivery(call.runtime, call.user, delivery_id)
    return Reply(200, show.delivery_with_attempts(found))


@router.route("GET", "/recipients/{address}")
def recipient(call: Call, address: str) -> Reply:
    """An address's status with the email service, its opt-outs and its history."""
    return Reply(200, show.recipient(recipients.status(call.runtime, call.user, address)))


@router.route("POST", "/recipients/{address}:reactivate")
def reactivate(call: Call, address: str) -> Reply:
    changed = recipients.reactivate(call.runtime, call.user, address, call.json)
    return Reply(200, show.recipient(changed))


@router.route("POST", "/recipients/{address}:opt_in")
def opt_in(call: Call, address: str) -> Reply:
    changed = recipients.opt_in(call.runtime, call.user, address, call.json)
    return Reply(200, show.recipient(changed))


@router.route("GET", "/contacts/{contact_id}")
def contact(call: Call, contact_id: str) -> Reply:
    return Reply(200, contacts.get(call.runtime, call.user, contact_id).to_json())


@router.route("PUT", "/contacts/{contact_id}")
def put_contact(call: Call, contact_id: str) -> Reply:
    """Create or replace a contact's name and addresses (an address is one contact's at most)."""
    return Reply(200, contacts.put(call.runtime, call.user, contact_id, call.json()).to_json())


@router.route("DELETE", "/contacts/{contact_id}")
def delete_contact(call: Call, contact_id: str) -> Reply:
    contacts.delete(call.runtime, call.user, contact_id)
    return Reply(204)


@router.route("POST", "/contacts:batch")
def put_contacts(call: Call) -> Reply:
    """Up to 500 contacts; each saved or refused on its own."""
    return Reply(200, contacts.put_batch(call.runtime, call.user, call.json()))


@router.route("GET", "/contacts/{contact_id}/correspondence")
def correspondence(call: Call, contact_id: str) -> Reply:
    """Mail exchanged with the contact in the practice's receiving mailboxes, newest first."""
    size, after = validation.page(call.request.args, default=25, most=100, token=_MESSAGE_TOKEN)
    page, token = receiving.correspondence(call.runtime, call.user, contact_id, size, after)
    return Reply(200, {"messages": [show.message(m) for m in page], "next_page_token": token})
