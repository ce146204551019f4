"""Bounce and complaint reports in their senders' real layouts (README.md), for the fakes to
deliver and the tests to read."""

from __future__ import annotations

import datetime as dt
import uuid
from email.utils import format_datetime
from pathlib import Path

HERE = Path(__file__).parent
SAMPLES = (
    "gmail_failure",
    "exchange_ndr",
    "postfix_dsn",
    "postfix_delayed",
    "arf_complaint",
    "qmail_bounce",
)


def render(sample: str, *, original_id: str, recipient: str, receiver: str) -> bytes:
    """The sample about the email `original_id` (with or without <>) to `recipient`, sent to
    `receiver`, with a Message-ID and Date of its own (a second report is a second message)."""
    text = (HERE / f"{sample}.eml").read_text()
    text = text.replace("ORIGINAL_ID", original_id.strip("<>"))
    text = text.replace("RECIPIENT", recipient).replace("RECEIVER", receiver)
    head, _, body = text.partition("\n\n")
    fresh = f"<{uuid.uuid4().hex}@reports.sendvia.test>"
    now = format_datetime(dt.datetime.now(dt.UTC))
    lines = []
    fresh_headers = {"message-id": f"Message-ID: {fresh}", "date": f"Date: {now}"}
    for line in head.splitlines():
        lines.append(fresh_headers.get(line.split(":", 1)[0].lower(), line))
    return ("\r\n".join([*lines, "", *body.splitlines()]) + "\r\n").encode()
