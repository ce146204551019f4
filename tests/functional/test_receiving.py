"""Receiving in process: sync's fan-out and one mailbox's sync against a fake mailbox, the
correspondence it stores, bounce reports it places, and the routes that read and switch it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sendvia.domain.failures import FailureKind, ProviderFailure

from emulators.bounces import render
from tests.fakes import Fakes, fake_runtime
from tests.functional.conftest import OTHER, TENANT, Client, gmail_mailbox, smtp_mailbox
from tests.functional.test_internal import TASKS

SYNC = {**TASKS, "SENDVIA_SYNC_URL": "https://functions.test/sync", "SENDVIA_SYNC_SETTLE_S": "0"}
DESK = f"desk@{TENANT}.test"


@pytest.fixture
def fakes() -> Fakes:
    return fake_runtime(**SYNC)


def message(
    sender: str,
    to: str,
    subject: str,
    *,
    message_id: str | None = None,
    day: int = 1,
    cc: str | None = None,
) -> bytes:
    headers = [
        f"From: {sender}",
        f"To: {to}",
        *([f"Cc: {cc}"] if cc else []),
        f"Subject: {subject}",
        f"Date: Tue, {day:02d} Dec 2026 10:00:00 +0000",
        f"Message-ID: <{message_id or subject.replace(' ', '-')}@mail.test>",
    ]
    return ("\r\n".join(headers) + f"\r\n\r\n{subject}, body.\r\n").encode()


def sync(client: Client, tenant: str = TENANT, mailbox: str = "tenant") -> dict[str, Any]:
    answer = client.call(
        "POST",
        "sync",
        "/mailbox",
        token="task-token",
        body={"tenant_id": tenant, "mailbox_id": mailbox},
    )
    assert answer.status_code == (409 if answer.json.get("state") == "busy" else 200), answer.json
    return dict(answer.json)


def receiving_mailbox(fakes: Fakes, tenant: str = TENANT) -> None:
    smtp_mailbox(fakes, tenant, receive=True)


def put_contact(client: Client, admin: str, contact_id: str, *addresses: str) -> None:
    answer = client.call(
        "PUT",
        "activity",
        f"/contacts/{contact_id}",
        token=admin,
        body={"name": contact_id, "addresses": list(addresses)},
    )
    assert answer.status_code == 200, answer.json


def subjects(fakes: Fakes, tenant: str = TENANT) -> list[str]:
    return sorted(d["subject"] for d in fakes.correspondence.of(tenant))


def test_the_fan_out_gives_each_receiving_mailbox_one_task_per_window(
    client: Client, fakes: Fakes
) -> None:
    receiving_mailbox(fakes)
    smtp_mailbox(fakes, OTHER)  # not receiving
    for _ in range(2):
        answer = client.call("POST", "sync", "/", token="task-token")
        assert answer.status_code == 200, answer.json
    assert fakes.queue.syncs == [(TENANT, "tenant", fakes.queue.syncs[0][2])]
    fakes.clock.advance(minutes=10)
    client.call("POST", "sync", "/", token="task-token")
    assert len(fakes.queue.syncs) == 2


def test_a_first_sync_backfills_contacts_mail_and_later_ones_take_what_arrives(
    client: Client, fakes: Fakes, admin: str
) -> None:
    receiving_mailbox(fakes)
    put_contact(client, admin, "jo", "jo@example.org")
    mail = fakes.smtp.mail
    mail.arrive(DESK, message("Jo <jo@example.org>", DESK, "Question", day=1))
    mail.arrive(DESK, message("stranger@example.net", DESK, "Newsletter", day=2))
    mail.arrive(DESK, message(DESK, "jo@example.org", "Answer", day=3), "sent")
    first = sync(client)
    assert (first["state"], first["backfilled"]) == ("ok", 2)
    assert subjects(fakes) == ["Answer", "Question"]
    # A reply arrives, and the answer sent to Jo and copied to the practice's own inbox.
    mail.arrive(DESK, message("jo@example.org", DESK, "Thanks", day=4))
    mail.arrive(DESK, message(DESK, "jo@example.org", "See you", day=5), "sent")
    mail.arrive(DESK, message(DESK, "jo@example.org", "See you", day=5))
    second = sync(client)
    assert second["stored"] == 3 and second["backfilled"] == 0
    assert subjects(fakes) == ["Answer", "Question", "See you", "Thanks"]
    stored = {d["subject"]: d for d in fakes.correspondence.of(TENANT)}
    assert stored["Thanks"]["direction"] == "in"
    assert stored["See you"]["direction"] == "out"
    assert stored["Thanks"]["contact_ids"] == ["jo"]
    assert stored["Thanks"]["text"] == "Thanks, body."
    assert "Newsletter" not in stored
    shown = client.call("GET", "settings", "/mailboxes/tenant", token=admin).json
    assert shown["sync"]["state"] == "ok"
    assert shown["sync"]["backfill"] == {
        "state": "done",
        "done": 2,
        "estimated_total": 2,
        "since": None,
    }
    assert shown["last_synced_at"] == fakes.clock.now.isoformat()
    members = client.call("GET", "settings", "/members", token=admin).json["members"]
    assert all(m["sync"] is None for m in members)  # their own mailboxes do not receive


def test_a_renumbered_folder_is_read_again_without_storing_anything_twice(
    client: Client, fakes: Fakes, admin: str
) -> None:
    receiving_mailbox(fakes)
    put_contact(client, admin, "jo", "jo@example.org")
    sync(client)
    fakes.smtp.mail.arrive(DESK, message("jo@example.org", DESK, "One"))
    sync(client)
    fakes.smtp.mail.renumber(DESK, "inbox")  # a new UIDVALIDITY, an expired history id
    fakes.smtp.mail.arrive(DESK, message("jo@example.org", DESK, "Two"))
    again = sync(client)
    assert again["restarted"] == ["inbox"]
    assert subjects(fakes) == ["One", "Two"]


def test_a_sync_that_runs_out_of_budget_resumes_where_it_stopped(
    client: Client, admin: str
) -> None:
    fakes = fake_runtime(**SYNC, SENDVIA_SYNC_BUDGET_S="1")
    client = Client(fakes)
    admin = fakes.token(TENANT, "ann")
    receiving_mailbox(fakes)
    put_contact(client, admin, "jo", "jo@example.org")
    sync(client)
    for n in range(250):
        fakes.smtp.mail.arrive(DESK, message("jo@example.org", DESK, f"Note {n}"))
    import time

    real = time.monotonic
    ticks = iter(range(10**6))
    time.monotonic = lambda: real() + next(ticks) * 1.0  # every check of the budget: 1 s later
    try:
        partial = sync(client)
    finally:
        time.monotonic = real
    assert partial["more"] and partial["state"] == "behind"
    assert fakes.queue.syncs[-1][2].startswith("more-")  # its continuation, right away
    assert len(fakes.correspondence.of(TENANT)) < 250
    rest = sync(client)
    assert not rest["more"]
    assert len(fakes.correspondence.of(TENANT)) == 250


def test_two_syncs_of_one_mailbox_never_run_at_once(client: Client, fakes: Fakes) -> None:
    receiving_mailbox(fakes)
    taken = fakes.sync_states.take(
        TENANT, "tenant", "someone-else", fakes.clock.now, fakes.clock.now + dt.timedelta(minutes=3)
    )
    assert taken is not None
    assert sync(client)["state"] == "busy"
    fakes.clock.advance(minutes=4)  # its lease passed: it died
    assert sync(client)["state"] == "ok"


def test_a_revoked_password_during_sync_breaks_the_mailbox_once(
    client: Client, fakes: Fakes
) -> None:
    receiving_mailbox(fakes)
    sync(client)
    fakes.smtp.fail_with = ProviderFailure(FailureKind.AUTH, "auth_failed", "535 invalid")
    assert sync(client)["state"] == "failing"
    assert sync(client)["state"] == "not_receiving"  # broken: not synced until reconnected
    broken = [n for n in fakes.notifications.of(TENANT) if n["kind"] == "mailbox_broken"]
    assert len(broken) == 1
    assert fakes.mailboxes.docs[(TENANT, "tenant")]["state"] == "broken"


def test_a_transient_failure_leaves_the_mailbox_behind_then_failing_with_its_cause(
    client: Client, fakes: Fakes, admin: str
) -> None:
    receiving_mailbox(fakes)
    sync(client)
    fakes.smtp.mail.fail_with = ProviderFailure(FailureKind.TRANSIENT, "timeout", "no answer")
    assert sync(client)["state"] == "behind"
    assert sync(client)["state"] == "failing"
    shown = client.call("GET", "settings", "/mailboxes/tenant", token=admin).json["sync"]
    assert shown["cause"]["code"] == "timeout"
    fakes.smtp.mail.fail_with = None
    assert sync(client)["state"] == "ok"


def sent_delivery(fakes: Fakes, tenant: str, delivery_id: str, to: str, **doc: Any) -> str:
    message_id = f"{delivery_id}.digest@{tenant}.test"
    fakes.deliveries.create(
        tenant,
        delivery_id,
        {
            "kind": "triggered",
            "state": "sent",
            "to": [to],
            "subject": "Your appointment",
            "message_id": f"<{message_id}>",
            "created_by": "max",
            "sender": {"uid": "max", "role": "member"},
            **doc,
        },
    )
    return message_id


@pytest.mark.parametrize("sample", ["gmail_failure", "exchange_ndr", "postfix_dsn", "qmail_bounce"])
def test_a_bounce_in_the_inbox_bounces_the_delivery_suppresses_and_tells_once(
    client: Client, fakes: Fakes, admin: str, sample: str
) -> None:
    receiving_mailbox(fakes)
    sync(client)
    original = sent_delivery(fakes, TENANT, "d1", "gone@example.org")
    for _ in range(2):  # the provider sends its report twice
        fakes.smtp.mail.arrive(
            DESK, render(sample, original_id=original, recipient="gone@example.org", receiver=DESK)
        )
    assert sync(client)["reports"] == 2
    assert fakes.deliveries.of(TENANT, "d1")["state"] == "bounced"
    status = client.call("GET", "activity", "/recipients/gone@example.org", token=admin).json
    assert status["status"] == "hard_bounced"
    assert "appointment_reminder" in status["opted_out"]
    told = [n for n in fakes.notifications.of(TENANT) if n["kind"] == "email_bounced"]
    assert sorted(n["audience"] for n in told) == ["admins", "user:max"]
    assert fakes.correspondence.of(TENANT) == []  # a report is not correspondence


def test_a_complaint_in_the_inbox_marks_the_delivery_complained(
    client: Client, fakes: Fakes, admin: str
) -> None:
    receiving_mailbox(fakes)
    sync(client)
    original = sent_delivery(fakes, TENANT, "d1", "angry@example.org")
    fakes.smtp.mail.arrive(
        DESK,
        render("arf_complaint", original_id=original, recipient="angry@example.org", receiver=DESK),
    )
    sync(client)
    assert fakes.deliveries.of(TENANT, "d1")["state"] == "complained"
    status = client.call("GET", "activity", "/recipients/angry@example.org", token=admin).json
    assert status["status"] == "complained"


def test_a_delayed_report_suppresses_nothing_and_a_foreign_one_changes_nothing(
    client: Client, fakes: Fakes, admin: str
) -> None:
    receiving_mailbox(fakes)
    sync(client)
    ours = sent_delivery(fakes, TENANT, "d1", "slow@example.org")
    theirs = sent_delivery(fakes, OTHER, "d2", "gone@example.org")
    for sample, original, recipient in (
        ("postfix_delayed", ours, "slow@example.org"),
        ("postfix_dsn", theirs, "gone@example.org"),
    ):
        fakes.smtp.mail.arrive(
            DESK, render(sample, original_id=original, recipient=recipient, receiver=DESK)
        )
    sync(client)
    assert fakes.deliveries.of(TENANT, "d1")["state"] == "sent"
    assert fakes.deliveries.of(OTHER, "d2")["state"] == "sent"
    for address in ("slow@example.org", "gone@example.org"):
        status = client.call("GET", "activity", f"/recipients/{address}", token=admin).json
        assert status["status"] == "active" and status["opted_out"] == []
    assert [n for n in fakes.notifications.of(TENANT) if n["kind"].startswith("email_")] == []


def test_correspondence_is_read_newest_first_in_pages_by_the_practice(
    client: Client, fakes: Fakes, admin: str, member: str
) -> None:
    receiving_mailbox(fakes)
    put_contact(client, admin, "jo", "jo@example.org")
    for day in range(1, 6):
        fakes.smtp.mail.arrive(DESK, message("jo@example.org", DESK, f"Day {day}", day=day))
    sync(client)
    path = "/contacts/jo/correspondence"
    first = client.call("GET", "activity", f"{path}?page_size=3", token=member).json
    assert [m["subject"] for m in first["messages"]] == ["Day 5", "Day 4", "Day 3"]
    assert first["messages"][0]["mailbox"] == "tenant"
    token = first["next_page_token"]
    rest = client.call("GET", "activity", f"{path}?page_size=3&page_token={token}", token=member)
    assert [m["subject"] for m in rest.json["messages"]] == ["Day 2", "Day 1"]
    assert rest.json["next_page_token"] is None
    # A tenant that restricts members to their own mailbox's mail.
    client.call("PATCH", "settings", token=admin, body={"correspondence": "own_mailbox"})
    hidden = client.call("GET", "activity", path, token=member).json
    assert hidden["messages"] == []
    assert len(client.call("GET", "activity", path, token=admin).json["messages"]) == 5
    other = fakes.token(OTHER, "olga")
    assert client.call("GET", "activity", path, token=other).status_code == 404
    for bad in ("?page_size=0", "?page_size=x", "?page_token=../x"):
        answer = client.call("GET", "activity", f"{path}{bad}", token=admin)
        assert answer.status_code == 400, bad


def test_deleting_a_contact_removes_its_correspondence(
    client: Client, fakes: Fakes, admin: str
) -> None:
    receiving_mailbox(fakes)
    put_contact(client, admin, "jo", "jo@example.org")
    put_contact(client, admin, "sam", "sam@example.org")
    fakes.smtp.mail.arrive(DESK, message("jo@example.org", DESK, "Jo alone"))
    fakes.smtp.mail.arrive(DESK, message("jo@example.org", DESK, "Both", cc="sam@example.org"))
    sync(client)
    assert client.call("DELETE", "activity", "/contacts/jo", token=admin).status_code == 204
    left = fakes.correspondence.of(TENANT)
    assert [(d["subject"], d["contact_ids"]) for d in left] == [("Both", ["sam"])]


def test_receiving_is_switched_per_mailbox(client: Client, fakes: Fakes, admin: str) -> None:
    smtp_mailbox(fakes)
    path = "/mailboxes/tenant:receive"
    on = client.call("POST", "settings", path, token=admin, body={"receive": True})
    assert on.status_code == 200 and on.json["receive"] is True
    sync(client)
    assert (TENANT, "tenant") in fakes.sync_states.states
    off = client.call("POST", "settings", path, token=admin, body={"receive": False})
    assert off.json["receive"] is False
    assert (TENANT, "tenant") not in fakes.sync_states.states
    assert sync(client)["state"] == "not_receiving"
    bad = client.call("POST", "settings", path, token=admin, body={"receive": "yes"})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "receive"


def test_a_gmail_mailbox_connected_to_send_only_needs_consent_to_receive(
    client: Client, fakes: Fakes, admin: str
) -> None:
    gmail_mailbox(fakes)
    answer = client.call(
        "POST", "settings", "/mailboxes/tenant:receive", token=admin, body={"receive": True}
    )
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "consent_required"
    assert '"receive": true' in answer.json["error"]["hint"]


def test_a_contact_added_after_the_backfill_gets_its_earlier_mail_at_the_next_sync(
    client: Client, fakes: Fakes, admin: str
) -> None:
    receiving_mailbox(fakes)
    put_contact(client, admin, "jo", "jo@example.org")
    fakes.smtp.mail.arrive(DESK, message("jo@example.org", DESK, "From Jo"))
    fakes.smtp.mail.arrive(DESK, message("sam@example.org", DESK, "From Sam"))
    assert sync(client)["backfilled"] == 1
    fakes.clock.advance(minutes=10)
    put_contact(client, admin, "sam", "sam@example.org")
    later = sync(client)
    assert later["backfilled"] == 1
    assert subjects(fakes) == ["From Jo", "From Sam"]
    assert sync(client)["backfilled"] == 0  # nothing new: no second backfill


def test_another_account_behind_the_same_mailbox_starts_afresh(
    client: Client, fakes: Fakes, admin: str
) -> None:
    receiving_mailbox(fakes)
    put_contact(client, admin, "jo", "jo@example.org")
    sync(client)
    # Reconnected to another address (another IMAP user): the old cursors mean nothing there.
    other = "front@clinic-1.test"
    fakes.mailboxes.docs[(TENANT, "tenant")]["address"] = other
    fakes.mailboxes.docs[(TENANT, "tenant")]["imap"]["username"] = "front"
    fakes.smtp.mail.arrive(other, message("jo@example.org", other, "Earlier, elsewhere"))
    again = sync(client)
    assert again["backfilled"] == 1, again
    assert subjects(fakes) == ["Earlier, elsewhere"]


def test_a_forged_report_naming_someone_else_suppresses_nobody(
    client: Client, fakes: Fakes, admin: str
) -> None:
    """Anyone who saw an email's Message-ID can write a "bounce" about it naming any address:
    only the email's own recipients are placed."""
    receiving_mailbox(fakes)
    sync(client)
    original = sent_delivery(fakes, TENANT, "d1", "jo@example.org")
    fakes.smtp.mail.arrive(
        DESK, render("postfix_dsn", original_id=original, recipient="ceo@other.org", receiver=DESK)
    )
    assert sync(client)["reports"] == 1
    assert fakes.deliveries.of(TENANT, "d1")["state"] == "sent"
    victim = client.call("GET", "activity", "/recipients/ceo@other.org", token=admin).json
    assert (victim["status"], victim["opted_out"]) == ("active", [])


def test_an_unreadable_message_is_skipped_and_blocks_nothing(
    client: Client, fakes: Fakes, admin: str
) -> None:
    receiving_mailbox(fakes)
    put_contact(client, admin, "jo", "jo@example.org")
    sync(client)
    fakes.smtp.mail.arrive(DESK, b"From: jo@example.org\r\nSubject: =?utf-8?b?a?=\r\n\r\nx\r\n")
    fakes.smtp.mail.arrive(DESK, message("jo@example.org", DESK, "Readable"))
    run = sync(client)
    assert run["state"] == "ok"
    assert "Readable" in subjects(fakes)


def test_page_sizes_that_are_not_plain_numbers_are_400s(client: Client, admin: str) -> None:
    put_contact(client, admin, "jo", "jo@example.org")
    for path in ("/contacts/jo/correspondence", "/deliveries"):
        for size in ("\u00b2", "\u0663", "1e2", "-1"):
            answer = client.call("GET", "activity", f"{path}?page_size={size}", token=admin)
            assert answer.status_code == 400, (path, size, answer.json)
            assert answer.json["error"]["field"] == "page_size"


def test_saving_a_mailbox_to_receive_needs_its_imap_server(
    client: Client, fakes: Fakes, admin: str
) -> None:
    client.call("PATCH", "settings", token=admin, body={"integrations": {"smtp_imap": True}})
    answer = client.call(
        "PUT",
        "settings",
        "/mailboxes/tenant",
        token=admin,
        body={
            "address": DESK,
            "receive": True,
            "smtp": {
                "host": "smtp.clinic.test",
                "port": 587,
                "security": "starttls",
                "password": "app-password-1234",
            },
        },
    )
    assert answer.status_code == 400, answer.json
    assert (answer.json["error"]["code"], answer.json["error"]["field"]) == (
        "imap_required",
        "imap",
    )


def test_a_provider_pause_or_quota_defers_the_sync_to_when_it_may_go_on(
    client: Client, fakes: Fakes
) -> None:
    receiving_mailbox(fakes)
    sync(client)
    fakes.smtp.mail.pause_next = 45.0  # the reader's share of Gmail's minute is spent
    paused = sync(client)
    assert (paused["state"], paused["more"], paused["resume_after_s"]) == ("behind", True, 45.0)
    name = fakes.queue.syncs[-1][2]
    assert fakes.queue.sync_times[name] == fakes.clock.now + dt.timedelta(seconds=45)
    fakes.smtp.mail.fail_with = ProviderFailure(
        FailureKind.QUOTA, "rate_limited", "429", retry_after_s=30
    )
    throttled = sync(client)
    assert (throttled["state"], throttled["resume_after_s"]) == ("behind", 30.0)
    name = fakes.queue.syncs[-1][2]
    assert fakes.queue.sync_times[name] == fakes.clock.now + dt.timedelta(seconds=30)


def test_a_search_the_provider_caps_is_split_until_everything_is_found(
    client: Client, fakes: Fakes, admin: str
) -> None:
    receiving_mailbox(fakes)
    people = [f"p{n}@example.org" for n in range(4)]
    for n, person in enumerate(people):
        put_contact(client, admin, f"p{n}", person)
        for k in range(3):
            fakes.smtp.mail.arrive(DESK, message(person, DESK, f"{person} {k}"))
    fakes.smtp.mail.search_cap = 5  # fewer than the 12 messages of the 4 contacts
    run = sync(client)
    assert run["backfilled"] >= 12
    assert len(fakes.correspondence.of(TENANT)) == 12
    sizes = [len(s) for s in fakes.smtp.mail.searches]
    assert sizes[:3] == [4, 2, 1]  # halved while the provider still caps the answer


def test_contacts_that_joined_a_moment_ago_wait_for_the_next_round(admin: str) -> None:
    fakes = fake_runtime(**{**SYNC, "SENDVIA_SYNC_SETTLE_S": "60"})
    client = Client(fakes)
    admin = fakes.token(TENANT, "ann")
    receiving_mailbox(fakes)
    fakes.smtp.mail.arrive(DESK, message("jo@example.org", DESK, "From Jo"))
    put_contact(client, admin, "jo", "jo@example.org")
    assert sync(client)["backfilled"] == 0  # its request may still be committing others
    fakes.clock.advance(minutes=10)
    assert sync(client)["backfilled"] == 1
