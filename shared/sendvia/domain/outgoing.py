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
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, getaddresses
from typing import Any, Protocol

from sendvia.domain.message import HeaderError, Mailbox, check_header_value

MAX_RECIPIENTS = 100
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# A queued email waits in its Firestore document, whose limit is 1 MiB.
MAX_QUEUED_BYTES = 900 * 1024


class Part(Protocol):
    """An attachment as compose needs it."""

    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    def data(self) -> bytes: ...


class Content(Protocol):
    """An email's content as compose and the attempts need it: a SendRequest validated at the
    boundary (domain.send_request), or what `deliver` reads back from the delivery it stored."""

    @property
    def to(self) -> list[str]: ...
    @property
    def cc(self) -> list[str]: ...
    @property
    def bcc(self) -> list[str]: ...
    @property
    def subject(self) -> str: ...
    @property
    def text(self) -> str | None: ...
    @property
    def html(self) -> str | None: ...
    @property
    def attachments(self) -> Sequence[Part]: ...
    @property
    def category(self) -> str: ...


@dataclass(frozen=True)
class StoredPart:
    filename: str
    content_type: str
    content: str  # base64, as the request gave it

    def data(self) -> bytes:
        try:
            return base64.b64decode(self.content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("content is not base64") from exc


@dataclass(frozen=True)
class StoredContent:
    """The content of a queued delivery as `send` stored it (SendRequest.model_dump, validated
    then): `deliver` sends it without loading pydantic, whose import and models cost its cold
    start about 30 ms (bench/cold_start.py). compose still checks every header it writes."""

    to: list[str]
    subject: str
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    text: str | None = None
    html: str | None = None
    attachments: list[StoredPart] = field(default_factory=list)
    category: str = "general"

    @classmethod
    def from_json(cls, content: Mapping[str, Any]) -> StoredContent:
        """ValueError (as pydantic's own) when the stored content is not a complete email."""
        try:
            return cls(
                to=[str(a) for a in content["to"]],
                subject=str(content["subject"]),
                cc=[str(a) for a in content.get("cc") or []],
                bcc=[str(a) for a in content.get("bcc") or []],
                text=content.get("text"),
                html=content.get("html"),
                attachments=[
                    StoredPart(
                        str(a["filename"]),
                        str(a.get("content_type") or "application/octet-stream"),
                        str(a["content"]),
                    )
                    for a in content.get("attachments") or []
                ],
                category=str(content.get("category") or "general"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"the stored content is incomplete: {exc}") from exc


# An address and nothing else, in the dot-atom form nearly every address takes (RFC 5322
# §3.4.1): what the parser answers for it, and what the library writes for it, is itself.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*")
# A display name of words (atoms) one space apart, which From carries unquoted.
_PLAIN_NAME = re.compile(rf"(?:{_ATOM}(?: {_ATOM})*)?")


def addresses(recipients: Sequence[str]) -> list[str]:
    """The addresses of the recipients as written ("Ann <ann@example.com>" → ann@example.com),
    each a few times per email: plain ones are taken as they are, the rest parsed."""
    if _plain_addresses(recipients):
        return list(recipients)
    return [address for _, address in getaddresses(recipients)]


@dataclass(frozen=True)
class Composed:
    message: EmailMessage  # for a provider that reads its parts (Graph's JSON drafts)
    raw: bytes  # as sent: what was read back and checked
    message_id: str


def compose(
    request: Content, *, sender: Mailbox, reply_to: str | None, message_id: str
) -> Composed:
    """The message as sent: no Bcc header (the envelope carries Bcc recipients); its
    Message-ID is the delivery's, the same for every attempt.

    What the library would write as it was given — an ASCII header on one line, plain
    addresses, a text of short lines — is stored as written (`_put`, `_put_text`), the same
    bytes without parsing each header into objects first: most of compose's CPU, for every
    email (bench/pipeline.py). Everything else goes through the library's encoding, and the
    result is read back and checked (`_verify`); a message written as given needs only its
    From read (`_verify_as_written`). tests/unit/test_message.py proves the bytes equal to
    the library's, and both checks to the same verdict."""
    message = EmailMessage(policy=policy.SMTP)
    stored = [
        _put(message, "From", sender.header(), plain=sender.name.isascii()),
        _put(message, "To", ", ".join(request.to), plain=_plain_addresses(request.to)),
    ]
    if request.cc:
        stored.append(
            _put(message, "Cc", ", ".join(request.cc), plain=_plain_addresses(request.cc))
        )
    if reply_to:
        check_header_value("reply_to", reply_to)
        stored.append(_put(message, "Reply-To", reply_to, plain=_plain_addresses([reply_to])))
    subject = request.subject
    stored.append(_put(message, "Subject", subject, plain=_PLAIN_SUBJECT.fullmatch(subject)))
    stored.append(_put(message, "Date", format_datetime(dt.datetime.now(dt.UTC)), plain=True))
    stored.append(_put(message, "Message-ID", message_id, plain=True))
    body = _put_content(message, request)
    if body is not None and all(stored):
        raw = _as_written(message, body)
        _verify_as_written(sender)
    else:
        raw = message.as_bytes()
        _verify(raw, sender.address, request)
    return Composed(message, raw, message_id)


# What the library writes as given: ASCII, one line of at most 78 characters with its name.
_LINE = 78
_PLAIN_SUBJECT = re.compile(r"[!-~](?:[ -~]*[!-~])?")  # no space at either end, nor runs to fold
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _plain_addresses(addresses: Sequence[str]) -> bool:
    return all(PLAIN_ADDRESS.fullmatch(a) for a in addresses)


def _put(message: EmailMessage, name: str, value: str, *, plain: object) -> bool:
    """A header as written when it is plain and fits on one line (True); else the library's own
    parsing, encoding and folding."""
    if (
        plain
        and value.isascii()
        and len(name) + 2 + len(value) <= _LINE
        and "  " not in value
        and not _CONTROL.search(value)  # a line break is the library's to refuse
    ):
        message.set_raw(name, value)
        return True
    message[name] = value
    return False


def _put_content(message: EmailMessage, request: Content) -> bytes | None:
    """The body's bytes when it went as written (`_put_text`)."""
    if not request.attachments and (request.text is None) != (request.html is None):
        text, subtype = (
            (request.text, "plain") if request.text is not None else (request.html, "html")
        )
        body = _put_text(message, text, subtype) if text is not None else None
        if body is not None:
            return body
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
    return None


def _as_written(message: EmailMessage, body: bytes) -> bytes:
    """What the library's generator writes for a message stored as written: each header on its
    line, a blank line, and the one-part body with CRLF line ends (policy.SMTP)."""
    head = "".join(f"{name}: {value}\r\n" for name, value in message.raw_items())
    return head.encode("ascii") + b"\r\n" + body.replace(b"\n", b"\r\n")


def _put_text(message: EmailMessage, text: str, subtype: str) -> bytes | None:
    """A one-part body as `set_content` writes it when its lines are short: 7bit when ASCII,
    8bit otherwise (policy.SMTP); its bytes. None for longer lines, which the library
    encodes."""
    lines = text.encode("utf-8", "surrogateescape").splitlines()
    if any(len(line) > _LINE for line in lines):
        return None
    body = b"\n".join(lines) + b"\n"
    message.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    message.set_raw("Content-Transfer-Encoding", "7bit" if body.isascii() else "8bit")
    message.set_raw("MIME-Version", "1.0")
    message.set_payload(body.decode("ascii", "surrogateescape"))
    return body


def _verify_as_written(sender: Mailbox) -> None:
    """`_verify` for a message whose every header went as written (`_put`): each is one line
    of printable ASCII, so a server reads back exactly the values given — To and Cc plain
    addresses, which the parser finds as they are (`addresses`), and no Bcc, which compose
    never writes. What is left to read is the From a display name could disguise: a fifth of
    `_verify`'s CPU (tests/unit/test_message.py holds both to the same verdict). A name of
    words and a plain address ("Riverside Clinic <desk@clinic.example>") is read as written."""
    if _PLAIN_NAME.fullmatch(sender.name) and PLAIN_ADDRESS.fullmatch(sender.address):
        return
    if addresses([sender.header()]) != [sender.address]:
        raise HeaderError("from", "the composed From header does not match")


def _verify(raw: bytes, sender: str, request: Content) -> None:
    # Read back as a receiving server would; the headers are what could have been smuggled.
    # Their raw values (compat32) are all the addresses need: a fifth of the CPU of building
    # header objects (policy.default), for every email sent (bench/pipeline.py).
    parsed = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    if addresses([str(parsed.get("From", ""))]) != [sender]:
        raise HeaderError("from", "the composed From header does not match")
    for header, wanted in (("To", request.to), ("Cc", request.cc)):
        found = {a.lower() for a in addresses([str(v) for v in parsed.get_all(header, [])])}
        if found != {a.lower() for a in addresses(wanted)}:
            raise HeaderError(header.lower(), "the composed recipients do not match")
    if parsed.get_all("Bcc"):
        raise HeaderError("bcc", "a Bcc header must not be sent")


def with_bcc(raw: bytes, bcc: list[str]) -> bytes:
    """For the Gmail API, which delivers to a Bcc header and strips it from what it sends."""
    if not bcc:
        return raw
    header = f"Bcc: {', '.join(addresses(bcc))}\r\n".encode()
    return header + raw
