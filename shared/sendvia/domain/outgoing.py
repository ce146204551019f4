"""An email to send, as the host product asks for it, checked at the boundary and composed.

Recipients: at most 100 per message (Gmail's limit for the API and SMTP: support.google.com/a/
answer/166852). Attachments: at most 10 MB decoded in all (413 beyond), since Gmail's API takes
25 MB per message after base64 and many providers take far less. Every header value a person typed
is checked (no CR/LF, no encoded words: CVE-2024-6923 on this interpreter), and the composed
message is parsed again to verify its From, To and Cc.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import formataddr, formatdate, getaddresses, parseaddr
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

from sendvia.domain.message import HeaderError, Mailbox, check_header_value

MAX_RECIPIENTS = 100
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# A queued email waits in its Firestore document, whose limit is 1 MiB.
MAX_QUEUED_BYTES = 900 * 1024
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


def addresses(recipients: list[str]) -> list[str]:
    return [address for _, address in getaddresses(recipients)]


def compose(
    request: SendRequest, *, sender: Mailbox, reply_to: str | None, message_id: str
) -> EmailMessage:
    """The message as sent: no Bcc header (the envelope carries Bcc recipients); its
    Message-ID is the delivery's, the same for every attempt."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender.header()
    message["To"] = ", ".join(request.to)
    if request.cc:
        message["Cc"] = ", ".join(request.cc)
    if reply_to:
        message["Reply-To"] = check_header_value("reply_to", reply_to)
    message["Subject"] = request.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    if request.text is not None:
        message.set_content(request.text)
    if request.html is not None:
        if request.text is None:
            message.set_content(request.html, subtype="html")
        else:
            message.add_alternative(request.html, subtype="html")
    for attachment in request.attachments:
        maintype, subtype = attachment.content_type.split("/", 1)
        message.add_attachment(
            attachment.data(), maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    _verify(message, sender.address, request)
    return message


def _verify(message: EmailMessage, sender: str, request: SendRequest) -> None:
    # Read back as a receiving server would; the headers are what could have been smuggled.
    # Their raw values (compat32) are all the addresses need: a fifth of the CPU of building
    # header objects (policy.default), for every email sent (bench/pipeline.py).
    parsed = BytesHeaderParser(policy=policy.compat32).parsebytes(message.as_bytes())
    if addresses([str(parsed.get("From", ""))]) != [sender]:
        raise HeaderError("from", "the composed From header does not match")
    for header, wanted in (("To", request.to), ("Cc", request.cc)):
        found = {a.lower() for a in addresses([str(v) for v in parsed.get_all(header, [])])}
        if found != {a.lower() for a in addresses(wanted)}:
            raise HeaderError(header.lower(), "the composed recipients do not match")
    if parsed.get_all("Bcc"):
        raise HeaderError("bcc", "a Bcc header must not be sent")


def with_bcc(message: EmailMessage, bcc: list[str]) -> bytes:
    """For the Gmail API, which delivers to a Bcc header and strips it from what it sends."""
    raw = message.as_bytes()
    if not bcc:
        return raw
    header = f"Bcc: {', '.join(addresses(bcc))}\r\n".encode()
    return header + raw
