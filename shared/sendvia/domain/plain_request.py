"""A send request that is plainly valid, read without pydantic.

Most bodies `send` gets are the common shape: addresses, a subject, a text or HTML, perhaps a
category, a contact and a mode. For those pydantic and the model (domain.send_request) cost a
fresh instance about 70 ms before its first email (bench/cold_start.py), so `plain_request`
reads them by hand, with the same checks of each address and header. Anything else — an
attachment, a time to send at, a field of the wrong type, any problem at all — goes to the
model, which stays the contract: its errors, its schema. What this accepts, the model accepts
into the same request: tests/unit/test_plain_request.py compares them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any, TypeGuard

from sendvia.domain.message import HeaderError, check_header_value
from sendvia.domain.outgoing import MAX_RECIPIENTS, PLAIN_ADDRESS, StoredContent

ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
TOKEN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MAX_ADDRESS = 320
MAX_SUBJECT = 998
MAX_CONTACT_ID = 200
_FIELDS = frozenset(
    {"to", "cc", "bcc", "subject", "text", "html", "attachments", "category", "contact_id"}
    | {"mode", "send_at"}
)


def recipient(value: str) -> str:
    """An address as sent: `Name <address>` made canonical, or the address (ValueError, or
    HeaderError for what a header must not carry)."""
    check_header_value("recipient", value)
    if PLAIN_ADDRESS.fullmatch(value) and ADDRESS.match(value):
        return value  # an ASCII address alone: what parsing it would give (_parsed)
    return _parsed(value)


def _parsed(value: str) -> str:
    name, address = parseaddr(value)
    if not ADDRESS.match(address):
        raise ValueError(f"{value!r} is not an email address")
    # SMTPUTF8 (RFC 6531) is not offered by every server a mailbox or the relay uses, and an
    # address that cannot be sent must be refused here, not retried as a temporary failure: an
    # internationalised domain can be given in its ASCII form (xn--…), a local part cannot.
    if not address.isascii():
        raise ValueError(
            f"{address!r} has non-ASCII characters; give an internationalised domain in its "
            "ASCII (xn--) form"
        )
    return formataddr((name, address)) if name else address


def header_text(value: str) -> str:
    check_header_value("header", value)
    return value


@dataclass(frozen=True)
class PlainRequest(StoredContent):
    """What SendRequest gives for a plainly valid body, field for field: the content it stores
    (never with attachments), and how it is to be sent."""

    contact_id: str | None = None
    mode: str = "now"
    send_at: None = None

    def attachment_bytes(self) -> int:
        return 0

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        return {
            "to": list(self.to),
            "cc": list(self.cc),
            "bcc": list(self.bcc),
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "attachments": [],
            "category": self.category,
            "contact_id": self.contact_id,
            "mode": self.mode,
            "send_at": None,
        }

    def fingerprint(self) -> str:
        """As SendRequest.fingerprint: a retry is told from another email whichever way the
        body was read."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()


def plain_request(body: Any) -> PlainRequest | None:
    """The request when `body` is plainly valid; None for anything the model must judge."""
    if type(body) is not dict or not body.keys() <= _FIELDS:
        return None
    if body.get("attachments", []) != [] or body.get("send_at") is not None:
        return None  # the model reads attachments and times
    try:
        to, cc, bcc = (_addresses(body, name) for name in ("to", "cc", "bcc"))
        subject = header_text(_string(body, "subject", longest=MAX_SUBJECT))
        text, html = _optional(body, "text"), _optional(body, "html")
        category = _string(body, "category", default="general")
        contact_id = _optional(body, "contact_id", longest=MAX_CONTACT_ID)
        mode = _string(body, "mode", default="now")
    except (ValueError, HeaderError):
        return None
    if (
        not to
        or len(to) + len(cc) + len(bcc) > MAX_RECIPIENTS
        or (text is None and html is None)
        or not TOKEN.fullmatch(category)
        or mode not in ("now", "queue")
    ):
        return None
    return PlainRequest(to, subject, cc, bcc, text, html, [], category, contact_id, mode)


def _addresses(body: dict[str, Any], name: str) -> list[str]:
    given = body.get(name, [])
    if type(given) is not list or not all(is_unicode(a) for a in given):
        raise ValueError(name)
    if any(len(a) > MAX_ADDRESS for a in given):
        raise ValueError(name)
    return [recipient(a) for a in given]


def _string(
    body: dict[str, Any], name: str, *, longest: int | None = None, default: str | None = None
) -> str:
    value = body.get(name, default)
    if not is_unicode(value) or not value or (longest is not None and len(value) > longest):
        raise ValueError(name)
    return value


def _optional(body: dict[str, Any], name: str, *, longest: int | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not is_unicode(value) or (longest is not None and not 0 < len(value) <= longest):
        raise ValueError(name)
    return value


def is_unicode(value: Any) -> TypeGuard[str]:
    """A string of Unicode characters: a lone surrogate (JSON's "\\ud800") is not one, and the
    model refuses it."""
    if type(value) is not str:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
