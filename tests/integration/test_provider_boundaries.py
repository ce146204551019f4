"""Each mailbox's credentials go to its own provider only, and each provider's failures are told
in its own terms: an SMTP mailbox is never checked, revoked or explained as if it were Gmail.

These are the defects the provider interface removed; each test failed before it."""

from __future__ import annotations

import json
from typing import Any

from google.cloud import firestore
from sendvia import devtools

from emulators.mail.misbehaving import Behaviour, misbehaving
from tests.integration.api import call, stack_logs
from tests.integration.clinic import Clinic, connect, make_clinic, settings_of
from tests.integration.google_flow import fake
from tests.integration.helpers import (
    confirmed_smtp_mailbox,
    delivery,
    email,
    relay_messages,
    run_test,
    save,
    send,
    settings_body,
    sink_for,
    smtp_mailbox_at,
)


def reached_google(secret: str) -> list[dict[str, str]]:
    """The requests to (the fake) Google that carried `secret` anywhere."""
    received = fake("/_fake/received").json()["requests"]
    return [r for r in received if secret in json.dumps(r) or secret in "".join(r.values())]


def own_mailbox(clinic: Clinic, unique_id: str) -> tuple[str, str, dict[str, Any]]:
    """A fresh Dovecot user as the tenant's SMTP/IMAP mailbox: address, password, settings."""
    address = f"desk-{unique_id}@clinic.test"
    password = devtools.add_mail_user(address)
    body = settings_body(address=address)
    body["smtp"] = {**body["smtp"], "username": address, "password": password}
    return address, password, body


def mailbox_action(clinic: Clinic, action: str) -> dict[str, Any]:
    response = call("POST", "settings", f"/mailboxes/tenant:{action}", bearer=clinic.admin)
    assert response.status_code == 200, response.text
    answered: dict[str, Any] = response.json()
    return answered


def notifications(clinic: Clinic) -> list[dict[str, Any]]:
    listed = call("GET", "activity", "/notifications", bearer=clinic.admin).json()
    found: list[dict[str, Any]] = listed["notifications"]
    return found


def test_resuming_a_reverted_smtp_mailbox_logs_in_to_its_own_server(clinic, unique_id):
    address, password, body = own_mailbox(clinic, unique_id)
    confirmed_smtp_mailbox(clinic, body)
    assert mailbox_action(clinic, "revert")["state"] == "reverted"
    resumed = mailbox_action(clinic, "resume")
    assert resumed["state"] == "active"
    assert resumed["last_tested_at"]
    assert reached_google(password) == []

    mailbox_action(clinic, "revert")
    devtools.add_mail_user(address)  # a new app password: the stored one stops working
    resumed = mailbox_action(clinic, "resume")
    assert resumed["state"] == "broken"
    assert resumed["last_error"]["code"] == "wrong_password"
    assert "Google" not in json.dumps(resumed["last_error"])
    assert reached_google(password) == []


def test_connecting_gmail_over_an_smtp_mailbox_sends_its_password_nowhere(clinic, unique_id):
    call("PATCH", "settings", bearer=clinic.admin, body={"integrations": {"smtp_imap": True}})
    _, password, body = own_mailbox(clinic, unique_id)
    assert save(clinic, body).status_code == 200
    account = clinic.google("replacing")
    assert connect(clinic, account).query["sendvia_result"] == "connected"
    mailbox = settings_of(clinic.admin)["mailboxes"]["tenant"]
    assert (mailbox["provider"], mailbox["address"]) == ("gmail", account)
    assert reached_google(password) == []


def test_a_refused_smtp_password_is_explained_in_smtp_terms(clinic, unique_id, recipient):
    address, _, body = own_mailbox(clinic, unique_id)
    confirmed_smtp_mailbox(clinic, body)
    devtools.add_mail_user(address)  # the stored app password stops working
    failed = send(clinic, email(recipient))
    assert failed.status_code == 422, failed.text
    error = failed.json()["error"]
    assert error["code"] == "mailbox_broken"
    assert "Google" not in error["hint"] and "password" in error["hint"]
    mailbox = settings_of(clinic.admin)["mailboxes"]["tenant"]
    assert mailbox["state"] == "broken"
    assert "Google" not in json.dumps(mailbox["last_error"])
    [notice] = notifications(clinic)
    assert notice["kind"] == "mailbox_broken"
    assert "Google" not in notice["message"] + notice["hint"]
    assert "password" in notice["hint"]


def test_a_server_that_stops_offering_login_breaks_the_mailbox_at_test_as_at_send(
    clinic, unique_id, certs, project, recipient
):
    sending = make_clinic(f"{unique_id}s")
    with misbehaving(Behaviour.AUTH_NOT_OFFERED, certs) as bad_port:
        smtp_mailbox_at(clinic, project, bad_port)
        smtp_mailbox_at(sending, project, bad_port)
        result = run_test(clinic)
        sent = send(sending, email(recipient))
    assert [(s["name"], s["cause"]) for s in result["steps"] if not s["ok"]] == [
        ("auth", "auth_not_offered")
    ]
    assert sent.status_code == 422, sent.text
    assert sent.json()["error"]["code"] == "mailbox_broken"
    assert settings_of(sending.admin)["mailboxes"]["tenant"]["state"] == "broken"
    assert settings_of(clinic.admin)["mailboxes"]["tenant"]["state"] == "broken"
    assert relay_messages(recipient) == []


def test_a_failed_copy_to_the_sent_folder_is_recorded_and_logged(
    clinic, unique_id, recipient, project
):
    _, _, body = own_mailbox(clinic, unique_id)
    confirmed_smtp_mailbox(clinic, body)
    firestore.Client(project=project).document(f"tenants/{clinic.tenant}/mailboxes/tenant").update(
        {"sent_folder": "Gone Folder"}
    )  # the folder was deleted on the server since it was chosen
    response = send(clinic, email(recipient))
    assert response.status_code == 200, response.text
    answered = response.json()["delivery"]
    assert answered["state"] == "sent"
    assert sink_for(recipient, "Your invoice")  # the email itself went
    [warning] = answered["warnings"]
    assert warning["code"] == "sent_copy_failed"
    assert "Gone Folder" in warning["message"]
    assert warning["hint"]
    assert delivery(project, clinic, answered["id"])["warnings"] == [warning]
    log = (stack_logs() / "functions.log").read_text(errors="replace")
    assert any(
        "sent_copy_failed" in line and answered["id"] in line for line in log.splitlines()
    ), "the failed copy is not logged"
