"""Bounce and complaint reports found in a mailbox's Inbox (RFC 3464, RFC 5965, and Gmail's and
Exchange's own), read into the email service's events so that they feed the same suppression as
the webhooks (domain.provider_events).

A report is recognised by its structure, never by its subject (Exchange localises it):
`multipart/report` with `report-type=delivery-status` or `feedback-report`; or, for a bounce in no
standard form, the signs an MTA leaves (a null sender's `Auto-Submitted`, `X-Failed-Recipients`,
`X-MS-Exchange-Message-Is-Ndr`, a mailer-daemon or postmaster From), whose addresses flufl.bounce
finds (it reads addresses only: the Message-ID and status are read here).

The email it is about is named, in order, by the Message-ID of the original it carries (the
message or its headers), `X-Original-Message-ID` (Gmail), and the report's own `In-Reply-To` and
`References`. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from enum import StrEnum

from sendvia.domain import provider_events as pe
from sendvia.domain.incoming import id_key, message_ids

PROVIDER = "mailbox"  # the events' `provider`: found in the sender's own mailbox
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_QUOTED_ID = re.compile(r"^Message-ID:\s*<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)
_DAEMON = re.compile(r"(mailer-daemon|postmaster|microsoftexchange)", re.IGNORECASE)


class Outcome(StrEnum):
    FAILED = "failed"  # permanent or given up: a bounce
    DELAYED = "delayed"  # still trying: recorded, suppresses nothing
    COMPLAINED = "complained"  # an abuse report (ARF)


@dataclass(frozen=True)
class Reported:
    address: str  # lower-cased; "" when the complainant was redacted
    outcome: Outcome
    status: str = ""  # e.g. 5.1.1
    diagnostic: str = ""

    @property
    def hard(self) -> bool:
        return self.outcome is Outcome.FAILED and self.status.startswith("5")


@dataclass(frozen=True)
class Report:
    recipients: tuple[Reported, ...]
    about: tuple[str, ...]  # Message-IDs that may name the original, best first
    report_id: str  # the report's own Message-ID (or a stand-in): its events' ids derive from it
    at: dt.datetime
    kind: str  # delivery-status | feedback-report | non-standard

    def events(
        self, original_id: str, tenant_id: str, delivery_id: str, to: tuple[str, ...]
    ) -> list[pe.ProviderEvent]:
        """The email service's events this report stands for, about one delivery (`to`: its
        recipients, for a complaint whose complainant was redacted: only a delivery to one
        address can be placed)."""
        found = []
        for reported in self.recipients:
            address = reported.address
            if not address and reported.outcome is Outcome.COMPLAINED and len(to) == 1:
                address = to[0].lower()
            if not address:
                continue
            kind = {
                Outcome.FAILED: pe.EventKind.BOUNCED,
                Outcome.DELAYED: pe.EventKind.DEFERRED,
                Outcome.COMPLAINED: pe.EventKind.COMPLAINED,
            }[reported.outcome]
            reason = " ".join(p for p in (reported.status, reported.diagnostic) if p)
            found.append(
                pe.ProviderEvent(
                    provider=PROVIDER,
                    event_id=f"{id_key(self.report_id)}/{address}/{reported.outcome.value}",
                    kind=kind,
                    address=address,
                    at=self.at,
                    raw_type=f"{self.kind} {reported.outcome.value}",
                    hard=reported.hard,
                    reason=reason[: pe.MAX_REASON],
                    message_id=original_id,
                    tenant_id=tenant_id,
                    delivery_id=delivery_id,
                )
            )
        return found


def may_be_report(headers: Message) -> bool:
    """Whether a message whose headers these are may be a report (worth fetching whole): its
    structure says so, or it comes from a mail system's own address (all a Graph listing
    shows of an Exchange NDR)."""
    kind = str(headers.get("Content-Type") or "").lower()
    sender = str(headers.get("From") or "")
    return kind.startswith("multipart/report") or bool(_DAEMON.search(sender))


def read_report(message: Message, report_id: str, at: dt.datetime) -> Report | None:
    """The report this message is, or None for an ordinary message."""
    if message.get_content_type() == "multipart/report":
        kind = str(message.get_param("report-type") or "").lower()
        if kind == "delivery-status":
            return _delivery_status(message, report_id, at)
        if kind == "feedback-report":
            return _feedback(message, report_id, at)
    if _looks_bounced(message):
        return _non_standard(message, report_id, at)
    return None


def _parts(message: Message) -> list[Message]:
    payload = message.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    return [HeaderParser().parsestr(b.strip() + "\n") for b in re.split(r"\n\s*\n", text) if b]


def _original_ids(message: Message) -> list[str]:
    found: list[str] = []
    for part in _parts(message):
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = _parts(part)
            if inner:
                found += message_ids(inner[0].get("Message-ID"))
        elif kind in ("text/rfc822-headers", "text/rfc822-header"):
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                headers = HeaderParser().parsestr(text.decode("utf-8", errors="replace"))
                found += message_ids(headers.get("Message-ID"))
    return found


def _about(message: Message, extra: list[str]) -> tuple[str, ...]:
    ids = [
        *_original_ids(message),
        *extra,
        *message_ids(message.get("In-Reply-To")),
        *message_ids(message.get("References")),
    ]
    return tuple(dict.fromkeys(i for i in ids if i))


def _address(value: str | None) -> str:
    text = str(value or "").strip()
    if ";" in text:  # "rfc822; user@example.org"
        text = text.split(";", 1)[1]
    text = text.strip().strip("<>").strip().lower()
    return text if "@" in text and " " not in text else ""


def _diagnostic(value: str | None) -> str:
    text = " ".join(str(value or "").split())
    if ";" in text[:12]:
        text = text.split(";", 1)[1].strip()  # "smtp; 550 5.1.1 …" / "smtp;550 …"
    return text[:300]


def _delivery_status(message: Message, report_id: str, at: dt.datetime) -> Report | None:
    part = next(
        (p for p in _parts(message) if p.get_content_type() == "message/delivery-status"), None
    )
    if part is None:
        return None
    blocks = _blocks(part)
    if not blocks:
        return None
    extra = message_ids(blocks[0].get("X-Original-Message-ID"))
    recipients = []
    for block in blocks[1:] or blocks:
        action = str(block.get("Action") or "").strip().lower()
        outcome = {"failed": Outcome.FAILED, "delayed": Outcome.DELAYED}.get(action)
        address = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        if outcome is None or not address:
            continue  # delivered, relayed, expanded: nothing went wrong
        status = _STATUS.search(str(block.get("Status") or ""))
        recipients.append(
            Reported(
                address,
                outcome,
                status.group(0) if status else ("5.0.0" if outcome is Outcome.FAILED else "4.0.0"),
                _diagnostic(block.get("Diagnostic-Code")),
            )
        )
    if not recipients:
        return None
    return Report(tuple(recipients), _about(message, extra), report_id, at, "delivery-status")


def _feedback(message: Message, report_id: str, at: dt.datetime) -> Report | None:
    part = next(
        (p for p in _parts(message) if p.get_content_type() == "message/feedback-report"), None
    )
    if part is None:
        return None
    fields = _blocks(part)
    if not fields:
        return None
    block = fields[0]
    feedback = str(block.get("Feedback-Type") or "abuse").strip().lower()
    if feedback not in ("abuse", "fraud", "other", "virus"):
        return None  # not-spam, auth-failure: no complaint about the email
    address = _address(block.get("Original-Rcpt-To") or block.get("Removal-Recipient"))
    diagnostic = f"Feedback-Type: {feedback}"
    return Report(
        (Reported(address, Outcome.COMPLAINED, "", diagnostic),),
        _about(message, []),
        report_id,
        at,
        "feedback-report",
    )


def _looks_bounced(message: Message) -> bool:
    if message.get("X-Failed-Recipients") or message.get("X-MS-Exchange-Message-Is-Ndr"):
        return True
    sender = str(message.get("From") or "")
    auto = str(message.get("Auto-Submitted") or "").lower().startswith("auto-replied")
    return bool(_DAEMON.search(sender)) and (auto or str(message.get("Return-Path")) == "<>")


def _non_standard(message: Message, report_id: str, at: dt.datetime) -> Report | None:
    """A bounce in no standard form: its failed addresses as flufl.bounce finds them."""
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(message)
    except Exception:
        temporary, permanent = frozenset(), frozenset()
    failed = {a.decode(errors="replace").lower() for a in permanent}
    failed |= {
        a.strip().lower() for a in str(message.get("X-Failed-Recipients") or "").split(",") if a
    }
    delayed = {a.decode(errors="replace").lower() for a in temporary} - failed
    recipients = [Reported(a, Outcome.FAILED, "5.0.0") for a in sorted(failed) if "@" in a]
    recipients += [Reported(a, Outcome.DELAYED, "4.0.0") for a in sorted(delayed) if "@" in a]
    if not recipients:
        return None
    return Report(
        tuple(recipients), _about(message, _quoted_ids(message)), report_id, at, "non-standard"
    )


def _quoted_ids(message: Message) -> list[str]:
    """Message-IDs of a copy quoted in the body as text (qmail, old Exim): `Message-ID: <…>`."""
    found = []
    for part in message.walk():
        if part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            text = payload.decode("utf-8", errors="replace")
            found += _QUOTED_ID.findall(text)
    return found
