"""Connecting a Gmail mailbox with "Sign in with Google", end to end against the fake Google,
the Firestore, Auth and Secret Manager emulators and the functions host."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from google.api_core import exceptions
from google.cloud import firestore
from sendvia.adapters.google_clients import secret_manager_client
from sendvia.domain.mailbox import mailbox_secret_id

from tests.integration.api import call, token
from tests.integration.clinic import RETURN_TO, connect, settings_of
from tests.integration.google_flow import GMAIL_READ, GMAIL_SEND, Browser, fake, start

# -- the authorization URL ---------------------------------------------------------------------


def test_authorization_url_asks_offline_consent_with_pkce_for_send_only(clinic):
    google_url = Browser().google_url(start(clinic.admin))
    query = {k: v[0] for k, v in parse_qs(urlsplit(google_url).query).items()}
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) >= 43
    assert query["redirect_uri"].endswith("/oauth_callback")
    scopes = query["scope"].split()
    assert GMAIL_SEND in scopes
    assert GMAIL_READ not in scopes  # the restricted read scope only when receiving is asked for
    assert len(query["state"]) >= 40


def test_receiving_adds_the_read_scope(clinic):
    google_url = Browser().google_url(start(clinic.admin, receive=True))
    assert GMAIL_READ in parse_qs(urlsplit(google_url).query)["scope"][0].split()


def test_every_state_is_new(clinic):
    assert start(clinic.admin) != start(clinic.admin)


# -- connecting ---------------------------------------------------------------------------------


def test_admin_connects_the_tenant_mailbox_and_the_test_email_arrives(clinic, project):
    account = clinic.google("reception")
    outcome = connect(clinic, account)
    assert outcome.status == 302
    assert outcome.location.startswith(RETURN_TO)
    assert outcome.query == {"sendvia_result": "connected", "mailbox": "tenant"}

    seen = settings_of(clinic.member)
    mailbox = seen["mailboxes"]["tenant"]
    assert (mailbox["state"], mailbox["provider"], mailbox["address"]) == (
        "active",
        "gmail",
        account,
    )
    assert mailbox["display_name"]
    assert GMAIL_SEND in mailbox["scopes"]
    assert seen["route"]["via"] == "mailbox"
    assert seen["route"]["from"].endswith(f"<{account}>")

    tested = call("POST", "test_connection", bearer=clinic.admin, body={"mailbox": "tenant"})
    assert tested.status_code == 200
    result = tested.json()
    assert result["ok"] is True
    assert [s["name"] for s in result["steps"]] == ["refresh", "send"]
    sent = fake(f"/_fake/accounts/{account}/sent").json()["messages"]
    assert len(sent) == 1
    assert sent[0]["subject"] == "Gmail Test Connection from Riverside Clinic"
    assert sent[0]["to"] == [clinic.admin_email]
    delivery = (
        firestore.Client(project=project)
        .document(f"tenants/{clinic.tenant}/deliveries/{result['delivery_id']}")
        .get()
        .to_dict()
    )
    assert (delivery["kind"], delivery["state"]) == ("test", "sent")
    assert delivery["provider_message_id"] == sent[0]["id"]


def test_a_member_connects_their_own_mailbox_under_the_per_user_policy(clinic):
    assert (
        call(
            "PATCH", "settings", bearer=clinic.admin, body={"mailbox_policy": "per_user"}
        ).status_code
        == 200
    )
    account = clinic.google("bob")
    outcome = connect(clinic, account, mailbox="me", bearer=clinic.member)
    assert outcome.query == {"sendvia_result": "connected", "mailbox": f"user-{clinic.member_uid}"}
    mine = settings_of(clinic.member)
    assert mine["mailboxes"]["me"]["address"] == account
    assert mine["route"] == {
        "via": "mailbox",
        "mailbox": f"user-{clinic.member_uid}",
        "from": mine["route"]["from"],
        "reason": "mailbox_active",
    }
    # The admin's own mail does not go through the member's mailbox.
    assert settings_of(clinic.admin)["route"]["via"] == "default"
    members = call("GET", "settings", "/members", bearer=clinic.admin).json()["members"]
    bob = next(m for m in members if m["uid"] == clinic.member_uid)
    assert bob["mailbox"] == {
        "state": "active",
        "provider": "gmail",
        "address": account,
        "receive": False,
    }


def test_who_may_connect_what(clinic):
    def attempt(bearer, mailbox):
        return call(
            "POST", "oauth_start", bearer=bearer, body={"mailbox": mailbox, "return_to": RETURN_TO}
        )

    assert attempt(clinic.member, "tenant").status_code == 403
    refused = attempt(clinic.member, "me")  # the tenant uses one shared mailbox
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "policy_tenant_mailbox")
    call("PATCH", "settings", bearer=clinic.admin, body={"integrations": {"gmail": False}})
    off = attempt(clinic.admin, "tenant")
    assert (off.status_code, off.json()["error"]["code"]) == (422, "integration_off")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mailbox": "everyone", "return_to": RETURN_TO}, "mailbox"),
        ({"mailbox": "tenant"}, "return_to"),
        ({"mailbox": "tenant", "return_to": RETURN_TO, "receive": "yes"}, "receive"),
        ({"mailbox": "tenant", "return_to": RETURN_TO, "provider": "yahoo"}, "provider"),
        ({"mailbox": "tenant", "return_to": RETURN_TO, "extra": 1}, "extra"),
    ],
)
def test_bad_start_requests_name_the_field(clinic, body, field):
    response = call("POST", "oauth_start", bearer=clinic.admin, body=body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize(
    "return_to",
    [
        "https://evil.example/steal",
        "http://app.clinic.example/x",
        "javascript:alert(1)",
        "/relative",
    ],
)
def test_return_to_must_be_on_the_allow_list(clinic, return_to):
    response = call(
        "POST",
        "oauth_start",
        bearer=clinic.admin,
        body={"mailbox": "tenant", "return_to": return_to},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "return_to_not_allowed"
    assert response.json()["error"]["field"] == "return_to"


# -- what can go wrong at Google ---------------------------------------------------------------


def test_cancel_at_consent_stores_nothing(clinic):
    outcome = connect(clinic, clinic.google("cancel"), allow=False)
    assert outcome.query == {"sendvia_result": "denied", "mailbox": "tenant"}
    assert settings_of(clinic.admin)["mailboxes"]["tenant"] is None


def test_unticking_send_gives_a_clear_outcome_and_stores_nothing(clinic, project):
    account = clinic.google("untick")
    outcome = connect(clinic, account, untick=(GMAIL_SEND,))
    assert outcome.query == {
        "sendvia_result": "error",
        "mailbox": "tenant",
        "sendvia_error": "scope_not_granted",
    }
    assert settings_of(clinic.admin)["mailboxes"]["tenant"] is None
    with pytest.raises(exceptions.NotFound):
        secret_manager_client().get_secret(
            name=f"projects/{project}/secrets/{mailbox_secret_id(clinic.tenant, 'tenant')}"
        )


def test_a_callback_cannot_be_replayed(clinic):
    browser = Browser()
    callback = browser.consent(browser.google_url(start(clinic.admin)), clinic.google("replay"))
    assert browser.land(callback).query["sendvia_result"] == "connected"
    again = browser.land(callback)
    assert again.status == 400
    assert "sign in with google again" in again.body.lower()
    assert again.location == ""


def test_a_state_cannot_be_completed_by_another_user_or_tenant(clinic, unique_id):
    outsider = Browser()  # someone else's browser: another user, here of another tenant
    token(f"other-{unique_id}", f"other-{unique_id}", "admin")
    url = start(clinic.admin)
    mine = Browser()
    google_url = mine.google_url(url)
    # The link, once opened by its owner, cannot be opened elsewhere…
    assert outsider.open_link(url).status_code == 400
    # …and the callback with the code is refused in another browser, storing nothing.
    callback = mine.consent(google_url, clinic.google("victim"))
    stolen = outsider.land(callback)
    assert stolen.status == 400
    assert stolen.location == ""
    assert settings_of(clinic.admin)["mailboxes"]["tenant"] is None
    # …and it did not spoil the sign-in: the owner's browser still completes it (review L6).
    landed = mine.land(callback)
    assert (landed.status, "sendvia_result=connected" in landed.location) == (302, True)


def test_an_expired_state_is_refused(clinic, project):
    url = start(clinic.admin)
    state = parse_qs(urlsplit(url).query)["state"][0]
    db = firestore.Client(project=project)
    ref = db.document(f"oauth_states/{hashlib.sha256(state.encode()).hexdigest()}")
    ref.update({"expires_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)})
    assert Browser().open_link(url).status_code == 400


def test_an_expired_state_is_refused_at_the_callback(clinic, project):
    browser = Browser()
    url = start(clinic.admin)
    callback = browser.consent(browser.google_url(url), clinic.google("late"))
    state = parse_qs(urlsplit(url).query)["state"][0]
    firestore.Client(project=project).document(
        f"oauth_states/{hashlib.sha256(state.encode()).hexdigest()}"
    ).update({"expires_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)})
    assert browser.land(callback).status == 400
    assert settings_of(clinic.admin)["mailboxes"]["tenant"] is None


@pytest.mark.parametrize(
    "mangle", [lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"), lambda s: "", lambda s: s + "x"]
)
def test_a_tampered_or_missing_state_is_refused(clinic, mangle):
    browser = Browser()
    url = start(clinic.admin)
    callback = browser.consent(browser.google_url(url), clinic.google("tamper"))
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = mangle(query["state"])
    forged = f"{parts.scheme}://{parts.netloc}{parts.path}?" + "&".join(
        f"{k}={v}" for k, v in query.items()
    )
    assert browser.land(forged).status == 400
    assert settings_of(clinic.admin)["mailboxes"]["tenant"] is None


def test_switching_gmail_off_during_consent_connects_nothing(clinic):
    browser = Browser()
    callback = browser.consent(browser.google_url(start(clinic.admin)), clinic.google("off"))
    call("PATCH", "settings", bearer=clinic.admin, body={"integrations": {"gmail": False}})
    assert browser.land(callback).query["sendvia_error"] == "integration_off"
    assert settings_of(clinic.admin)["mailboxes"]["tenant"] is None
