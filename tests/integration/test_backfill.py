"""Backfill: a mailbox of 5,000 messages of which 300 involve contacts stores exactly those 300,
shows its progress, and resumes where it stopped after the functions host is killed in the
middle of it (SIGKILL, the way an instance dies)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from emulators import stack
from tests.integration.api import call
from tests.integration.clinic import Clinic
from tests.integration.helpers import eventually
from tests.integration.receiving import fill_maildir, receiving_mailbox, stack_profile

MESSAGES = 5000
CONTACTS = 300
SMALL_BUDGET = {"SENDVIA_SYNC_BUDGET_S": "1"}  # a page or two per task: many tasks, a long walk


def _message(sender: str, to: str, subject: str, n: int) -> bytes:
    day = 1 + n % 28
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Mon, {day:02d} Jun 2026 09:{n % 60:02d}:00 +0000\r\n"
        f"Message-ID: <backfill-{n}-{uuid.uuid4().hex[:8]}@mail.test>\r\n\r\nMessage {n}.\r\n"
    ).encode()


@pytest.fixture
def small_budget():  # type: ignore[no-untyped-def]
    profile = stack_profile()
    stack.kill_functions(profile, SMALL_BUDGET)
    yield profile
    stack.kill_functions(profile, {"SENDVIA_SYNC_BUDGET_S": "20"})


def test_a_backfill_of_5000_messages_stores_the_300_with_contacts_and_resumes_after_a_kill(
    clinic: Clinic, project: str, small_budget: str
) -> None:
    mailbox = receiving_mailbox(clinic, project)
    people = [f"client{n}-{clinic.suffix}@example.org" for n in range(CONTACTS)]
    involved = set(range(0, MESSAGES, MESSAGES // CONTACTS))  # every 16th, 313 → first 300
    involved = set(sorted(involved)[:CONTACTS])
    messages = []
    for n in range(MESSAGES):
        if n in involved:
            index = sorted(involved).index(n)
            sender, to = people[index], mailbox.address
            if index % 3 == 0:  # some the practice wrote
                sender, to = mailbox.address, people[index]
        else:
            sender, to = f"news{n}@shop.example", mailbox.address
        messages.append(_message(sender, to, f"Message {n}", n))
    fill_maildir(mailbox.address, messages)
    batch = call(
        "POST",
        "activity",
        "/contacts:batch",
        bearer=clinic.admin,
        body={"contacts": [{"id": f"c{i}", "addresses": [a]} for i, a in enumerate(people)]},
    )
    assert batch.json()["saved"] == CONTACTS, batch.text

    mailbox.sync()  # the first task; the rest follow by themselves, a page or two each

    def halfway() -> dict | None:  # type: ignore[type-arg]
        state = mailbox.state_ref.get().to_dict() or {}
        backfill = state.get("backfill") or {}
        return backfill if 100 <= backfill.get("done", 0) < CONTACTS else None

    seen = eventually(halfway, timeout=120)
    shown = call("GET", "settings", "/mailboxes/tenant", bearer=clinic.admin).json()["sync"]
    assert shown["backfill"]["state"] == "running"
    assert 0 < shown["backfill"]["done"] < CONTACTS
    assert shown["backfill"]["estimated_total"] >= shown["backfill"]["done"]
    members = call("GET", "settings", "/members", bearer=clinic.admin).json()["members"]
    assert members  # the list answers while a backfill runs
    # Killed in the middle of a sync; its lease then runs out (moved to the past here, as
    # time would), and the queue's retry of the killed task resumes from the saved cursor.
    stack.kill_functions(small_budget, SMALL_BUDGET)
    stopped_at = (mailbox.state_ref.get().to_dict() or {})["backfill"]["done"]
    assert stopped_at >= seen["done"]
    mailbox.state_ref.update({"lease_until": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)})
    mailbox.sync()  # and a task of the next window, as Cloud Scheduler would make

    def finished() -> dict | None:  # type: ignore[type-arg]
        backfill = (mailbox.state_ref.get().to_dict() or {}).get("backfill") or {}
        return backfill if backfill.get("state") == "done" else None

    done = eventually(finished, timeout=300)
    stored = mailbox.stored()
    assert len(stored) == CONTACTS
    assert len({m["message_id"] for m in stored}) == CONTACTS
    assert done["done"] == CONTACTS
    assert {s for m in stored for s in m["contact_ids"]} == {f"c{i}" for i in range(CONTACTS)}
    shown = call("GET", "settings", "/mailboxes/tenant", bearer=clinic.admin).json()["sync"]
    assert shown["backfill"]["state"] == "done"
    assert shown["backfill"]["done"] == CONTACTS
