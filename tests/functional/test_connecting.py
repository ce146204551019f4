"""Connecting a mailbox in process: the sign-in flow with a fake provider, the SMTP settings, the
connection test and its confirmation code."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import Provider

from tests.fakes import Fakes
from tests.functional.conftest import TENANT, Client, smtp_mailbox, switch_on

RETURN_TO = "https://app.clinic.test/settings"


def allow_return(client: Client, admin: str) -> None:
    body = {"return_origins": ["https://app.clinic.test"], "integrations": {"gmail": True}}
    assert client.call("PATCH", "settings", token=admin, body=body).status_code == 200


def sign_in(client: Client, admin: str, code: str = "c1") -> dict[str, list[str]]:
    """Start, open the link in a browser, consent, come back: the return_to query."""
    started = client.call(
        "POST", "oauth_start", token=admin, body={"mailbox": "tenant", "return_to": RETURN_TO}
    )
    assert started.status_code == 200, started.json
    link = urlsplit(started.json["authorization_url"])
    begun = client.call("GET", "oauth_callback", f"/begin?{link.query}")
    assert begun.status_code == 302
    cookie = begun.headers["Set-Cookie"].split(";")[0]
    state = parse_qs(urlsplit(begun.headers["Location"]).query)["state"][0]
    finished = client.call(
        "GET", "oauth_callback", f"/?state={state}&code={code}", headers={"Cookie": cookie}
    )
    assert finished.status_code == 302
    return parse_qs(urlsplit(finished.headers["Location"]).query)


def test_signing_in_connects_the_mailbox_and_keeps_the_token_in_secrets_only(
    client, fakes: Fakes, admin
):
    allow_return(client, admin)
    assert sign_in(client, admin)["sendvia_result"] == ["connected"]
    mailbox = fakes.mailboxes.get(TENANT, "tenant")
    assert (mailbox.provider, mailbox.state.value) == (Provider.GMAIL, "active")
    assert fakes.secrets.live() == [b"refresh-c1"]
    assert "refresh-c1" not in str(fakes.mailboxes.docs)


def test_a_grant_without_the_sending_scope_is_revoked_and_refused(client, fakes: Fakes, admin):
    allow_return(client, admin)
    fakes.google.grant_scopes = ("read",)
    assert sign_in(client, admin)["sendvia_error"] == ["scope_not_granted"]
    assert fakes.google.revoked == ["refresh-c1"]
    assert fakes.mailboxes.get(TENANT, "tenant") is None


def test_signing_in_over_an_smtp_mailbox_revokes_nothing_and_drops_its_password(
    client, fakes: Fakes, admin
):
    allow_return(client, admin)
    password = smtp_mailbox(fakes)
    assert sign_in(client, admin)["sendvia_result"] == ["connected"]
    assert fakes.google.revoked == fakes.gmail.received.revoked == []
    assert all(password.encode() not in v for v in fakes.secrets.live())


def test_a_sign_in_this_deployment_does_not_offer_is_a_503_and_an_unknown_one_a_400(
    client, fakes: Fakes, admin
):
    allow_return(client, admin)
    body = {"mailbox": "tenant", "return_to": RETURN_TO, "provider": "microsoft"}
    answer = client.call("POST", "oauth_start", token=admin, body=body)
    assert (answer.status_code, answer.json["error"]["code"]) == (503, "microsoft_not_configured")
    answer = client.call("POST", "oauth_start", token=admin, body={**body, "provider": "yahoo"})
    assert (answer.status_code, answer.json["error"]["field"]) == (400, "provider")
    fakes.runtime = replace(fakes.runtime, oauth={})
    answer = client.call("POST", "oauth_start", token=admin, body={**body, "provider": "google"})
    assert (answer.status_code, answer.json["error"]["code"]) == (503, "google_not_configured")


def test_a_state_is_used_once_and_only_in_its_browser(client, fakes: Fakes, admin):
    allow_return(client, admin)
    started = client.call(
        "POST", "oauth_start", token=admin, body={"mailbox": "tenant", "return_to": RETURN_TO}
    )
    query = urlsplit(started.json["authorization_url"]).query
    assert client.call("GET", "oauth_callback", f"/begin?{query}").status_code == 302
    assert client.call("GET", "oauth_callback", f"/begin?{query}").status_code == 400


def save(client: Client, admin: str, **changes: object):
    body = {
        "address": "desk@clinic.test",
        "smtp": {"host": "smtp.clinic.test", "port": 587, "security": "starttls"},
        **changes,
    }
    body["smtp"] = {**body["smtp"], "password": "app-password"}  # type: ignore[dict-item]
    return client.call("PUT", "settings", "/mailboxes/tenant", token=admin, body=body)


def test_smtp_settings_are_saved_pending_and_proven_by_the_code_in_the_test_email(
    client, fakes: Fakes, admin
):
    switch_on(client, admin, smtp_imap=True)
    saved = save(client, admin)
    assert saved.status_code == 200, saved.json
    assert saved.json["state"] == "pending_confirmation"
    tested = client.call("POST", "test_connection", token=admin, body={"mailbox": "tenant"})
    assert (tested.json["ok"], tested.json["confirmation"]) == (True, "sent")
    [(_, message, recipients)] = fakes.smtp.received.sent
    assert message["Subject"] == "SMTP Test Connection from Sendvia Demo"
    assert recipients == ("ann@clinic.test",)
    code = re.search(r"confirmation code is (\d{6})", message.get_content()).group(1)
    wrong = client.call(
        "POST", "test_connection", "/confirm", token=admin, body={"mailbox": "tenant", "code": "0"}
    )
    assert (wrong.status_code, wrong.json["error"]["field"]) == (400, "code")
    confirmed = client.call(
        "POST", "test_connection", "/confirm", token=admin, body={"mailbox": "tenant", "code": code}
    )
    assert confirmed.json["state"] == "active"


def test_saving_smtp_over_a_signed_in_mailbox_is_a_conflict(client, fakes: Fakes, admin):
    allow_return(client, admin)
    switch_on(client, admin, smtp_imap=True)
    sign_in(client, admin)
    answer = save(client, admin)
    assert (answer.status_code, answer.json["error"]["code"]) == (409, "mailbox_in_use")


def test_a_test_refused_on_credentials_breaks_an_active_mailbox_not_a_pending_one(
    client, fakes: Fakes, admin
):
    smtp_mailbox(fakes, state="pending_confirmation")
    fakes.smtp.fail_with = ProviderFailure(FailureKind.AUTH, "auth_not_offered", "no AUTH")
    tested = client.call("POST", "test_connection", token=admin, body={"mailbox": "tenant"})
    assert (tested.json["ok"], tested.json["state"]) == (False, "pending_confirmation")
    fakes.mailboxes.update(TENANT, "tenant", {"state": "active"})
    tested = client.call("POST", "test_connection", token=admin, body={"mailbox": "tenant"})
    assert (tested.json["ok"], tested.json["state"]) == (False, "broken")


def test_a_state_written_before_sign_ins_were_named_still_works(client, fakes: Fakes, admin):
    """States live 10 minutes: across a deploy, ones without `sign_in` are Google's."""
    allow_return(client, admin)
    started = client.call(
        "POST", "oauth_start", token=admin, body={"mailbox": "tenant", "return_to": RETURN_TO}
    )
    query = urlsplit(started.json["authorization_url"]).query
    [record] = fakes.oauth_states.records.values()
    record["google_url"] = record.pop("provider_url")
    del record["sign_in"]
    begun = client.call("GET", "oauth_callback", f"/begin?{query}")
    assert begun.status_code == 302
    assert begun.headers["Location"].startswith("https://accounts.test/auth")


def test_a_return_to_with_control_characters_is_a_400(client, fakes: Fakes, admin):
    allow_return(client, admin)
    for bad in (f"{RETURN_TO}\r\nSet-Cookie: x=1", f"{RETURN_TO}\tx", f"{RETURN_TO} x"):
        body = {"mailbox": "tenant", "return_to": bad}
        answer = client.call("POST", "oauth_start", token=admin, body=body)
        assert (answer.status_code, answer.json["error"]["field"]) == (400, "return_to")
    assert fakes.oauth_states.records == {}


def test_someone_else_with_the_callback_url_cannot_spoil_the_sign_in(client, fakes: Fakes, admin):
    """The state is used up only by the browser it is bound to (security review L6)."""
    allow_return(client, admin)
    started = client.call(
        "POST", "oauth_start", token=admin, body={"mailbox": "tenant", "return_to": RETURN_TO}
    )
    link = urlsplit(started.json["authorization_url"])
    begun = client.call("GET", "oauth_callback", f"/begin?{link.query}")
    cookie = begun.headers["Set-Cookie"].split(";")[0]
    state = parse_qs(urlsplit(begun.headers["Location"]).query)["state"][0]
    callback = f"/?state={state}&code=c1"
    stranger = client.call("GET", "oauth_callback", callback, headers={"Cookie": "x=1"})
    assert stranger.status_code == 400
    other_browser = f"sendvia_oauth_browser={'o' * 43}"
    assert (
        client.call(
            "GET", "oauth_callback", callback, headers={"Cookie": other_browser}
        ).status_code
        == 400
    )
    mine = client.call("GET", "oauth_callback", callback, headers={"Cookie": cookie})
    assert mine.status_code == 302
    assert "sendvia_result=connected" in mine.headers["Location"]


def test_a_passing_test_clears_the_failure_of_the_test_before(client, fakes: Fakes, admin):
    """A server that was unreachable a minute ago and answers now: the screen must not keep
    showing the old failure beside the code form."""
    smtp_mailbox(fakes, state="pending_confirmation")
    fakes.smtp.fail_with = ProviderFailure(FailureKind.TRANSIENT, "unreachable", "no route")
    client.call("POST", "test_connection", token=admin, body={"mailbox": "tenant"})
    mailbox = client.call("GET", "settings", "/mailboxes/tenant", token=admin).json
    assert mailbox["last_error"]["code"] == "unreachable"
    fakes.smtp.fail_with = None
    tested = client.call("POST", "test_connection", token=admin, body={"mailbox": "tenant"})
    assert tested.json["ok"]
    mailbox = client.call("GET", "settings", "/mailboxes/tenant", token=admin).json
    assert mailbox["last_error"] is None
