"""The JSON Schemas of what the public functions answer (OpenAPI 3.1 components), beside the
request models, which pydantic describes itself (api/openapi.py). `presentation.py` builds these
objects; the schemathesis run checks every answer against them."""

from __future__ import annotations

from typing import Any

REF = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"{REF}{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object with these properties, every one of `required` present."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": sorted(required),
    }


STRING: dict[str, Any] = {"type": "string"}
TEXT_OR_NULL = nullable(STRING)
STAMP = nullable({"type": "string", "format": "date-time"})
STRINGS: dict[str, Any] = {"type": "array", "items": STRING}
ANY_OBJECT: dict[str, Any] = {"type": "object"}

SCHEMAS: dict[str, dict[str, Any]] = {
    # What went wrong last (a mailbox's `last_error`, a delivery's `error` and `last_error`):
    # a code and the words for a person; a delivery's also names its class.
    "Problem": obj(
        {},
        {
            "code": STRING,
            "message": TEXT_OR_NULL,
            "hint": TEXT_OR_NULL,
            "class": STRING,
            "at": STAMP,
        },
    ),
    "Error": obj(
        {
            "error": obj(
                {"code": STRING, "message": STRING, "hint": STRING},
                {"field": STRING},
            )
        }
    ),
    "Tenant": obj(
        {
            "id": STRING,
            "product_name": STRING,
            "integrations": obj(
                {
                    "gmail": {"type": "boolean"},
                    "smtp_imap": {"type": "boolean"},
                    "microsoft": {"type": "boolean"},
                }
            ),
            "mailbox_policy": {"enum": ["tenant", "per_user"]},
            "on_broken": {"enum": ["fail", "default"]},
            "members_may_send": {"type": "boolean"},
            "return_origins": STRINGS,
            "correspondence": {"enum": ["practice", "own_mailbox"]},
            "backfill_days": {"type": "integer", "minimum": 0},
        }
    ),
    "Server": obj(
        {
            "host": STRING,
            "port": {"type": "integer"},
            "security": {"enum": ["starttls", "tls"]},
            "username": STRING,
            "password": {"const": "\u2022" * 14},
        }
    ),
    "SyncProgress": obj(
        {
            "state": {"enum": ["pending", "ok", "behind", "failing"]},
            "cause": nullable(obj({"code": STRING, "message": STRING})),
            "last_synced_at": STAMP,
            "backfill": obj(
                {
                    "state": {"enum": ["pending", "running", "done"]},
                    "done": {"type": "integer"},
                    "estimated_total": {"type": "integer"},
                    "since": STAMP,
                }
            ),
        }
    ),
    "Mailbox": obj(
        {
            "id": STRING,
            "provider": {"enum": ["gmail", "microsoft", "smtp"]},
            "address": STRING,
            "display_name": STRING,
            "state": {"enum": ["pending_confirmation", "active", "broken", "reverted"]},
            "smtp": nullable(ref("Server")),
            "imap": nullable(ref("Server")),
            "sent_folder": TEXT_OR_NULL,
            "receive": {"type": "boolean"},
            "scopes": STRINGS,
            "last_error": nullable(ref("Problem")),
            "connected_at": STAMP,
            "confirmed_at": STAMP,
            "last_tested_at": STAMP,
            "last_synced_at": STAMP,
            "sync": nullable(ref("SyncProgress")),
            "warnings": {"type": "array", "items": ANY_OBJECT},
        }
    ),
    "Route": obj(
        {
            "via": {"enum": ["mailbox", "default"]},
            "mailbox": TEXT_OR_NULL,
            "from": STRING,
            "reason": STRING,
        }
    ),
    "Settings": obj(
        {
            "tenant": ref("Tenant"),
            "mailboxes": obj({"tenant": nullable(ref("Mailbox")), "me": nullable(ref("Mailbox"))}),
            "route": ref("Route"),
            "may_send": {"type": "boolean"},
        }
    ),
    "Members": obj(
        {
            "members": {
                "type": "array",
                "items": obj(
                    {
                        "uid": STRING,
                        "email": STRING,
                        "name": STRING,
                        "role": {"enum": ["admin", "member"]},
                        "last_seen_at": TEXT_OR_NULL,
                        "mailbox": nullable(
                            obj(
                                {
                                    "state": STRING,
                                    "provider": STRING,
                                    "address": STRING,
                                    "receive": {"type": "boolean"},
                                }
                            )
                        ),
                        "last_synced_at": TEXT_OR_NULL,
                        "sync": nullable(ref("SyncProgress")),
                    }
                ),
            }
        }
    ),
    "Discovery": obj(
        {"provider": {"enum": ["google", "microsoft", "smtp"]}, "preset": TEXT_OR_NULL}
    ),
    "Folders": obj(
        {
            "folders": {
                "type": "array",
                "items": obj({"name": STRING, "special_use": TEXT_OR_NULL}),
            },
            "suggested_sent": TEXT_OR_NULL,
        }
    ),
    "OAuthStarted": obj(
        {
            "authorization_url": {"type": "string", "format": "uri"},
            "mailbox": STRING,
            "expires_at": {"type": "string", "format": "date-time"},
        }
    ),
    "TestResult": obj(
        {
            "ok": {"type": "boolean"},
            "state": STRING,
            "delivery_id": TEXT_OR_NULL,
            "steps": {
                "type": "array",
                "items": obj(
                    {"name": STRING, "ok": {"type": "boolean"}},
                    {
                        "reply": TEXT_OR_NULL,
                        "cause": TEXT_OR_NULL,
                        "hint": TEXT_OR_NULL,
                        "elapsed_ms": {"type": "integer"},
                    },
                ),
            },
            "confirmation": nullable({"const": "sent"}),
        }
    ),
    "Delivery": obj(
        {
            "id": STRING,
            "kind": {"enum": ["manual", "triggered", "scheduled", "test"]},
            "category": TEXT_OR_NULL,
            "contact_id": TEXT_OR_NULL,
            "state": {
                "enum": [
                    "scheduled",
                    "queued",
                    "sending",
                    "sent",
                    "sent_unconfirmed",
                    "failed",
                    "suppressed",
                    "cancelled",
                    "delivered",
                    "bounced",
                    "complained",
                ]
            },
            "route": nullable(ANY_OBJECT),
            "to": STRINGS,
            "cc": STRINGS,
            "subject": STRING,
            "attempts": {"type": "integer"},
            "send_at": STAMP,
            "sent_at": STAMP,
            "message_id": TEXT_OR_NULL,
            "provider_message_id": TEXT_OR_NULL,
            "error": nullable(ref("Problem")),
            "delivery_note": TEXT_OR_NULL,
            "warnings": {"type": "array", "items": ANY_OBJECT},
        },
        {
            "last_error": nullable(ref("Problem")),
            "attempts_log": {"type": "array", "items": ANY_OBJECT},
        },
    ),
    "DeliveryReply": obj({"delivery": ref("Delivery")}),
    "DeliveryPage": obj(
        {
            "deliveries": {"type": "array", "items": ref("Delivery")},
            "next_page_token": TEXT_OR_NULL,
        }
    ),
    "BatchResults": obj(
        {
            "results": {
                "type": "array",
                "items": {"anyOf": [ref("DeliveryReply"), ref("Error")]},
            }
        }
    ),
    "Notification": obj(
        {
            "id": STRING,
            "kind": TEXT_OR_NULL,
            "title": TEXT_OR_NULL,
            "message": TEXT_OR_NULL,
            "hint": TEXT_OR_NULL,
            "mailbox": TEXT_OR_NULL,
            "delivery_id": TEXT_OR_NULL,
            "created_at": STAMP,
            "resolved_at": STAMP,
            "read": {"type": "boolean"},
        }
    ),
    "Notifications": obj({"notifications": {"type": "array", "items": ref("Notification")}}),
    "Recipient": obj(
        {
            "address": STRING,
            "status": {"enum": ["active", "hard_bounced", "complained", "inactive"]},
            "status_since": STAMP,
            "status_reason": STRING,
            "opted_out": STRINGS,
            "events": {"type": "array", "items": ANY_OBJECT},
        }
    ),
    "Contact": obj(
        {
            "id": STRING,
            "name": STRING,
            "addresses": STRINGS,
            "learned_addresses": STRINGS,
            "updated_at": STAMP,
        }
    ),
    "ContactResults": obj(
        {
            "contacts": {
                "type": "array",
                "items": {"anyOf": [ref("Contact"), obj({"id": STRING, "error": ANY_OBJECT})]},
            },
            "saved": {"type": "integer"},
            "refused": {"type": "integer"},
        }
    ),
    "Person": obj({"name": STRING, "address": STRING}),
    "Message": obj(
        {
            "id": STRING,
            "direction": {"enum": ["in", "out"]},
            "from": nullable(ref("Person")),
            "to": {"type": "array", "items": ref("Person")},
            "cc": {"type": "array", "items": ref("Person")},
            "subject": STRING,
            "date": STAMP,
            "message_id": TEXT_OR_NULL,
            "thread_id": TEXT_OR_NULL,
            "mailbox": TEXT_OR_NULL,
            "mailboxes": STRINGS,
            "text": {"type": "string", "maxLength": 16384},
            "text_truncated": {"type": "boolean"},
            "attachments": {
                "type": "array",
                "items": obj(
                    {
                        "filename": TEXT_OR_NULL,
                        "content_type": TEXT_OR_NULL,
                        "size": nullable({"type": "integer"}),
                    }
                ),
            },
        }
    ),
    "Correspondence": obj(
        {
            "messages": {"type": "array", "items": ref("Message")},
            "next_page_token": TEXT_OR_NULL,
        }
    ),
    "EventCounts": obj(
        {
            "recorded": {"type": "integer"},
            "duplicates": {"type": "integer"},
            "unmatched": {"type": "integer"},
        }
    ),
}
