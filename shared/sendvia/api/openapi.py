"""The public contract as an OpenAPI 3.1 document, built from the code: the routers give the
paths and methods, pydantic the request bodies (the very models the handlers validate with),
api/schemas.py the answers. `CONTRACT` says, per route, what it takes and answers;
tests/unit/test_openapi.py holds it against the routers in both directions (every public route
documented, every documented route served) and validates the document. The local functions host
serves it at `/_openapi.json`; `docs/openapi.json` is the published copy (`make openapi`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from sendvia.api import schemas
from sendvia.api.schemas import ref

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


def _models() -> dict[str, type[BaseModel]]:
    from sendvia.api.oauth_start import StartRequest
    from sendvia.api.test_connection import ConfirmRequest, TestRequest
    from sendvia.domain.contacts import ContactBatch, ContactIn
    from sendvia.domain.mailbox_settings import MailboxSettingsIn
    from sendvia.domain.outgoing import SendRequest
    from sendvia.domain.tenant_patch import TenantPatch
    from sendvia.services.receiving import ReceiveChange

    return {
        m.__name__: m
        for m in (
            StartRequest,
            TestRequest,
            ConfirmRequest,
            ContactIn,
            ContactBatch,
            MailboxSettingsIn,
            SendRequest,
            TenantPatch,
            ReceiveChange,
        )
    }


PAGE = {
    "page_size": {"type": "string", "pattern": "^[0-9]{1,3}$"},
    "page_token": {"type": "string"},
}
KEY = {"Idempotency-Key": {"type": "string", "minLength": 1, "maxLength": 255}}
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
    ),
    ("send", "POST", "/{delivery_id}:cancel"): Operation(
        "Cancel a queued or scheduled email", (200, "DeliveryReply"), errors=(*MINE, 409)
    ),
    ("send", "POST", "/batch"): Operation(
        "Queue up to 500 emails",
        (202, "BatchResults"),
        BATCH,
        errors=(400, 401, 403, 413, 503),
        headers=KEY,
    ),
    ("activity", "GET", "/notifications"): Operation(
        "The caller's notifications",
        (200, "Notifications"),
        query={"unread": {"enum": ["true", "false"]}},
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
        "Create or replace a contact", (200, "Contact"), "ContactIn", errors=(*MINE, 409)
    ),
    ("activity", "DELETE", "/contacts/{contact_id}"): Operation(
        "Delete a contact and its correspondence (admin)", (204, None), errors=MINE
    ),
    ("activity", "POST", "/contacts:batch"): Operation(
        "Create or replace up to 500 contacts (admin)", (200, "ContactResults"), "ContactBatch"
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


def document(server: str = "http://127.0.0.1:8000") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every public route, for functions served under `server`."""
    from sendvia import api

    models = _models()
    components: dict[str, Any] = dict(schemas.SCHEMAS)
    for name, model in models.items():
        schema = model.model_json_schema(ref_template=f"{schemas.REF}{{model}}")
        components.update(schema.pop("$defs", {}))
        components[name] = schema
    paths: dict[str, dict[str, Any]] = {}
    for function in PUBLIC:
        for spec in api.router(function).routes:
            operation = CONTRACT[(function, spec.method, spec.template)]
            path = f"/{function}{'' if spec.template == '/' else spec.template}"
            paths.setdefault(path, {})[spec.method.lower()] = _operation(
                function, spec.handler.__name__, spec.template, operation
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sendvia",
            "version": "1",
            "description": "Send a tenant's email through its own mailbox, with the platform's "
            "sender as the fallback; receive correspondence with its contacts. Every function "
            "is a Cloud Function at its own URL; locally all are served under one host, "
            '`/<function>/…`. Errors are `{"error": {code, message, hint, field?}}`.',
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "firebase": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "Firebase ID token (tenant_id and role claims)",
                },
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Twilio-Email-Event-Webhook-Signature",
                    "description": "SendGrid's ECDSA signature, or SNS's RSA signature in the "
                    "body: the email service signs, no caller credential is sent.",
                },
            },
        },
    }


def _operation(function: str, handler: str, template: str, op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[^/]+$"},
        }
        for name in _path_names(template)
    ]
    parameters += [
        {"name": name, "in": "query", "required": name in op.required_query, "schema": schema}
        for name, schema in op.query.items()
    ]
    parameters += [
        {"name": name, "in": "header", "required": False, "schema": schema}
        for name, schema in op.headers.items()
    ]
    status, body = op.ok
    responses: dict[str, Any] = {
        str(status): {"description": op.summary}
        if body is None
        else {"description": op.summary, "content": {"application/json": {"schema": ref(body)}}}
    }
    if function == "send" and template == "/":
        responses["202"] = {
            "description": "Queued (or scheduled) for `deliver`",
            "content": {"application/json": {"schema": ref("DeliveryReply")}},
        }
    error = {"content": {"application/json": {"schema": ref("Error")}}}
    for code in sorted({*op.errors, 404, 405}):
        responses[str(code)] = {"description": _ERRORS.get(code, "Refused"), **error}
    if op.auth == "none":  # a browser's page, not JSON
        responses["400"] = {
            "description": "An unknown, used, expired or foreign sign-in state",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    operation: dict[str, Any] = {
        "operationId": f"{function}_{handler}",
        "summary": op.summary,
        "tags": [function],
        "parameters": parameters,
        "responses": responses,
        "security": {"user": [{"firebase": []}], "signature": [], "none": []}[op.auth],
    }
    if op.body is not None:
        schema = ref(op.body) if isinstance(op.body, str) else op.body
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return operation


def _path_names(template: str) -> list[str]:
    return re.findall(r"\{(\w+)\}", template)


_ERRORS = {
    400: "Bad input, naming the field",
    401: "No valid credentials",
    403: "Not allowed for this caller",
    404: "Not found (or another tenant's)",
    405: "Method not allowed on this path",
    409: "Conflict with the current state",
    413: "Too large",
    422: "Refused (a suppressed recipient, a provider's refusal)",
    429: "Too many tries, or the provider's limit",
    502: "The provider answered an error",
    503: "Not configured here, or the provider is unavailable",
}
