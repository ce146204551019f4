"""Receiving from an SMTP/IMAP mailbox (Dovecot), synced by the `sync` function through Cloud
Tasks: correspondence with contacts, cursors, a new UIDVALIDITY, the lease, a password changed
on the server, and bounce reports that arrive in the Inbox."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
from pathlib import Path

import pytest
import requests

from emulators import stack
from emulators.bounces import render
from tests.integration.api import call
from tests.integration.clinic import Clinic, make_clinic
from tests.integration.helpers import eventually, send
from tests.integration.receiving import (
    Receiving,
    bounced_after_syncs,
    contact,
    message,
    receiving_mailbox,
    stack_profile,
)


@pytest.fixture
def mailbox(clinic: Clinic, project: str) -> Receiving:
    return receiving_mailbox(clinic, project)


def correspondence(clinic: Clinic, contact_id: str, bearer: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    answer = call(
        "GET",
        "activity",
        f"/contacts/{contact_id}/correspondence",
        bearer=bearer or clinic.admin,
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["messages"])


def test_a_reply_and_a_sent_email_appear_once_on_the_contact(
    clinic: Clinic, mailbox: Receiving
) -> None:
    contact(clinic, "jo", "jo@example.org")
    first = mailbox.sync()
    assert first["state"] == "ok"
    sent = send(
        clinic,
        {
            "to": ["Jo <jo@example.org>"],
            "subject": "Your appointment",
            "text": "Monday at 10.",
            "contact_id": "jo",
        },
    )
    assert sent.status_code == 200, sent.text
    mailbox.arrive(message("Jo <jo@example.org>", mailbox.address, "Re: Your appointment", day=2))
    mailbox.arrive(message("news@shop.example", mailbox.address, "Sale", day=2))
    run = mailbox.sync()
    assert run["stored"] == 2, run
    messages = correspondence(clinic, "jo")
    assert sorted((m["direction"], m["subject"]) for m in messages) == [
        ("in", "Re: Your appointment"),
        ("out", "Your appointment"),
    ]
    assert "Sale" not in mailbox.subjects()  # no contact: not stored
    # A member sees the practice's correspondence (the default), and the list shows the sync.
    assert len(correspondence(clinic, "jo", clinic.member)) == 2
    again = mailbox.sync()
    assert again["listed"] == 0  # the cursor held: nothing read twice
    assert len(mailbox.stored()) == 2
    # The UID cursors are in Firestore: a restarted functions host goes on from them.
    stack.kill_functions(stack_profile())
    mailbox.arrive(message("jo@example.org", mailbox.address, "After the restart", day=3))
    after = mailbox.sync()
    assert (after["listed"], after["stored"]) == (1, 1), after
    settings = call("GET", "settings", "/mailboxes/tenant", bearer=clinic.admin).json()
    assert settings["sync"]["state"] == "ok"
    assert settings["last_synced_at"]


def test_a_new_uidvalidity_reads_the_folder_again_without_loss_or_duplicates(
    clinic: Clinic, mailbox: Receiving
) -> None:
    contact(clinic, "jo", "jo@example.org")
    mailbox.sync()
    mailbox.arrive(message("jo@example.org", mailbox.address, "Before"))
    mailbox.sync()
    # Dovecot forgets its UIDs (as after a restore from backup): a new UIDVALIDITY.
    user = mailbox.address.split("@")[0]
    maildir = Path(os.environ["MAIL_DOVECOT_DIR"]) / "mail" / "clinic.test" / user / "Maildir"
    for index in maildir.glob("dovecot*"):
        index.unlink() if index.is_file() else shutil.rmtree(index)
    mailbox.arrive(message("jo@example.org", mailbox.address, "After"))
    run = mailbox.sync()
    assert "inbox" in run["restarted"], run
    assert mailbox.subjects() == ["After", "Before"]


def test_a_sync_held_by_another_waits_for_its_lease(clinic: Clinic, mailbox: Receiving) -> None:
    mailbox.sync()
    held_until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=4)
    mailbox.state_ref.update({"holder": "another-sync", "lease_until": held_until})
    run = mailbox.sync(timeout=60)  # answered 409 until the lease passed, then ran
    assert run["state"] == "ok"
    assert dt.datetime.fromisoformat(str(run["started_at"])) >= held_until


def test_a_password_changed_on_the_server_breaks_the_mailbox_once(
    clinic: Clinic, mailbox: Receiving
) -> None:
    from sendvia import devtools

    mailbox.sync()
    devtools.add_mail_user(mailbox.address)  # a new app password: the stored one stops working
    run = mailbox.sync()
    assert (run["state"], run["cause"]) == ("failing", "wrong_password"), run
    notices = call("GET", "activity", "/notifications", bearer=clinic.admin).json()
    assert [n["kind"] for n in notices["notifications"]] == ["mailbox_broken"]
    shown = call("GET", "settings", "/mailboxes/tenant", bearer=clinic.admin).json()
    assert shown["state"] == "broken"


def test_a_bounce_from_the_internet_bounces_the_email_and_suppresses_the_address(
    clinic: Clinic, mailbox: Receiving
) -> None:
    """The email goes out through the mailbox; the recipient's server refuses it later and its
    report (Postfix's RFC 3464 layout) arrives in the mailbox's Inbox."""
    mailbox.sync()
    gone = f"gone-{clinic.suffix}@example.org"
    requests.post(
        f"{os.environ['MAIL_SINK_URL']}/_undeliverable", json={"addresses": [gone]}, timeout=10
    ).raise_for_status()
    sent = send(clinic, {"to": [gone], "subject": "Invoice", "text": "Attached."})
    assert sent.status_code == 200, sent.text
    delivery_id = sent.json()["delivery"]["id"]

    bounced_after_syncs(mailbox, delivery_id)
    status = call("GET", "activity", f"/recipients/{gone}", bearer=clinic.admin).json()
    assert status["status"] == "hard_bounced"
    blocked = send(clinic, {"to": [gone], "subject": "Again", "text": "x"})
    assert blocked.status_code == 422
    assert blocked.json()["error"]["code"] == "recipient_suppressed"
    notices = call("GET", "activity", "/notifications", bearer=clinic.admin).json()
    assert [n["kind"] for n in notices["notifications"]] == ["email_bounced"]


@pytest.mark.parametrize(
    ("sample", "wanted", "status"),
    [
        ("gmail_failure", "bounced", "hard_bounced"),
        ("exchange_ndr", "bounced", "hard_bounced"),
        ("arf_complaint", "complained", "complained"),
        ("postfix_delayed", "sent", "active"),
    ],
)
def test_each_report_format_is_placed_and_another_tenants_changes_nothing(
    clinic: Clinic, mailbox: Receiving, unique_id: str, sample: str, wanted: str, status: str
) -> None:
    mailbox.sync()
    target = f"t-{clinic.suffix}@example.org"
    ours = send(clinic, {"to": [target], "subject": "Reminder", "text": "Tomorrow."}).json()
    # Another tenant's email (through the platform's relay), to the same address.
    other = make_clinic(f"{unique_id}-other")
    theirs = send(other, {"to": [target], "subject": "Theirs", "text": "x."}).json()
    for delivery in (ours["delivery"], theirs["delivery"]):
        mailbox.arrive(
            render(
                sample,
                original_id=delivery["message_id"],
                recipient=target,
                receiver=mailbox.address,
            )
        )
    run = mailbox.sync()
    assert run["reports"] == 2, run
    found = call("GET", "activity", f"/deliveries/{ours['delivery']['id']}", bearer=clinic.admin)
    assert found.json()["state"] == wanted
    mine = call("GET", "activity", f"/recipients/{target}", bearer=clinic.admin).json()
    assert mine["status"] == status
    told = call("GET", "activity", "/notifications", bearer=clinic.admin).json()["notifications"]
    assert len([n for n in told if n["kind"].startswith("email_")]) == (
        0 if wanted == "sent" else 1
    )
    untouched = call(
        "GET", "activity", f"/deliveries/{theirs['delivery']['id']}", bearer=other.admin
    ).json()
    assert untouched["state"] == "sent" and not untouched.get("provider_events")
    assert (
        call("GET", "activity", f"/recipients/{target}", bearer=other.admin).json()["status"]
        == "active"
    )


def test_syncs_of_one_mailbox_started_together_run_one_at_a_time(
    clinic: Clinic, mailbox: Receiving
) -> None:
    import json
    import uuid

    from tests.integration.api import stack_logs
    from tests.integration.receiving import fill_maildir, queue

    people = [f"p{n}-{clinic.suffix}@example.org" for n in range(60)]
    for n, person in enumerate(people):
        contact(clinic, f"p{n}", person)
    fill_maildir(
        mailbox.address,
        [message(person, mailbox.address, f"From {person}") for person in people],
    )
    tasks = queue()
    for _ in range(4):  # four tasks for the same mailbox at once
        tasks.enqueue_sync(clinic.tenant, "tenant", uuid.uuid4().hex)

    def settled() -> list[dict] | None:  # type: ignore[type-arg]
        log = (stack_logs() / "functions.log").read_text()
        runs = [
            json.loads(line)
            for line in log.splitlines()
            if '"mailbox_synced"' in line and clinic.tenant in line
        ]
        return runs if len(runs) == 4 else None

    runs = eventually(settled, timeout=120)
    spans = sorted((r["started_at"], r["finished_at"]) for r in runs)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end < start, spans  # never two at once
    assert len(mailbox.stored()) == 60
