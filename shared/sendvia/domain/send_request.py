"""An email as the host product asks for it (POST /send), checked at the boundary with pydantic.
`domain.outgoing` composes it; this module is loaded by the functions that take a request body,
not by `deliver`, which sends what was stored."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from email.utils import formataddr, parseaddr
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    model_validator,
)

from sendvia.domain.message import check_header_value
from sendvia.domain.outgoing import MAX_RECIPIENTS

_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_TOKEN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def _recipient(value: str) -> str:
    check_header_value("recipient", value)
    name, address = parseaddr(value)
    if not _ADDRESS.match(address):
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


def _header_text(value: str) -> str:
    check_header_value("header", value)
    return value


Recipient = Annotated[StrictStr, Field(max_length=320), AfterValidator(_recipient)]


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: Annotated[
        StrictStr, Field(min_length=1, max_length=255), AfterValidator(_header_text)
    ]
    content_type: Annotated[
        StrictStr, Field(pattern=r"^[a-z0-9.+-]+/[a-z0-9.+-]+$", max_length=127)
    ] = "application/octet-stream"
    content: StrictStr

    def data(self) -> bytes:
        try:
            return base64.b64decode(self.content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("content is not base64") from exc


class SendRequest(BaseModel):
    """POST /send."""

    model_config = ConfigDict(extra="forbid")

    to: Annotated[list[Recipient], Field(min_length=1)]
    cc: list[Recipient] = Field(default_factory=list)
    bcc: list[Recipient] = Field(default_factory=list)
    subject: Annotated[StrictStr, Field(min_length=1, max_length=998), AfterValidator(_header_text)]
    text: StrictStr | None = None
    html: StrictStr | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    category: Annotated[StrictStr, Field(pattern=_TOKEN.pattern)] = "general"
    contact_id: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    # now: a manual send, answered with the outcome; queue: a triggered one, sent by `deliver`.
    mode: Literal["now", "queue"] = "now"
    # A time (with its zone) for a scheduled send: implies the queue.
    send_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _complete(self) -> SendRequest:
        if self.text is None and self.html is None:
            raise ValueError("give text, html or both")
        if self.send_at is not None:
            self.mode = "queue"
        if len(self.to) + len(self.cc) + len(self.bcc) > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients (to, cc and bcc together)")
        return self

    def attachment_bytes(self) -> int:
        return sum(len(a.data()) for a in self.attachments)

    def fingerprint(self) -> str:
        """Identifies the payload, for telling a retry from a different request (idempotency)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()
