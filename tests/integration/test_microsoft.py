"""Microsoft 365 and Outlook.com mailboxes through the fake Microsoft, with the real libraries:
"Sign in with Microsoft" (PKCE, the same oauth_callback), sending through Graph once, the
connection test, dead grants breaking the mailbox once, and refresh tokens rotating."""

from __future__ import annotations

import pytest
from google.cloud import firestore

from tests.integration.api import call
from tests.integration.clinic import Clinic, settings_of
from tests.integration.google_flow import Browser
from tests.integration.helpers import delivery, email, eventually, queued, state_is
from tests.integration.microsoft_flow import connect, fake, sent_by, start


@pytest.fixture
def microsoft_clinic(clinic: Clinic) -> Clinic:
    switched = call(
        "PATCH", "settings", bearer=clinic.admin, body={"integrations": {"microsoft": True}}
    )
    assert switched.status_code == 200, switched.text
    return clinic


def connected(clinic: Clinic, account: str, mailbox: str = "tenant", **options: bool) -> None:
    bearer = clinic.admin if mailbox == "tenant" else clinic.member
    outcome = connect(Browser(), start(bearer, mailbox, **options), account)
    assert outcome.query.get("sendvia_result") == "connected", outcome.location


def test_a_tenant_mailbox_connects_and_sends_through_graph_once(
    microsoft_clinic, recipient, project
):
    account = microsoft_clinic.google("front-desk").replace("@gmail.example", "@contoso.example")
    connected(microsoft_clinic, account)
    mailbox = settings_of(microsoft_clinic.admin)["mailboxes"]["tenant"]
    assert (mailbox["provider"], mailbox["state"], mailbox["address"]) == (
        "microsoft",
        "active",
        account,
    )
    stored = (
        firestore.Client(project=project)
        .document(f"tenants/{microsoft_clinic.tenant}/mailboxes/tenant")
        .get()
        .to_dict()
    )
    assert stored["account_id"] and "/" in stored["account_id"]  # tid/oid, not the address
    answer = call(
        "POST", "send", bearer=microsoft_clinic.admin, body=email(recipient, attachments=[])
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["delivery"]["state"] == "sent"
    delivery_id = queued(microsoft_clinic, recipient)
    eventually(state_is(project, microsoft_clinic, delivery_id, "sent"), timeout=30)
    sent = sent_by(account)
    assert len(sent) == 2
    assert {m["internetMessageId"] for m in sent} >= {
        delivery(project, microsoft_clinic, delivery_id)["message_id"]
    }


def test_a_declined_sign_in_and_an_admin_consent_requirement_land_back_clearly(microsoft_clinic):
    account = microsoft_clinic.google("declines").replace("@gmail.example", "@fabrikam.example")
    declined = connect(Browser(), start(microsoft_clinic.admin), account, accept=False)
    assert declined.query["sendvia_result"] == "denied"
    fake(f"/_fake/accounts/{account}:admin_consent_required", "POST")
    blocked = connect(Browser(), start(microsoft_clinic.admin), account)
    assert blocked.query["sendvia_result"] == "admin_consent_required"
    assert "tenant" not in settings_of(microsoft_clinic.admin)["mailboxes"] or (
        settings_of(microsoft_clinic.admin)["mailboxes"]["tenant"] is None
    )


def test_the_connection_test_sends_to_the_users_own_address(microsoft_clinic):
    account = microsoft_clinic.google("tested").replace("@gmail.example", "@contoso.example")
    connected(microsoft_clinic, account)
    result = call(
        "POST", "test_connection", bearer=microsoft_clinic.admin, body={"mailbox": "tenant"}
    )
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["ok"], body
    assert [s["name"] for s in body["steps"]] == ["token", "send"]
    assert any("Test" in m["subject"] for m in sent_by(account))


@pytest.mark.parametrize("dead", ["revoke", "password_changed", "inactive", "mfa_required"])
def test_a_dead_grant_breaks_the_mailbox_with_one_notification(microsoft_clinic, recipient, dead):
    account = microsoft_clinic.google(f"dead-{dead}").replace("@gmail.example", "@contoso.example")
    connected(microsoft_clinic, account)
    fake(f"/_fake/accounts/{account}:{dead}", "POST")
    fake(f"/_fake/accounts/{account}:expire_tokens", "POST")
    for _ in range(2):
        failed = call(
            "POST", "send", bearer=microsoft_clinic.admin, body=email(recipient, attachments=[])
        )
        assert failed.status_code == 422, failed.text
        assert failed.json()["error"]["code"] == "mailbox_broken"
    assert settings_of(microsoft_clinic.admin)["mailboxes"]["tenant"]["state"] == "broken"
    notices = call("GET", "activity", "/notifications", bearer=microsoft_clinic.admin).json()
    assert [n["kind"] for n in notices["notifications"]].count("mailbox_broken") == 1
    fake(f"/_fake/accounts/{account}:restore", "POST")
    connected(microsoft_clinic, account)  # re-authorize
    assert settings_of(microsoft_clinic.admin)["mailboxes"]["tenant"]["state"] == "active"


# The restarted functions host outlives the test's reference to its process (the stack stops it).
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_rotated_refresh_token_is_stored_once_a_day_and_old_versions_destroyed(
    microsoft_clinic, recipient, project
):
    account = microsoft_clinic.google("rotates").replace("@gmail.example", "@contoso.example")
    connected(microsoft_clinic, account)
    doc = firestore.Client(project=project).document(
        f"tenants/{microsoft_clinic.tenant}/mailboxes/tenant"
    )
    first = doc.get().to_dict()["secret_version"]
    fake(f"/_fake/accounts/{account}:expire_tokens", "POST")  # the next send refreshes
    call("POST", "send", bearer=microsoft_clinic.admin, body=email(recipient, attachments=[]))
    assert doc.get().to_dict()["secret_version"] == first  # stored less than a day ago
    import datetime as dt

    doc.update({"secret_stored_at": dt.datetime.now(dt.UTC) - dt.timedelta(days=2)})
    fake(f"/_fake/accounts/{account}:expire_tokens", "POST")
    sent = call(
        "POST", "send", bearer=microsoft_clinic.admin, body=email(recipient, attachments=[])
    )
    assert sent.status_code == 200, sent.text
    second = eventually(lambda: (v := doc.get().to_dict()["secret_version"]) != first and v)
    assert second.rsplit("/", 1)[-1] > first.rsplit("/", 1)[-1]
    # After a restart of the functions (SIGKILL), the next refresh uses the stored token.
    from sendvia.adapters.google_clients import secret_manager_client

    from emulators import stack

    stored = secret_manager_client().access_secret_version(name=second).payload.data.decode()
    stack.kill_functions("test")
    fake(f"/_fake/accounts/{account}:expire_tokens", "POST")
    again = call(
        "POST", "send", bearer=microsoft_clinic.admin, body=email(recipient, attachments=[])
    )
    assert again.status_code == 200, again.text
    redeemed = fake(f"/_fake/accounts/{account}/redeemed").json()["refresh_tokens"]
    assert redeemed[-1] == stored


def contoso(clinic: Clinic, name: str) -> str:
    return clinic.google(name).replace("@gmail.example", "@contoso.example")


def test_a_members_own_mailbox_and_a_scheduled_email_go_once(microsoft_clinic, recipient, project):
    account = contoso(microsoft_clinic, "member-own")
    per_user = {"mailbox_policy": "per_user"}
    assert (
        call("PATCH", "settings", bearer=microsoft_clinic.admin, body=per_user).status_code == 200
    )
    member_box = "me"
    outcome = connect(Browser(), start(microsoft_clinic.member, member_box), account)
    assert outcome.query.get("sendvia_result") == "connected", outcome.location
    import datetime as dt

    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).isoformat()
    scheduled = call(
        "POST",
        "send",
        bearer=microsoft_clinic.member,
        body=email(
            recipient, attachments=[], mode="queue", category="appointment_reminder", send_at=soon
        ),
    )
    assert scheduled.status_code == 202, scheduled.text
    delivery_id = scheduled.json()["delivery"]["id"]
    assert call("POST", "reminders", body={}).status_code == 200
    eventually(state_is(project, microsoft_clinic, delivery_id, "sent"), timeout=30)
    assert len(sent_by(account)) == 1


def test_a_throttled_mailbox_defers_and_sends_later_without_a_retry_storm(
    microsoft_clinic, recipient, project
):
    account = contoso(microsoft_clinic, "throttled")
    connected(microsoft_clinic, account)
    fake(f"/_fake/accounts/{account}:limits", "POST", json={"per_minute": 2, "window_s": 4})
    ids = [queued(microsoft_clinic, recipient) for _ in range(5)]
    for delivery_id in ids:
        eventually(state_is(project, microsoft_clinic, delivery_id, "sent"), timeout=60)
    assert len(sent_by(account)) == 5
    listed = fake("/_fake/accounts").json()["accounts"]
    throttled = next(a["throttled"] for a in listed if a["email"] == account)
    assert throttled <= 3, f"{throttled} throttled answers: the mailbox kept asking"


def test_revert_resume_and_forget(microsoft_clinic, project):
    account = contoso(microsoft_clinic, "lifecycle")
    connected(microsoft_clinic, account)

    def action(verb: str):
        return call("POST", "settings", f"/mailboxes/tenant:{verb}", bearer=microsoft_clinic.admin)

    assert action("revert").json()["state"] == "reverted"
    assert action("resume").json()["state"] == "active"
    forgotten = call("DELETE", "settings", "/mailboxes/tenant", bearer=microsoft_clinic.admin)
    assert forgotten.status_code in (200, 204), forgotten.text
    doc = firestore.Client(project=project).document(
        f"tenants/{microsoft_clinic.tenant}/mailboxes/tenant"
    )
    assert not doc.get().exists


def test_a_replayed_callback_and_a_test_email_subject(microsoft_clinic):
    account = contoso(microsoft_clinic, "replayed")
    browser = Browser()
    microsoft_url = browser.google_url(start(microsoft_clinic.admin))
    page = browser.session.get(microsoft_url, timeout=30)
    import html
    import re

    fields = [
        (k, html.unescape(v))
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    ]
    answer = browser.session.post(
        microsoft_url.split("?")[0],
        data=[*fields, ("email", account), ("decision", "accept")],
        allow_redirects=False,
        timeout=30,
    )
    callback = answer.headers["Location"]
    assert browser.land(callback).query["sendvia_result"] == "connected"
    replayed = browser.land(callback)
    assert replayed.status != 302 or "connected" not in replayed.location
    tested = call(
        "POST", "test_connection", bearer=microsoft_clinic.admin, body={"mailbox": "tenant"}
    )
    assert tested.json()["ok"], tested.text
    subjects = [m["subject"] for m in sent_by(account)]
    assert any(s.startswith("Microsoft Test Connection from") for s in subjects), subjects


def test_an_office365_app_password_mailbox_switches_to_microsoft_in_one_step(
    microsoft_clinic, recipient, certs, project
):
    """Microsoft turned SMTP AUTH off: the test says so (basic_auth_disabled, with the way
    out), the admin signs in with Microsoft for the same mailbox, which keeps its id and name,
    and the stored password is destroyed once the sign-in worked."""
    from sendvia.adapters.google_clients import secret_manager_client
    from sendvia.domain.mailbox import mailbox_secret_id

    from emulators.mail.misbehaving import Behaviour, scripted_server
    from tests.integration.helpers import smtp_mailbox_at

    with scripted_server(Behaviour.BASIC_AUTH_DISABLED, certs) as server:
        smtp_mailbox_at(microsoft_clinic, project, server.port)
        firestore.Client(project=project).document(
            f"tenants/{microsoft_clinic.tenant}/mailboxes/tenant"
        ).update({"display_name": "Riverside Front Desk"})  # as the settings form saved it
        tested = call(
            "POST", "test_connection", bearer=microsoft_clinic.admin, body={"mailbox": "tenant"}
        )
    failed = next(s for s in tested.json()["steps"] if not s["ok"])
    assert failed["cause"] == "basic_auth_disabled"
    assert "Sign in with Microsoft" in failed["hint"]
    secret = f"projects/{project}/secrets/{mailbox_secret_id(microsoft_clinic.tenant, 'tenant')}"
    assert len(list(secret_manager_client().list_secret_versions(parent=secret))) >= 1

    account = "front@riverside.example"
    connected(microsoft_clinic, account)
    mailbox = settings_of(microsoft_clinic.admin)["mailboxes"]["tenant"]
    assert (mailbox["id"], mailbox["provider"], mailbox["state"]) == (
        "tenant",
        "microsoft",
        "active",
    )
    stored = (
        firestore.Client(project=project)
        .document(f"tenants/{microsoft_clinic.tenant}/mailboxes/tenant")
        .get()
        .to_dict()
    )
    assert stored["switched_from"] == "smtp"
    assert stored["display_name"] == "Riverside Front Desk"
    versions = list(secret_manager_client().list_secret_versions(parent=secret))
    enabled = [v for v in versions if v.state.name == "ENABLED"]
    assert [v.name for v in enabled] == [stored["secret_version"]]  # the password is destroyed
    sent = call(
        "POST", "send", bearer=microsoft_clinic.admin, body=email(recipient, attachments=[])
    )
    assert sent.status_code == 200, sent.text
    assert len(sent_by(account)) == 1


def test_large_attachments_go_through_an_upload_session(microsoft_clinic, recipient):
    """Over Graph's 4 MB request, the email goes as a JSON draft: a 1 MB attachment inline and
    a 5 MB one in ordered chunks to an upload session; the Message-ID is kept."""
    import base64
    import os as _os

    account = contoso(microsoft_clinic, "large")
    connected(microsoft_clinic, account)
    big, small = _os.urandom(5 * 1024 * 1024), _os.urandom(1024 * 1024)
    body = email(
        recipient,
        attachments=[
            {
                "filename": "scan.pdf",
                "content_type": "application/pdf",
                "content": base64.b64encode(big).decode(),
            },
            {
                "filename": "note.txt",
                "content_type": "text/plain",
                "content": base64.b64encode(small).decode(),
            },
        ],
    )
    answer = call("POST", "send", bearer=microsoft_clinic.admin, body=body)
    assert answer.status_code == 200, answer.text
    [message] = sent_by(account)
    assert sorted((a["name"], a["size"]) for a in message["attachments"]) == [
        ("note.txt", len(small)),
        ("scan.pdf", len(big)),
    ]
    assert message["internetMessageId"] == answer.json()["delivery"]["message_id"]
    assert message["body"]["contentType"] == "HTML"


def test_a_burst_from_one_mailbox_keeps_to_graphs_four_concurrent_requests(
    microsoft_clinic, recipient
):
    from concurrent.futures import ThreadPoolExecutor

    account = contoso(microsoft_clinic, "burst")
    connected(microsoft_clinic, account)
    fake(f"/_fake/accounts/{account}:limits", "POST", json={"per_minute": 1000})

    def one(_: int) -> int:
        body = email(recipient, attachments=[])
        return call("POST", "send", bearer=microsoft_clinic.admin, body=body).status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(one, range(24)))
    assert statuses == [200] * 24
    assert len(sent_by(account)) == 24
    listed = fake("/_fake/accounts").json()["accounts"]
    assert next(a["throttled"] for a in listed if a["email"] == account) == 0


def test_a_draft_left_by_a_dead_attempt_is_not_taken_for_a_sent_email(
    microsoft_clinic, recipient, project
):
    """An attempt created the draft (it carries our Message-ID) and died before sending it. The
    next attempt searches Sent Items, not every folder: the draft is no proof, and the email is
    sent once."""
    import datetime as dt

    from sendvia.services.attempt import message_id_for

    account = contoso(microsoft_clinic, "draft-left")
    outcome = connect(Browser(), start(microsoft_clinic.admin, receive=True), account)
    assert outcome.query.get("sendvia_result") == "connected", outcome.location
    fake(f"/_fake/accounts/{account}:limits", "POST", json={"per_minute": 0})  # hold it queued
    delivery_id = queued(microsoft_clinic, recipient)
    eventually(lambda: delivery(project, microsoft_clinic, delivery_id).get("due_at"), timeout=30)
    fake(f"/_fake/accounts/{account}:limits", "POST", json={"per_minute": 30})
    message_id = message_id_for(microsoft_clinic.tenant, delivery_id, account.split("@")[1])
    fake(f"/_fake/accounts/{account}/drafts", "POST", json={"internetMessageId": message_id})
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    doc = firestore.Client(project=project).document(
        f"tenants/{microsoft_clinic.tenant}/deliveries/{delivery_id}"
    )
    doc.update(  # as the dead attempt left it: handed over to the mailbox, lease passed
        {
            "state": "sending",
            "attempts": 9,
            "handed_over": 9,
            "lease_until": past,
            "handed_to": {"mailbox": "tenant", "address": account, "route": {}, "at": past},
        }
    )
    assert call("POST", "reminders", body={}).json()["recovered"] >= 1
    eventually(state_is(project, microsoft_clinic, delivery_id, "sent"), timeout=30)
    sent = [m for m in sent_by(account) if m["internetMessageId"] == message_id]
    assert len(sent) == 1
