"""Syncing a mailbox of 10,000 messages of which 500 involve contacts: what it costs per stored
message, against the least the provider's API allows, in the same run.

For a Gmail mailbox (the fake Google, which counts Gmail's quota units exactly as Google's
documentation prices each call) and an SMTP/IMAP mailbox (the stack's Dovecot):

- Firestore writes (and reads) per stored message, against 1 write: the message's document;
- Gmail quota units per stored message, against the API's minimum: one `messages.get` (5 units)
  per message and one `messages.list` (5 units) per 500 ids — the whole backfill as one search;
- Graph requests per stored message for a Microsoft mailbox (the fake Microsoft counts them),
  against one `$value` a message and a search page per 250;
- peak memory of the functions host during the sync, against its resident size before it;
- then 200 new messages (20 with contacts) arrive: the incremental sync's units and writes per
  stored message. Its minimum is not 5 a stored message: every new Inbox message must be looked
  at (a bounce report concerns no contact), so the floor is a history page (2 units), 5 units
  of headers per new message and 5 per stored one.

The backfill runs as it does in production: its first task from the queue, the rest chained by
the sync itself within SENDVIA_SYNC_BUDGET_S.

    make bench                              (starts a stack of its own)
    python bench/sync.py                    (against a running stack: source .stack/env)
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from google.cloud import firestore  # noqa: E402

from bench.cost_per_email import meter  # noqa: E402
from emulators import stack  # noqa: E402
from tests.integration.api import call  # noqa: E402
from tests.integration.clinic import connect, make_clinic  # noqa: E402
from tests.integration.receiving import (  # noqa: E402
    Receiving,
    fill_maildir,
    queue,
    receiving_mailbox,
    stack_profile,
)

GMAIL_GET, GMAIL_LIST, GMAIL_HISTORY, LIST_PAGE = 5, 5, 2, 500


def host_pid() -> int:
    state = stack._read_state(stack.state_dir(stack_profile()))
    assert state is not None
    return int(state["processes"]["functions"]["pid"])


def resident_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} for {pid}")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM back to the current RSS


def mailbox_messages(own: str, contacts: list[str], total: int) -> list[bytes]:
    every = total // len(contacts)
    found = []
    for n in range(total):
        if n % every == 0 and n // every < len(contacts):
            person = contacts[n // every]
            sender, to = (own, person) if n % 3 == 0 else (person, own)
        else:
            sender, to = f"news{n}@shop.example", own
        body = f"Message {n}. " * 40  # about 500 bytes of text
        found.append(
            (
                f"From: {sender}\r\nTo: {to}\r\nSubject: Message {n}\r\n"
                f"Date: Mon, 01 Jun 2026 09:00:00 +0000\r\n"
                f"Message-ID: <bench-{n}-{uuid.uuid4().hex[:8]}@mail.test>\r\n\r\n{body}\r\n"
            ).encode()
        )
    return found


def add_contacts(clinic: object, addresses: list[str]) -> None:
    for start in range(0, len(addresses), 500):
        chunk = addresses[start : start + 500]
        answer = call(
            "POST",
            "activity",
            "/contacts:batch",
            bearer=clinic.admin,  # type: ignore[attr-defined]
            body={
                "contacts": [{"id": f"c{start + i}", "addresses": [a]} for i, a in enumerate(chunk)]
            },
        )
        assert answer.json()["saved"] == len(chunk), answer.text


def last_run(reading: Receiving) -> dict:  # type: ignore[type-arg]
    return dict((reading.state_ref.get().to_dict() or {}).get("last_run") or {})


def wait_done(reading: Receiving, previous: str | None, timeout: float = 900) -> None:
    """Until a run after `previous` finished with the backfill done and nothing more to do."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = reading.state_ref.get().to_dict() or {}
        backfill = state.get("backfill") or {}
        run = state.get("last_run") or {}
        if run.get("id") != previous and backfill.get("state") == "done" and not run.get("more"):
            return
        time.sleep(0.5)
    raise SystemExit("the sync did not finish")


def measure(
    name: str, reading: Receiving, units: Callable[[], int] | None, stored_before: int
) -> dict:  # type: ignore[type-arg]
    pid = host_pid()
    reset_peak(pid)
    before_rss = resident_kib(pid, "VmRSS")
    meter(reset=True)
    units_before = units() if units else 0
    started = time.monotonic()
    previous = last_run(reading).get("id")
    queue().enqueue_sync(reading.clinic.tenant, "tenant", uuid.uuid4().hex)
    wait_done(reading, previous)
    elapsed = time.monotonic() - started
    counts = meter()
    stored = len(reading.stored()) - stored_before
    return {
        "name": name,
        "stored": stored,
        "seconds": elapsed,
        "writes": counts["firestore_writes"],
        "reads": counts["firestore_reads"],
        "units": (units() - units_before) if units else None,
        "peak_kib": resident_kib(pid, "VmHWM"),
        "base_kib": before_rss,
    }


def report(row: dict, minimum_units: float | None) -> None:  # type: ignore[type-arg]
    stored = max(row["stored"], 1)
    line = (
        f"{row['name']:<28} stored {row['stored']:>5}  {row['seconds']:6.1f} s  "
        f"writes/stored {row['writes'] / stored:5.2f} (floor 1.00, ×{row['writes'] / stored:.2f})"
        f"  reads/stored {row['reads'] / stored:5.2f}"
    )
    if row["units"] is not None and minimum_units:
        per = row["units"] / stored
        line += (
            f"  {row.get('unit', 'units')}/stored {per:6.2f} (API minimum {minimum_units:.2f}, "
            f"×{per / minimum_units:.2f})"
        )
    grown = row["peak_kib"] - row["base_kib"]
    line += (
        f"  peak RSS {row['peak_kib'] / 1024:.0f} MiB (+{grown / 1024:.1f} MiB over "
        f"{row['base_kib'] / 1024:.0f} MiB, ×{row['peak_kib'] / row['base_kib']:.2f})"
    )
    print(line, flush=True)


def gmail(total: int, involved: int) -> None:
    clinic = make_clinic(uuid.uuid4().hex[:12])
    account = clinic.google("bench")
    assert connect(clinic, account, receive=True).query["sendvia_result"] == "connected"
    reading = Receiving(
        clinic, account, "", firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    )
    fake = os.environ["FAKE_GOOGLE_URL"]

    def units() -> int:
        return int(
            requests.get(f"{fake}/_fake/accounts/{account}/units", timeout=10).json()["units_spent"]
        )

    def arrive(raws: list[bytes]) -> None:
        for start in range(0, len(raws), 1000):
            encoded = [base64.urlsafe_b64encode(r).decode() for r in raws[start : start + 1000]]
            requests.post(
                f"{fake}/_fake/accounts/{account}/inbox", json={"raws": encoded}, timeout=120
            ).raise_for_status()

    people = [f"client{n}@example.org" for n in range(involved)]
    arrive(mailbox_messages(account, people, total))
    add_contacts(clinic, people)
    row = measure(f"gmail backfill {total}", reading, units, 0)
    pages = -(-involved // LIST_PAGE)
    report(row, GMAIL_GET + GMAIL_LIST * pages / max(row["stored"], 1))
    arrive(mailbox_messages(account, people[:20], 200))
    again = measure("gmail incremental 200", reading, units, row["stored"])
    stored = max(again["stored"], 1)
    report(again, (GMAIL_HISTORY + GMAIL_GET * 200 + GMAIL_GET * stored) / stored)


def microsoft(total: int, involved: int) -> None:
    from tests.integration import microsoft_flow
    from tests.integration.google_flow import Browser

    clinic = make_clinic(uuid.uuid4().hex[:12])
    call("PATCH", "settings", bearer=clinic.admin, body={"integrations": {"microsoft": True}})
    account = f"bench-{clinic.suffix}@contoso.example"
    started = microsoft_flow.start(clinic.admin, receive=True)
    outcome = microsoft_flow.connect(Browser(), started, account)
    assert outcome.query["sendvia_result"] == "connected"
    reading = Receiving(
        clinic, account, "", firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    )
    fake = os.environ["FAKE_MICROSOFT_URL"]

    def requests_made() -> int:
        answer = requests.get(f"{fake}/_fake/accounts/{account}/reads", timeout=10)
        return int(answer.json()["reads"])

    people = [f"client{n}@example.org" for n in range(involved)]
    raws = mailbox_messages(account, people, total)
    for start in range(0, len(raws), 1000):
        encoded = [base64.urlsafe_b64encode(r).decode() for r in raws[start : start + 1000]]
        requests.post(
            f"{fake}/_fake/accounts/{account}/inbox", json={"raws": encoded}, timeout=120
        ).raise_for_status()
    add_contacts(clinic, people)
    row = measure(f"graph backfill {total}", reading, requests_made, 0)
    row["unit"] = "requests"
    # The least Graph allows: one $value a message, one search page (≤ 250) a 250 of them.
    report(row, 1 + 1 / 250)


def imap(total: int, involved: int) -> None:
    clinic = make_clinic(uuid.uuid4().hex[:12])
    reading = receiving_mailbox(clinic, os.environ["GOOGLE_CLOUD_PROJECT"])
    people = [f"client{n}@example.org" for n in range(involved)]
    fill_maildir(reading.address, mailbox_messages(reading.address, people, total))
    add_contacts(clinic, people)
    row = measure(f"imap backfill {total}", reading, None, 0)
    report(row, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=500)
    args = parser.parse_args()
    print(f"sync of a mailbox of {args.messages} messages, {args.contacts} with contacts")
    gmail(args.messages, args.contacts)
    microsoft(args.messages, args.contacts)
    imap(args.messages, args.contacts)


if __name__ == "__main__":
    main()
