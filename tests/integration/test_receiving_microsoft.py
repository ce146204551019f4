"""Receiving from Microsoft 365 (the fake Microsoft's Graph delta queries), synced by the `sync`
function through Cloud Tasks: delta per folder to its deltaLink, empty pages and replays, an
expired delta token (410) read again without loss or duplicates, rotated refresh tokens, a dead
grant, and Exchange's own bounce reports."""

from __future__ import annotations

import base64

import pytest
from google.cloud import firestore

from emulators import stack
from tests.integration.api import call
from tests.integration.clinic import Clinic
from tests.integration.google_flow import Browser
from tests.integration.helpers import send
from tests.integration.microsoft_flow import connect, fake, start
from tests.integration.receiving import (
    Receiving,
    bounced_after_syncs,
    contact,
    message,
    stack_profile,
)


def arrive(account: str, raw: bytes) -> None:
    body = {"raw": base64.urlsafe_b64encode(raw).decode()}
    fake(f"/_fake/accounts/{account}/inbox", "POST", json=body).raise_for_status()


@pytest.fixture
def outlook(clinic: Clinic, project: str) -> Receiving:
    switched = call(
        "PATCH", "settings", bearer=clinic.admin, body={"integrations": {"microsoft": True}}
    )
    assert switched.status_code == 200, switched.text
    account = f"desk-{clinic.suffix}@contoso.example"
    outcome = connect(Browser(), start(clinic.admin, "tenant", receive=True), account)
    assert outcome.query.get("sendvia_result") == "connected", outcome.location
    return Receiving(clinic, account, "", firestore.Client(project=project))


def test_a_reply_and_a_sent_email_appear_once_through_empty_pages_and_replays(
    clinic: Clinic, outlook: Receiving
) -> None:
    contact(clinic, "jo", "jo@example.org")
    arrive(outlook.address, message("Jo <jo@example.org>", outlook.address, "Old question"))
    first = outlook.sync()
    assert (first["state"], first["backfilled"]) == ("ok", 1), first
    fake(f"/_fake/accounts/{outlook.address}:delta_quirks", "POST", json={"on": True})
    answer = {"to": ["jo@example.org"], "subject": "Answer", "text": "Yes.", "contact_id": "jo"}
    sent = send(clinic, answer)
    assert sent.status_code == 200, sent.text
    for n in range(12):  # more than a delta page
        arrive(outlook.address, message("jo@example.org", outlook.address, f"Note {n}"))
    arrive(outlook.address, message("shop@example.net", outlook.address, "Sale"))
    outlook.sync()
    outlook.sync()  # a round that replays the last message of the one before
    assert outlook.subjects() == sorted(
        ["Answer", "Old question", *(f"Note {n}" for n in range(12))]
    )
    # The delta links are in Firestore: a restarted functions host goes on from them.
    stack.kill_functions(stack_profile())
    arrive(outlook.address, message("jo@example.org", outlook.address, "After the restart"))
    after = outlook.sync()
    assert after["listed"] <= 2, after  # the new one (and a replay of the last)
    assert len(outlook.stored()) == 15 and "After the restart" in outlook.subjects()
    refreshed = fake(f"/_fake/accounts/{outlook.address}/redeemed").json()["refresh_tokens"]
    assert len(set(refreshed)) == len(refreshed)  # each rotated token stored, used once


def test_an_expired_delta_token_reads_the_folder_again_without_loss_or_duplicates(
    clinic: Clinic, outlook: Receiving
) -> None:
    contact(clinic, "jo", "jo@example.org")
    outlook.sync()
    arrive(outlook.address, message("jo@example.org", outlook.address, "Before"))
    outlook.sync()
    fake(f"/_fake/accounts/{outlook.address}:expire_delta", "POST").raise_for_status()
    arrive(outlook.address, message("jo@example.org", outlook.address, "After"))
    run = outlook.sync()
    assert sorted(run["restarted"]) == ["inbox", "sent"], run
    assert outlook.subjects() == ["After", "Before"]


def test_a_dead_grant_during_sync_breaks_the_mailbox_once(
    clinic: Clinic, outlook: Receiving
) -> None:
    outlook.sync()
    fake(f"/_fake/accounts/{outlook.address}:revoke", "POST").raise_for_status()
    fake(f"/_fake/accounts/{outlook.address}:expire_tokens", "POST").raise_for_status()
    assert outlook.sync()["state"] == "failing"
    notices = call("GET", "activity", "/notifications", bearer=clinic.admin).json()
    assert [n["kind"] for n in notices["notifications"]] == ["mailbox_broken"]


def test_an_exchange_ndr_bounces_the_email_and_suppresses_the_address(
    clinic: Clinic, outlook: Receiving
) -> None:
    outlook.sync()
    gone = f"gone-{clinic.suffix}@example.org"
    fake(
        f"/_fake/accounts/{outlook.address}:undeliverable", "POST", json={"addresses": [gone]}
    ).raise_for_status()
    sent = send(clinic, {"to": [gone], "subject": "Rechnung", "text": "Anbei."})
    delivery_id = sent.json()["delivery"]["id"]

    bounced_after_syncs(outlook, delivery_id)
    status = call("GET", "activity", f"/recipients/{gone}", bearer=clinic.admin).json()
    assert status["status"] == "hard_bounced"
    outlook.sync()  # seen again: told once
    notices = call("GET", "activity", "/notifications", bearer=clinic.admin).json()
    assert [n["kind"] for n in notices["notifications"]] == ["email_bounced"]
