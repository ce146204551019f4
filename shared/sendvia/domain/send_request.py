"""An email as the host product asks for it (POST /send), checked at the boundary with pydantic.
`domain.outgoing` composes it; this module is loaded by the functions that take a request body,
not by `deliver`, which sends what was stored, and `send` reads a plainly valid body without it
(domain.plain_request)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
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

from sendvia.domain.outgoing import MAX_RECIPIENTS
from sendvia.domain.plain_request import (
    MAX_ADDRESS,
    MAX_CONTACT_ID,
    MAX_SUBJECT,
    TOKEN,
    header_text,
    recipient,
)

Recipient = Annotated[StrictStr, Field(max_length=MAX_ADDRESS), AfterValidator(recipient)]


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: Annotated[StrictStr, Field(min_length=1, max_length=255), AfterValidator(header_text)]
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
    subject: Annotated[
        StrictStr, Field(min_length=1, max_length=MAX_SUBJECT), AfterValidator(header_text)
    ]
    text: StrictStr | None = None
    html: StrictStr | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    category: Annotated[StrictStr, Field(pattern=TOKEN.pattern)] = "general"
    contact_id: Annotated[StrictStr, Field(min_length=1, max_length=MAX_CONTACT_ID)] | None = None
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
