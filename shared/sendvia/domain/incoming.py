"""A message found in a mailbox, read into what correspondence keeps (DESIGN §8).

Kept: who wrote to whom (From, To, Cc), the subject, the date, the Message-ID, the thread (the
first Message-ID of References, else In-Reply-To, else its own), a plain-text body of at most
BODY_LIMIT characters (the text part, or the HTML part's text when there is none), and each
attachment's name, type and size — never its content. Nothing here does I/O; a malformed message
is read as far as it goes, never raised on (a mailbox holds whatever anyone sent).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.errors import MessageError
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

BODY_LIMIT = 16 * 1024  # characters of text kept per message
HEADER_LIMIT = 998  # characters of a subject or name kept
MAX_ADDRESSES = 100  # per header
_MSGID = re.compile(r"<([^<>\s]+)>")
_TAG = re.compile(r"<[^>]+>")
_BLANKS = re.compile(r"\n\s*\n\s*\n+")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1>", re.IGNORECASE | re.DOTALL)


def message_ids(value: str | None) -> list[str]:
    """The Message-IDs in a header (References, In-Reply-To), without angle brackets."""
    if not value:
        return []
    found = _MSGID.findall(str(value))
    return found or ([str(value).strip()] if str(value).strip() else [])


def id_key(message_id: str) -> str:
    """How two Message-IDs are compared: without brackets or blanks, case-insensitively."""
    return message_id.strip().strip("<>").strip().lower()


@dataclass(frozen=True)
class Party:
    name: str
    address: str  # lower-cased

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "address": self.address}


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Incoming:
    message_id: str | None
    sender: Party | None
    to: tuple[Party, ...]
    cc: tuple[Party, ...]
    subject: str
    date: dt.datetime | None
    thread: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    text_truncated: bool
    attachments: tuple[Attachment, ...]
    content_type: str
    size: int

    @property
    def addresses(self) -> list[str]:
        """Everyone named in From, To and Cc."""
        people = [*([self.sender] if self.sender else []), *self.to, *self.cc]
        return list(dict.fromkeys(p.address for p in people))

    def key(self) -> str:
        """The id of its correspondence document: the same however often and wherever it is
        seen (Inbox and Sent, two mailboxes of the practice, a resync): its Message-ID with its
        sender and date, so another message reusing a Message-ID (a broken mailer, a forgery)
        is another document, not an overwrite."""
        sender = self.sender.address if self.sender else ""
        stamp = self.date.isoformat() if self.date else ""
        if self.message_id:
            basis = f"id:{id_key(self.message_id)}|{sender}|{stamp}"
        else:  # rare: no Message-ID; what the message says of itself stands in
            basis = f"nomid:{sender}|{','.join(p.address for p in self.to)}|{stamp}|{self.subject}"
        return hashlib.sha256(basis.encode()).hexdigest()[:40]


# What a malformed header or part can make the standard library raise while reading it.
_UNREADABLE = (MessageError, ValueError, LookupError, UnicodeError, TypeError, IndexError)


def parse(raw: bytes) -> Incoming:
    message = message_from_bytes(raw, policy=policy.compat32)
    return read(message, len(raw))


def read(message: Message, size: int = 0) -> Incoming:
    own_id = next(iter(message_ids(_header(message, "Message-ID"))), None)
    references = tuple(message_ids(_header(message, "References")))
    in_reply_to = tuple(message_ids(_header(message, "In-Reply-To")))
    text, truncated, attachments = _body(message)
    senders = _parties(message, "From")
    return Incoming(
        message_id=own_id,
        sender=senders[0] if senders else None,
        to=_parties(message, "To"),
        cc=_parties(message, "Cc"),
        subject=_decoded(_header(message, "Subject"))[:HEADER_LIMIT],
        date=_date(_header(message, "Date")),
        thread=(references or in_reply_to or (own_id,))[0],
        in_reply_to=in_reply_to,
        references=references,
        text=text,
        text_truncated=truncated,
        attachments=attachments,
        content_type=message.get_content_type(),
        size=size,
    )


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    return "" if value is None else str(value)


def _decoded(value: str) -> str:
    from email.header import decode_header, make_header

    try:
        text = str(make_header(decode_header(value)))
    except _UNREADABLE:
        text = value
    return " ".join(text.split())


def _parties(message: Message, name: str) -> tuple[Party, ...]:
    values = [_decoded(str(v)) for v in message.get_all(name) or []]
    try:
        pairs = getaddresses(values)[:MAX_ADDRESSES]
    except _UNREADABLE:
        return ()
    found = []
    for display, address in pairs:
        if "@" in address:
            found.append(Party(display.strip()[:HEADER_LIMIT], address.strip().lower()))
    return tuple(found)


def _date(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if stamp is None:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _payload_text(part: Message) -> str:
    try:
        payload: Any = part.get_payload(decode=True)
        charset = part.get_content_charset() or "utf-8"
    except _UNREADABLE:
        return ""
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(charset, errors="replace")
    except _UNREADABLE:  # an unknown or malformed charset
        return payload.decode("utf-8", errors="replace")


def html_text(markup: str) -> str:
    """Readable text of an HTML body: scripts and tags dropped, entities decoded."""
    text = _SCRIPT.sub(" ", markup)
    text = re.sub(r"<\s*(br|/p|/div|/tr|/li|/h\d)\b[^>]*>", "\n", text, flags=re.IGNORECASE)
    text = html.unescape(_TAG.sub("", text))
    return _BLANKS.sub("\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


def _body(message: Message) -> tuple[str, bool, tuple[Attachment, ...]]:
    plain: str | None = None
    markup: str | None = None
    attachments: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            filename = part.get_filename()
        except _UNREADABLE:
            filename = "unnamed"
        disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        kind = part.get_content_type()
        if filename or disposition == "attachment":
            try:
                payload: Any = part.get_payload(decode=True)
            except _UNREADABLE:
                payload = None
            attachments.append(
                Attachment(
                    _decoded(filename or "")[:255] or "unnamed",
                    kind,
                    len(payload) if isinstance(payload, bytes) else 0,
                )
            )
        elif kind == "text/plain" and plain is None:
            plain = _payload_text(part)
        elif kind == "text/html" and markup is None:
            markup = _payload_text(part)
    text = plain if plain is not None else html_text(markup or "")
    text = text.replace("\r\n", "\n").strip()
    return text[:BODY_LIMIT], len(text) > BODY_LIMIT, tuple(attachments[:100])
