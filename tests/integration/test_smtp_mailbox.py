"""SMTP/IMAP mailboxes with app passwords, through the functions, against Dovecot, the sink and
the misbehaving provider."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import time

import pytest
from google.cloud import firestore
from imapclient import IMAPClient
from sendvia.domain.mailbox_settings import PASSWORD_DOTS

from emulators.mail.misbehaving import Behaviour, misbehaving
from tests.integration.api import call, token
from tests.integration.clinic import Clinic
from tests.integration.helpers import (
    DEMO,
    HOST,
    code_from,
    port,
    run_test,
    save,
    settings_body,
    sink_for,
)


@pytest.fixture
def smtp_clinic(clinic: Clinic) -> Clinic:
    response = call(
        "PATCH", "settings", bearer=clinic.admin, body={"integrations": {"smtp_imap": True}}
    )
    assert response.status_code == 200
    return clinic


# -- saving ------------------------------------------------------------------------------------


def test_settings_are_trimmed_masked_and_pending(smtp_clinic):
    body = settings_body()
    body["smtp"] = {**body["smtp"], "host": "  127.0.0.1 ", "username": f"  {DEMO}  "}
    response = save(smtp_clinic, body)
    assert response.status_code == 200, response.text
    mailbox = response.json()
    assert mailbox["state"] == "pending_confirmation"
    assert mailbox["smtp"]["host"] == HOST
    assert mailbox["smtp"]["username"] == DEMO
    assert mailbox["smtp"]["password"] == PASSWORD_DOTS
    assert len(mailbox["smtp"]["password"]) == 14
    assert mailbox["imap"]["username"] == DEMO  # defaults to the address
    assert mailbox["imap"]["password"] == PASSWORD_DOTS
    again = call("GET", "settings", "/mailboxes/tenant", bearer=smtp_clinic.admin).json()
    assert again["smtp"]["password"] == PASSWORD_DOTS


@pytest.mark.parametrize(
    ("preset", "smtp_host", "imap_host", "warned"),
    [
        ("gmail", "smtp.gmail.com", "imap.gmail.com", False),
        ("office365", "smtp.office365.com", "outlook.office365.com", True),
    ],
)
def test_presets(smtp_clinic, preset, smtp_host, imap_host, warned):
    response = save(
        smtp_clinic,
        {
            "preset": preset,
            "address": "front@riverside.example",
            "smtp": {"password": "abcdefghijklmnop"},
        },
    )
    assert response.status_code == 200, response.text
    mailbox = response.json()
    assert (mailbox["smtp"]["host"], mailbox["smtp"]["port"], mailbox["smtp"]["security"]) == (
        smtp_host,
        587,
        "starttls",
    )
    assert (mailbox["imap"]["host"], mailbox["imap"]["port"], mailbox["imap"]["security"]) == (
        imap_host,
        993,
        "tls",
    )
    assert mailbox["smtp"]["username"] == "front@riverside.example"
    codes = [w["code"] for w in mailbox["warnings"]]
    assert codes == (["basic_auth_retiring"] if warned else [])
    if warned:
        assert "Microsoft is retiring basic authentication" in mailbox["warnings"][0]["message"]


def test_the_14_dots_keep_the_stored_password(smtp_clinic):
    assert save(smtp_clinic, settings_body()).status_code == 200
    body = settings_body()
    body["smtp"] = {**body["smtp"], "password": PASSWORD_DOTS}
    body["display_name"] = "Front Desk"
    assert save(smtp_clinic, body).status_code == 200
    result = run_test(smtp_clinic)
    assert result["ok"], result["steps"]


def test_a_first_save_needs_a_password(smtp_clinic):
    body = settings_body()
    body["smtp"] = {**body["smtp"], "password": PASSWORD_DOTS}
    response = save(smtp_clinic, body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "smtp.password"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "smtp": {
                    "host": "smtp.exa mple.com",
                    "port": 587,
                    "security": "starttls",
                    "password": "x",
                }
            },
            "smtp.host",
        ),
        (
            {
                "smtp": {
                    "host": "smtp.example.com",
                    "port": 587,
                    "security": "starttls",
                    "username": "ann @example.com",
                    "password": "x",
                }
            },
            "smtp.username",
        ),
        (
            {
                "smtp": {
                    "host": "smtp.example.com",
                    "port": 70000,
                    "security": "starttls",
                    "password": "x",
                }
            },
            "smtp.port",
        ),
        (
            {
                "smtp": {
                    "host": "smtp.example.com",
                    "port": "587",
                    "security": "starttls",
                    "password": "x",
                }
            },
            "smtp.port",
        ),
        (
            {"smtp": {"host": "smtp.example.com", "port": 587, "security": "ssl", "password": "x"}},
            "smtp.security",
        ),
        ({"smtp": {"port": 587, "security": "starttls", "password": "x"}}, "smtp.host"),
        ({"address": "not an address"}, "address"),
        ({"display_name": "Evil\r\nBcc: x@evil.test"}, "display_name"),
        ({"preset": "yahoo"}, "preset"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_settings_name_the_field(smtp_clinic, change, field):
    response = save(smtp_clinic, settings_body(**change))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field


def test_who_may_save_what(smtp_clinic):
    assert save(smtp_clinic, settings_body(), bearer=smtp_clinic.member).status_code == 403
    refused = save(smtp_clinic, settings_body(), mailbox="me", bearer=smtp_clinic.member)
    assert refused.json()["error"]["code"] == "policy_tenant_mailbox"
    call("PATCH", "settings", bearer=smtp_clinic.admin, body={"mailbox_policy": "per_user"})
    assert (
        save(smtp_clinic, settings_body(), mailbox="me", bearer=smtp_clinic.member).status_code
        == 200
    )
    call("PATCH", "settings", bearer=smtp_clinic.admin, body={"integrations": {"smtp_imap": False}})
    off = save(smtp_clinic, settings_body())
    assert (off.status_code, off.json()["error"]["code"]) == (422, "integration_off")


# -- testing and confirming --------------------------------------------------------------------


def test_the_test_email_arrives_with_a_code_and_a_copy_in_sent(smtp_clinic):
    save(smtp_clinic, settings_body())
    result = run_test(smtp_clinic)
    assert result["ok"] is True, result["steps"]
    assert [s["name"] for s in result["steps"]] == [
        "resolve",
        "connect",
        "tls",
        "auth",
        "send",
        "imap_login",
        "sent_folder",
    ]
    assert result["state"] == "pending_confirmation"
    assert result["confirmation"] == "sent"
    [message] = sink_for(smtp_clinic.admin_email, "SMTP Test Connection from Riverside Clinic")
    code = code_from(message)
    tls = ssl.create_default_context(cafile=os.environ["SENDVIA_TLS_CA_FILE"])
    with IMAPClient(HOST, port=port("IMAPS"), ssl=True, ssl_context=tls, timeout=10) as imap:
        imap.login(DEMO, os.environ["MAIL_DEMO_PASSWORD"])
        imap.select_folder("Sent", readonly=True)
        assert imap.search(["BODY", code])  # the very message, read back over IMAP


def test_confirmation_by_code(smtp_clinic, project):
    save(smtp_clinic, settings_body())
    nothing = call(
        "POST",
        "test_connection/confirm",
        bearer=smtp_clinic.admin,
        body={"mailbox": "tenant", "code": "123456"},
    )
    assert (nothing.status_code, nothing.json()["error"]["code"]) == (409, "nothing_to_confirm")
    run_test(smtp_clinic)
    code = code_from(sink_for(smtp_clinic.admin_email, "SMTP Test Connection")[-1])
    wrong = call(
        "POST",
        "test_connection/confirm",
        bearer=smtp_clinic.admin,
        body={"mailbox": "tenant", "code": "000000" if code != "000000" else "111111"},
    )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, "invalid_code")
    assert wrong.json()["error"]["field"] == "code"
    assert call("GET", "settings", bearer=smtp_clinic.admin).json()["route"]["via"] == "default"
    right = call(
        "POST",
        "test_connection/confirm",
        bearer=smtp_clinic.admin,
        body={"mailbox": "tenant", "code": code},
    )
    assert right.status_code == 200
    assert right.json()["state"] == "active"
    route = call("GET", "settings", bearer=smtp_clinic.admin).json()["route"]
    assert (route["via"], route["from"]) == ("mailbox", f"Riverside Reception <{DEMO}>")


def test_expired_and_exhausted_codes_are_refused(smtp_clinic, project):
    save(smtp_clinic, settings_body())
    run_test(smtp_clinic)
    db = firestore.Client(project=project)
    ref = db.document(f"tenants/{smtp_clinic.tenant}/mailboxes/tenant")
    pending = ref.get().to_dict()["confirmation"]
    ref.update({"confirmation": {**pending, "expires_at": dt.datetime.now(dt.UTC)}})
    expired = call(
        "POST",
        "test_connection/confirm",
        bearer=smtp_clinic.admin,
        body={"mailbox": "tenant", "code": "123456"},
    )
    assert expired.json()["error"]["code"] == "code_expired"
    ref.update({"confirmation": {**pending, "attempts": 5}})
    exhausted = call(
        "POST",
        "test_connection/confirm",
        bearer=smtp_clinic.admin,
        body={"mailbox": "tenant", "code": "123456"},
    )
    assert exhausted.json()["error"]["code"] == "too_many_attempts"


def test_folders_are_listed_and_a_chosen_one_gets_the_copy(smtp_clinic):
    save(smtp_clinic, settings_body())
    listed = call("GET", "settings", "/mailboxes/tenant/folders", bearer=smtp_clinic.admin)
    assert listed.status_code == 200
    assert listed.json()["suggested_sent"] == "Sent"
    assert {"name": "Drafts", "special_use": "\\Drafts"} in listed.json()["folders"]
    save(smtp_clinic, settings_body(sent_folder="Drafts"))
    result = run_test(smtp_clinic)
    assert result["steps"][-1]["reply"] == "Saved a copy in Drafts"


# -- what goes wrong, and why ------------------------------------------------------------------


def test_a_wrong_password_at_dovecot(smtp_clinic):
    body = settings_body()
    body["smtp"] = {**body["smtp"], "password": "not-the-app-password"}
    save(smtp_clinic, body)
    result = run_test(smtp_clinic)
    failed = result["steps"][-1]
    assert (failed["name"], failed["cause"]) == ("auth", "wrong_password")
    assert failed["reply"].startswith("535")
    mailbox = call("GET", "settings", "/mailboxes/tenant", bearer=smtp_clinic.admin).json()
    assert mailbox["last_error"]["code"] == "wrong_password"

    save(smtp_clinic, settings_body())  # the right app password: the test passes
    assert run_test(smtp_clinic)["ok"]
    mailbox = call("GET", "settings", "/mailboxes/tenant", bearer=smtp_clinic.admin).json()
    assert mailbox["last_error"] is None, "a passing test leaves no stale error on screen"


@pytest.mark.parametrize(
    ("behaviour", "step", "cause"),
    [
        (Behaviour.APP_PASSWORD_REQUIRED, "auth", "app_password_required"),
        (Behaviour.BASIC_AUTH_DISABLED, "auth", "basic_auth_disabled"),
        (Behaviour.WRONG_PASSWORD, "auth", "wrong_password"),
        (Behaviour.BUSY_GREETING, "tls", "server_unavailable"),
        (Behaviour.TEMPORARY_FAILURE, "send", "temporary_failure"),
        (Behaviour.DROP_IN_DATA, "send", "connection_dropped"),
        (Behaviour.UNTRUSTED_CERTIFICATE, "tls", "certificate_untrusted"),
    ],
)
def test_each_cause_comes_with_its_fix(smtp_clinic, certs, behaviour, step, cause):
    with misbehaving(behaviour, certs) as bad_port:
        body = settings_body()
        body["smtp"] = {**body["smtp"], "port": bad_port}
        save(smtp_clinic, body)
        result = run_test(smtp_clinic)
    failed = next(s for s in result["steps"] if not s["ok"])
    assert (failed["name"], failed["cause"]) == (step, cause)
    assert failed["reply"] and failed["hint"]
    assert result["ok"] is False
    assert result["state"] == "pending_confirmation"


@pytest.mark.parametrize(
    ("smtp_port", "security"), [("SUBMISSION", "tls"), ("SUBMISSIONS", "starttls")]
)
def test_tls_on_the_wrong_port(smtp_clinic, smtp_port, security):
    body = settings_body()
    body["smtp"] = {**body["smtp"], "port": port(smtp_port), "security": security}
    save(smtp_clinic, body)
    failed = run_test(smtp_clinic)["steps"][-1]
    assert (failed["name"], failed["cause"]) == ("tls", "tls_mismatch")
    assert "465" in failed["hint"]


def test_a_stalled_server_cannot_hang_the_test(smtp_clinic, certs):
    with misbehaving(Behaviour.STALL, certs) as bad_port:
        body = settings_body()
        body["smtp"] = {**body["smtp"], "port": bad_port}
        save(smtp_clinic, body)
        started = time.monotonic()
        result = run_test(smtp_clinic)
        took = time.monotonic() - started
    failed = result["steps"][-1]
    assert (failed["name"], failed["cause"]) == ("tls", "timeout")
    assert "'tls'" in failed["reply"]
    assert took < 30  # its limit, not the function's 60 s timeout


@pytest.mark.parametrize("host", ["10.0.0.8", "169.254.169.254", "192.168.1.1"])
def test_internal_hosts_are_refused(smtp_clinic, host):
    body = settings_body()
    body["smtp"] = {**body["smtp"], "host": host}
    save(smtp_clinic, body)
    result = run_test(smtp_clinic)
    assert [s["name"] for s in result["steps"]] == ["resolve"]
    assert result["steps"][0]["cause"] == "host_not_allowed"


def test_a_password_changed_on_the_server_breaks_an_active_mailbox(smtp_clinic, unique_id):
    from sendvia import devtools

    address = f"desk-{unique_id}@clinic.test"
    password = devtools.add_mail_user(address)
    body = settings_body(address=address)
    body["smtp"] = {**body["smtp"], "username": address, "password": password}
    save(smtp_clinic, body)
    run_test(smtp_clinic)
    code = code_from(sink_for(smtp_clinic.admin_email, "SMTP Test Connection")[-1])
    call(
        "POST",
        "test_connection/confirm",
        bearer=smtp_clinic.admin,
        body={"mailbox": "tenant", "code": code},
    )
    devtools.add_mail_user(address)  # a new app password: the stored one stops working
    result = run_test(smtp_clinic)
    assert result["state"] == "broken"
    notices = call("GET", "activity", "/notifications", bearer=smtp_clinic.admin).json()
    assert [n["kind"] for n in notices["notifications"]] == ["mailbox_broken"]


def test_another_member_cannot_read_a_members_mailbox(smtp_clinic, unique_id):
    other = token(smtp_clinic.tenant, f"other-{unique_id}", "member")
    response = call("GET", "settings", f"/mailboxes/user-{smtp_clinic.member_uid}", bearer=other)
    assert response.status_code == 404


def test_a_wrong_imap_password_is_named_at_the_imap_step(smtp_clinic):
    body = settings_body()
    body["imap"] = {**body["imap"], "password": "not-the-imap-password"}
    save(smtp_clinic, body)
    failed = run_test(smtp_clinic)["steps"][-1]
    assert (failed["name"], failed["cause"]) == ("imap_login", "wrong_password")
    assert "AUTHENTICATIONFAILED" in failed["reply"]
