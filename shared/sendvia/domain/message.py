"""Build RFC 5322 messages with the standard library, refusing header smuggling.

Every user-supplied header value is checked before use: control characters would split headers,
and on this interpreter (3.11.7) an RFC 2047 encoded word in user input is decoded and written raw
(CVE-2024-6923), so `=?` is refused too. The generated message is parsed again and its headers
compared with what was meant, so a library quirk cannot add a recipient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid

_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


class HeaderError(ValueError):
    """A header value that cannot be sent; `field` names which."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_header_value(field: str, value: str) -> str:
    if _UNSAFE.search(value):
        raise HeaderError(field, "must not contain line breaks or control characters")
    if "=?" in value:
        raise HeaderError(field, "must not contain encoded words (=?…?=)")
    return value


def clean_display_name(name: str) -> str:
    """A display name from a provider's profile, made safe: control characters and encoded
    words removed rather than refused (the user did not type it here)."""
    return _UNSAFE.sub(" ", name).replace("=?", "").strip()[:100]


@dataclass(frozen=True)
class Mailbox:
    name: str
    address: str

    def header(self) -> str:
        return formataddr((self.name, self.address))


def build_message(
    *,
    sender: Mailbox,
    to: list[str],
    subject: str,
    text: str,
    message_id_domain: str,
    reply_to: str | None = None,
) -> EmailMessage:
    """A plain-text message with Date and Message-ID, verified after building."""
    check_header_value("from", sender.name)
    check_header_value("from", sender.address)
    check_header_value("subject", subject)
    for address in to:
        check_header_value("to", address)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(display_name=sender.name, addr_spec=sender.address)
    message["To"] = ", ".join(to)
    if reply_to:
        message["Reply-To"] = check_header_value("reply_to", reply_to)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=message_id_domain)
    message.set_content(text)
    _verify(message, sender, to)
    return message


def _verify(message: EmailMessage, sender: Mailbox, to: list[str]) -> None:
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    senders = getaddresses([str(parsed.get("From", ""))])
    if [a for _, a in senders] != [sender.address]:
        raise HeaderError("from", "the generated From header does not match")
    recipients = {a.lower() for _, a in getaddresses([str(v) for v in parsed.get_all("To", [])])}
    wanted = {a.lower() for _, a in getaddresses(to)}
    if recipients != wanted or parsed.get_all("Cc") or parsed.get_all("Bcc"):
        raise HeaderError("to", "the generated recipients do not match")
