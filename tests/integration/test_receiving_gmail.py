"""Receiving from Gmail (the fake Google's read API), synced by the `sync` function through Cloud
Tasks: history from the stored id, a history id too old (404) listed again without loss or
duplicates, quota units, a revoked token, and Gmail's own bounce reports."""

from __future__ import annotations

import base64

import pytest
from google.cloud import firestore

from emulators import stack
from tests.integration.api import call
from tests.integration.clinic import Clinic, connect
from tests.integration.google_flow import fake
from tests.integration.helpers import eventually, send
from tests.integration.receiving import (
    Receiving,
    bounced_after_syncs,
    contact,
    message,
    stack_profile,
)


def arrive(account: str, raw: bytes, labels: list[str] | None = None) -> None:
    body: dict[str, object] = {"raw": base64.urlsafe_b64encode(raw).decode()}
    if labels:
        body["labels"] = labels
    fake(f"/_fake/accounts/{account}/inbox", "POST", json=body).raise_for_status()


@pytest.fixture
def gmail(clinic: Clinic, project: str) -> Receiving:
    account = clinic.google("desk")
    outcome = connect(clinic, account, receive=True)
    assert outcome.query["sendvia_result"] == "connected", outcome
    shown = call("GET", "settings", "/mailboxes/tenant", bearer=clinic.admin).json()
    assert shown["receive"] is True, shown
    return Receiving(clinic, account, "", firestore.Client(project=project))


def test_a_reply_and_a_sent_email_appear_once_and_the_history_id_holds(
    clinic: Clinic, gmail: Receiving
) -> None:
    contact(clinic, "jo", "jo@example.org")
    arrive(gmail.address, message("Jo <jo@example.org>", gmail.address, "Old question", day=1))
    first = gmail.sync()
    assert (first["state"], first["backfilled"]) == ("ok", 1)  # earlier mail: the backfill's
    answer = {"to": ["jo@example.org"], "subject": "Answer", "text": "Yes.", "contact_id": "jo"}
    sent = send(clinic, answer)
    assert sent.status_code == 200, sent.text
    arrive(gmail.address, message("jo@example.org", gmail.address, "Thanks", day=3))
    arrive(gmail.address, message("shop@example.net", gmail.address, "Sale", day=3))
    second = gmail.sync()
    assert second["stored"] == 2, second
    assert gmail.subjects() == ["Answer", "Old question", "Thanks"]
    again = gmail.sync()
    assert again["listed"] == 0
    # The history id is in Firestore: a restarted functions host goes on from it.
    stack.kill_functions(stack_profile())
    arrive(gmail.address, message("jo@example.org", gmail.address, "After the restart", day=4))
    after = gmail.sync()
    assert (after["listed"], after["stored"]) == (1, 1), after


def test_a_history_id_gmail_forgot_lists_the_mailbox_again_without_loss_or_duplicates(
    clinic: Clinic, gmail: Receiving
) -> None:
    contact(clinic, "jo", "jo@example.org")
    gmail.sync()
    arrive(gmail.address, message("jo@example.org", gmail.address, "Before"))
    gmail.sync()
    fake(f"/_fake/accounts/{gmail.address}:expire_history", "POST").raise_for_status()
    arrive(gmail.address, message("jo@example.org", gmail.address, "After"))
    run = gmail.sync()
    assert run["restarted"] == ["inbox", "sent"], run
    assert gmail.subjects() == ["After", "Before"]
    assert gmail.sync()["listed"] == 0  # back on history


def test_a_revoked_token_during_sync_breaks_the_mailbox_once(
    clinic: Clinic, gmail: Receiving
) -> None:
    gmail.sync()
    fake(f"/_fake/accounts/{gmail.address}:revoke", "POST").raise_for_status()
    arrive(gmail.address, message("jo@example.org", gmail.address, "Hello"))
    run = gmail.sync()
    assert run["state"] == "failing", run
    notices = call("GET", "activity", "/notifications", bearer=clinic.admin).json()
    assert [n["kind"] for n in notices["notifications"]] == ["mailbox_broken"]


def test_a_gmail_bounce_bounces_the_email_suppresses_and_tells_once(
    clinic: Clinic, gmail: Receiving
) -> None:
    gmail.sync()
    gone = f"gone-{clinic.suffix}@example.org"
    fake(
        f"/_fake/accounts/{gmail.address}:undeliverable", "POST", json={"addresses": [gone]}
    ).raise_for_status()
    sent = send(clinic, {"to": [gone], "subject": "Invoice", "text": "Attached."})
    delivery_id = sent.json()["delivery"]["id"]

    bounced_after_syncs(gmail, delivery_id)
    status = call("GET", "activity", f"/recipients/{gone}", bearer=clinic.admin).json()
    assert status["status"] == "hard_bounced"
    notices = call("GET", "activity", "/notifications", bearer=clinic.admin).json()
    assert [n["kind"] for n in notices["notifications"]] == ["email_bounced"]


def test_a_sync_spends_units_within_gmails_quota_and_defers_past_it(
    clinic: Clinic, gmail: Receiving
) -> None:
    contact(clinic, "jo", "jo@example.org")
    gmail.sync()
    for n in range(6):
        arrive(gmail.address, message("jo@example.org", gmail.address, f"Note {n}"))
    fake(
        f"/_fake/accounts/{gmail.address}:limits", "POST", json={"units_per_minute": 20}
    ).raise_for_status()
    run = gmail.sync()
    assert run["state"] in ("behind", "failing"), run  # Gmail's 429: deferred, not lost
    fake(
        f"/_fake/accounts/{gmail.address}:limits", "POST", json={"units_per_minute": 15000}
    ).raise_for_status()
    eventually(lambda: gmail.sync()["state"] == "ok" and len(gmail.stored()) == 6, timeout=90)
    spent = fake(f"/_fake/accounts/{gmail.address}/units").json()["units_spent"]
    assert spent > 0


def test_a_backfill_of_many_contacts_searches_with_long_queries(
    clinic: Clinic, gmail: Receiving
) -> None:
    """25 addresses a search make a `q` whose URL passes 2,048 characters: the client library
    then POSTs it with X-HTTP-Method-Override, as Google's APIs accept."""
    people = [f"client-number-{n}-{clinic.suffix}@example.org" for n in range(30)]
    for n, person in enumerate(people):
        arrive(gmail.address, message(person, gmail.address, f"From client {n}"))
    batch = call(
        "POST",
        "activity",
        "/contacts:batch",
        bearer=clinic.admin,
        body={"contacts": [{"id": f"c{n}", "addresses": [p]} for n, p in enumerate(people)]},
    )
    assert batch.json()["saved"] == 30
    run = gmail.sync()
    assert (run["state"], run["backfilled"]) == ("ok", 30), run
