"""What each public route takes and answers, for the OpenAPI document (api/openapi.py):
its summary, request body (a request model's name, or a schema), parameters, and answers by
status (schemas of api/schemas.py). tests/unit/test_openapi.py holds this table against the
routers in both directions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sendvia.api import schemas

# The functions whose routes are the public contract: the host product's (ID tokens), the
# browser's (oauth_callback) and the email services' (provider_events, signed).
PUBLIC = (
    "settings",
    "oauth_start",
    "oauth_callback",
    "test_connection",
    "send",
    "activity",
    "provider_events",
)


@dataclass(frozen=True)
class Operation:
    summary: str
    ok: tuple[int, str | None] = (200, None)  # status, and the schema of its body
    body: str | dict[str, Any] | None = None  # a request model's name, or a schema
    errors: tuple[int, ...] = (400, 401, 403)
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)
    auth: str = "user"  # user (Firebase ID token) | signature | none (a browser's redirect)
    required_query: tuple[str, ...] = ()
    # OpenAPI links from this answer to later calls (a stateful fuzzer follows them):
    # name → (operationId, {parameter: runtime expression}).
    links: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)


PAGE = {
    "page_size": {"type": "string", "pattern": "^(100|[1-9][0-9]?)$"},
    "page_token": {"type": "string", "pattern": "^([0-9a-f]{40})?$"},  # empty: the first page
}
DELIVERY_PAGE = {
    "page_size": {"type": "string", "pattern": "^(200|1[0-9]{2}|[1-9][0-9]?)$"},
    "page_token": {"type": "string", "pattern": "^([A-Za-z0-9_-]{1,100})?$"},
}
_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"}
# What each path parameter is; anything else is a 400 or a 404 naming it.
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "mailbox_id": {"type": "string", "pattern": "^(tenant|me|user-[A-Za-z0-9_-]{1,128})$"},
    "contact_id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"},
    "delivery_id": _ID,
    "notification_id": _ID,
    "address": {"type": "string", "format": "email", "maxLength": 254},
}
KEY = {"Idempotency-Key": {"type": "string", "minLength": 1, "maxLength": 255}}
BATCH_KEY = {
    "Idempotency-Key": {
        "type": "string",
        "maxLength": 255,
        "description": "Message i is keyed `{key}:{i}`; empty: no key",
    }
}
BATCH = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "messages": {
            "type": "array",
            "minItems": 1,
            "maxItems": 500,
            "items": {"$ref": f"{schemas.REF}SendRequest"},
        }
    },
}
REASON = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
}
CATEGORY = {
    "type": "object",
    "required": ["category"],
    "properties": {"category": {"type": "string", "minLength": 1, "maxLength": 100}},
}
EVENTS = {"type": "array", "items": {"type": "object"}}
SNS = {"type": "object"}
MINE = (400, 401, 403, 404)

CONTRACT: dict[tuple[str, str, str], Operation] = {
    ("settings", "GET", "/"): Operation(
        "The tenant's settings, mailboxes and route", (200, "Settings")
    ),
    ("settings", "PATCH", "/"): Operation(
        "Change the tenant's settings (admin)", (200, "Tenant"), "TenantPatch"
    ),
    ("settings", "GET", "/discover"): Operation(
        "Which way to connect an address", (200, "Discovery"), query={"address": {"type": "string"}}
    ),
    ("settings", "GET", "/members"): Operation(
        "Members and their mailboxes (admin)", (200, "Members")
    ),
    ("settings", "GET", "/mailboxes/{mailbox_id}"): Operation(
        "A mailbox", (200, "Mailbox"), errors=MINE
    ),
    ("settings", "POST", "/mailboxes/{mailbox_id}:revert"): Operation(
        "Use the platform's sender again", (200, "Mailbox"), errors=MINE
    ),
    ("settings", "POST", "/mailboxes/{mailbox_id}:resume"): Operation(
        "Back to the mailbox, after checking it", (200, "Mailbox"), errors=(*MINE, 409, 502, 503)
    ),
    ("settings", "POST", "/mailboxes/{mailbox_id}:revoke"): Operation(
        "Revoke the mailbox's access", (200, "Mailbox"), errors=MINE
    ),
    ("settings", "DELETE", "/mailboxes/{mailbox_id}"): Operation(
        "Forget the mailbox", (204, None), errors=MINE
    ),
    ("settings", "PUT", "/mailboxes/{mailbox_id}"): Operation(
        "Save an SMTP/IMAP mailbox", (200, "Mailbox"), "MailboxSettingsIn", errors=(*MINE, 409, 422)
    ),
    ("settings", "POST", "/mailboxes/{mailbox_id}:receive"): Operation(
        "Turn receiving on or off", (200, "Mailbox"), "ReceiveChange", errors=(*MINE, 409)
    ),
    ("settings", "GET", "/mailboxes/{mailbox_id}/folders"): Operation(
        "The mailbox's IMAP folders", (200, "Folders"), errors=(*MINE, 502, 503)
    ),
    ("oauth_start", "POST", "/"): Operation(
        "Begin Sign in with Google or Microsoft",
        (200, "OAuthStarted"),
        "StartRequest",
        errors=(400, 401, 403, 422, 503),
    ),
    ("oauth_callback", "GET", "/begin"): Operation(
        "The browser opens the sign-in link",
        (302, None),
        auth="none",
        errors=(400,),
        query={"state": {"type": "string"}},
        required_query=("state",),
    ),
    ("oauth_callback", "GET", "/"): Operation(
        "The browser's return from the provider's consent",
        (302, None),
        auth="none",
        errors=(400,),
        query={
            "state": {"type": "string"},
            "code": {"type": "string"},
            "error": {"type": "string"},
        },
    ),
    ("test_connection", "POST", "/"): Operation(
        "Test a mailbox and send the test email",
        (200, "TestResult"),
        "TestRequest",
        errors=(*MINE, 409, 422, 429),
    ),
    ("test_connection", "POST", "/confirm"): Operation(
        "Confirm a mailbox with the test email's code",
        (200, "Mailbox"),
        "ConfirmRequest",
        errors=(*MINE, 409, 422, 429),
    ),
    ("send", "POST", "/"): Operation(
        "Send now (200) or queue (202) an email",
        (200, "DeliveryReply"),
        "SendRequest",
        errors=(400, 401, 403, 409, 413, 422, 429, 502, 503),
        headers=KEY,
        links={
            "ReadDelivery": (
                "activity_one_delivery",
                {"delivery_id": "$response.body#/delivery/id"},
            ),
            "CancelDelivery": ("send_cancel", {"delivery_id": "$response.body#/delivery/id"}),
        },
    ),
    ("send", "POST", "/{delivery_id}:cancel"): Operation(
        "Cancel a queued or scheduled email", (200, "DeliveryReply"), errors=(*MINE, 409)
    ),
    ("send", "POST", "/batch"): Operation(
        "Queue up to 500 emails",
        (202, "BatchResults"),
        BATCH,
        errors=(400, 401, 403, 413, 503),
        headers=BATCH_KEY,
    ),
    ("activity", "GET", "/notifications"): Operation(
        "The caller's notifications",
        (200, "Notifications"),
        query={"unread": {"type": "string", "description": "`true`: unread ones only"}},
    ),
    ("activity", "POST", "/notifications/{notification_id}:read"): Operation(
        "Mark a notification read", (200, "Notification"), errors=MINE
    ),
    ("activity", "GET", "/deliveries"): Operation(
        "The delivery log, newest first",
        (200, "DeliveryPage"),
        query={
            **PAGE,
            "contact_id": {"type": "string"},
            "state": {"type": "string"},
            "category": {"type": "string"},
        },
    ),
    ("activity", "GET", "/deliveries/{delivery_id}"): Operation(
        "One delivery with its attempts", (200, "Delivery"), errors=MINE
    ),
    ("activity", "GET", "/recipients/{address}"): Operation(
        "An address's email status", (200, "Recipient"), errors=MINE
    ),
    ("activity", "POST", "/recipients/{address}:reactivate"): Operation(
        "Reactivate a suppressed address (admin)", (200, "Recipient"), REASON, errors=(*MINE, 409)
    ),
    ("activity", "POST", "/recipients/{address}:opt_in"): Operation(
        "Opt an address back in to a category (admin)",
        (200, "Recipient"),
        CATEGORY,
        errors=(*MINE, 409),
    ),
    ("activity", "GET", "/contacts/{contact_id}"): Operation(
        "A contact", (200, "Contact"), errors=MINE
    ),
    ("activity", "PUT", "/contacts/{contact_id}"): Operation(
        "Create or replace a contact",
        (200, "Contact"),
        "ContactIn",
        errors=(*MINE, 409, 429),
        links={
            "ReadContact": ("activity_contact", {"contact_id": "$response.body#/id"}),
            "ReadCorrespondence": (
                "activity_correspondence",
                {"contact_id": "$response.body#/id"},
            ),
            "DeleteContact": ("activity_delete_contact", {"contact_id": "$response.body#/id"}),
        },
    ),
    ("activity", "DELETE", "/contacts/{contact_id}"): Operation(
        "Delete a contact and its correspondence (admin)", (204, None), errors=MINE
    ),
    ("activity", "POST", "/contacts:batch"): Operation(
        "Create or replace up to 500 contacts (admin)",
        (200, "ContactResults"),
        "ContactBatch",
        errors=(400, 401, 403, 429),
    ),
    ("activity", "GET", "/contacts/{contact_id}/correspondence"): Operation(
        "Mail exchanged with the contact, newest first",
        (200, "Correspondence"),
        query=PAGE,
        errors=MINE,
    ),
    ("provider_events", "POST", "/sendgrid"): Operation(
        "SendGrid's Event Webhook (ECDSA-signed)",
        (200, "EventCounts"),
        EVENTS,
        auth="signature",
        errors=(400, 401, 503),
        headers={
            "X-Twilio-Email-Event-Webhook-Signature": {"type": "string"},
            "X-Twilio-Email-Event-Webhook-Timestamp": {"type": "string"},
        },
    ),
    ("provider_events", "POST", "/ses"): Operation(
        "Amazon SES notifications through SNS (RSA-signed)",
        (200, "EventCounts"),
        SNS,
        auth="signature",
        errors=(400, 401, 403),
    ),
}
