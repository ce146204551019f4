"""Taking in what a mailbox's sync found (DESIGN §8): messages to or from a contact become
correspondence on that contact; bounce and complaint reports in the Inbox are placed on the
delivery they are about and feed the same suppression as the email service's webhooks.

Only what is needed is fetched: a listing's headers decide, with one lookup of the addresses they
name, which messages concern a contact or may be a report; the rest are never downloaded. A
message is stored under its Message-ID's key, so seeing it again (Inbox and Sent, a second
mailbox, a replayed page, a resync) writes the same document.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

from sendvia.domain import provider_events as pe
from sendvia.domain import reports
from sendvia.domain.delivery import DeliveryKind
from sendvia.domain.incoming import Incoming, read
from sendvia.domain.mailbox import MailboxRecord
from sendvia.domain.outgoing import addresses
from sendvia.ports.receiving import Listed, MailReader
from sendvia.runtime import Runtime
from sendvia.services import provider_events

log = logging.getLogger("sendvia.intake")

FETCH_CHUNK = 10


@dataclass
class Taken:
    listed: int = 0
    fetched: int = 0
    stored: int = 0
    reports: int = 0
    placed: int = 0  # reports that named a delivery of this tenant
    unreadable: int = 0  # messages no parser could read: skipped, logged

    def add(self, other: Taken) -> None:
        for name in ("listed", "fetched", "stored", "reports", "placed", "unreadable"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _named(headers: Message | None) -> list[str]:
    if headers is None:
        return []
    from email.utils import getaddresses

    values = [str(v) for name in ("From", "To", "Cc") for v in headers.get_all(name) or []]
    return [a.lower() for _, a in getaddresses(values) if "@" in a]


def take_in(rt: Runtime, mailbox: MailboxRecord, reader: MailReader, items: list[Listed]) -> Taken:
    taken = Taken(listed=len(items))
    if not items:
        return taken
    own = mailbox.address.lower()
    named = {item.key: [a for a in _named(item.headers) if a != own] for item in items}
    owners = rt.contacts.owners(mailbox.tenant_id, sorted({a for v in named.values() for a in v}))
    wanted = [
        item
        for item in items
        if item.headers is None
        or any(a in owners for a in named[item.key])
        or (item.folder == "inbox" and reports.may_be_report(item.headers))
    ]
    records: list[tuple[str, Mapping[str, Any]]] = []
    # A few whole messages at a time: what is held in memory is bounded by FETCH_CHUNK
    # messages, whatever their attachments, not by a page.
    for start in range(0, len(wanted), FETCH_CHUNK):
        for fetched in reader.fetch(wanted[start : start + FETCH_CHUNK]):
            record = _take_one(rt, mailbox, fetched, owners, taken)
            if record is not None:
                records.append(record)
    if records:
        rt.correspondence.store(mailbox.tenant_id, records)
    taken.stored = len(records)
    return taken


def _take_one(
    rt: Runtime,
    mailbox: MailboxRecord,
    fetched: tuple[Listed, bytes],
    owners: dict[str, str],
    taken: Taken,
) -> tuple[str, Mapping[str, Any]] | None:
    """One fetched message: a report placed, correspondence to store, or nothing."""
    item, raw = fetched
    taken.fetched += 1
    own = mailbox.address.lower()
    try:
        message = message_from_bytes(raw, policy=policy.compat32)
        incoming = read(message, len(raw))
        report = (
            reports.read_report(
                message, incoming.message_id or item.key, incoming.date or rt.clock()
            )
            if item.folder == "inbox"
            else None
        )
    except Exception:  # anyone can send anything: one unreadable message blocks no sync
        taken.unreadable += 1
        log.warning("skipped an unreadable message in mailbox %s", mailbox.id)
        return None
    if report is not None:
        taken.reports += 1
        taken.placed += place_report(rt, mailbox.tenant_id, report)
        return None
    found = (
        rt.contacts.owners(mailbox.tenant_id, [a for a in incoming.addresses if a != own])
        if item.headers is None
        else {a: owners[a] for a in incoming.addresses if a in owners}
    )
    contacts = sorted(set(found.values()))
    if not contacts:
        return None
    return incoming.key(), correspondence_record(rt, mailbox, incoming, contacts)


def correspondence_record(
    rt: Runtime, mailbox: MailboxRecord, incoming: Incoming, contacts: list[str]
) -> dict[str, Any]:
    sender = incoming.sender
    outgoing = sender is not None and sender.address == mailbox.address.lower()
    return {
        "message_id": incoming.message_id,
        "thread_id": incoming.thread,
        "direction": "out" if outgoing else "in",
        "from": sender.to_json() if sender else None,
        "to": [p.to_json() for p in incoming.to],
        "cc": [p.to_json() for p in incoming.cc],
        "subject": incoming.subject,
        "date": incoming.date or rt.clock(),
        "text": incoming.text,
        "text_truncated": incoming.text_truncated,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in incoming.attachments
        ],
        "contact_ids": contacts,
        "mailbox_ids": [mailbox.id],
        "contact_mailboxes": [f"{c}|{mailbox.id}" for c in contacts],
        "synced_at": rt.clock(),
    }


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def place_report(rt: Runtime, tenant_id: str, report: reports.Report) -> int:
    """Record the report's events on the delivery of this tenant it is about (1), or change
    nothing when it names none (0): a report about another tenant's email, or one sendvia never
    sent, is not ours to act on."""
    for message_id in report.about:
        found = rt.recipients.find_delivery(message_id, tenant_id=tenant_id)
        if found is not None:
            break
    else:
        log.info("a %s report in a mailbox names no delivery of this tenant", report.kind)
        return 0
    delivery = rt.deliveries.get(tenant_id, found[1])
    if delivery is None:
        return 0
    to = tuple(addresses(list(delivery.to)))
    sent_to = {a.lower() for a in addresses([*delivery.to, *delivery.cc, *delivery.bcc])}
    for event in report.events(message_id, tenant_id, delivery.id, to):
        if event.address not in sent_to:
            # Anyone who saw the email's Message-ID can write a "report" naming any address:
            # only the email's own recipients are placed.
            log.warning("a %s report names an address its email was not sent to", report.kind)
            continue
        new, suppressed_now, before = rt.recipients.record(tenant_id, delivery.id, event)
        notifies = before is not None and before.kind is not DeliveryKind.TEST
        if new and notifies and before and pe.suppressing_status(event) is not None:
            provider_events.notify(
                rt,
                tenant_id,
                before,
                event,
                suppressed_now,
                once_as=f"mailbox-{event.kind.value}-{delivery.id}-{_digest(event.address)}",
            )
    return 1
