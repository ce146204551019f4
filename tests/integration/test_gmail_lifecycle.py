"""A connected Gmail mailbox over time: revert, resume, revoke, forget, re-authorize, a token
revoked at Google breaking it (one notification), and a different account replacing it."""

from __future__ import annotations

import os

import pytest
from google.api_core import exceptions
from sendvia.adapters.google_clients import secret_manager_client
from sendvia.domain.mailbox import mailbox_secret_id

from tests.integration.api import call
from tests.integration.clinic import Clinic, connect, settings_of
from tests.integration.google_flow import fake


def refresh_works(refresh_token: str) -> bool:
    """Ask the fake Google directly whether a refresh token still works."""
    secret = (
        secret_manager_client()
        .access_secret_version(name=os.environ["SENDVIA_GOOGLE_CLIENT_SECRET"])
        .payload.data.decode()
    )
    answer = fake(
        "/token",
        "POST",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": os.environ["SENDVIA_GOOGLE_CLIENT_ID"],
            "client_secret": secret,
        },
    )
    return answer.status_code == 200


def refresh_tokens(account: str) -> list[str]:
    return [
        t for t in fake(f"/_fake/accounts/{account}/tokens").json()["tokens"] if t.startswith("1//")
    ]


def mailbox_action(clinic: Clinic, action: str, mailbox: str = "tenant"):
    return call("POST", "settings", f"/mailboxes/{mailbox}:{action}", bearer=clinic.admin)


def secret_exists(project: str, tenant: str, mailbox: str = "tenant") -> bool:
    try:
        secret_manager_client().get_secret(
            name=f"projects/{project}/secrets/{mailbox_secret_id(tenant, mailbox)}"
        )
    except exceptions.NotFound:
        return False
    return True


def test_revert_keeps_the_details_and_resume_brings_them_back(clinic):
    account = clinic.google("revert")
    connect(clinic, account)
    reverted = mailbox_action(clinic, "revert")
    assert reverted.status_code == 200
    assert reverted.json()["state"] == "reverted"
    assert reverted.json()["address"] == account  # remembered
    seen = settings_of(clinic.admin)
    assert seen["route"]["via"] == "default"
    assert seen["route"]["reason"] == "mailbox_reverted"

    resumed = mailbox_action(clinic, "resume")
    assert resumed.status_code == 200
    assert resumed.json()["state"] == "active"
    assert resumed.json()["last_tested_at"]
    assert settings_of(clinic.admin)["route"]["via"] == "mailbox"


def test_revoke_drops_the_access_and_reauthorizing_restores_it(clinic, project):
    account = clinic.google("revoke")
    connect(clinic, account)
    [token_before] = refresh_tokens(account)
    revoked = mailbox_action(clinic, "revoke")
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "reverted"
    assert revoked.json()["address"] == account
    assert not refresh_works(token_before)  # revoked at Google
    assert not secret_exists(project, clinic.tenant)
    cannot = mailbox_action(clinic, "resume")
    assert (cannot.status_code, cannot.json()["error"]["code"]) == (409, "reauthorize_required")

    assert connect(clinic, account).query["sendvia_result"] == "connected"  # re-authorize
    assert settings_of(clinic.admin)["mailboxes"]["tenant"]["state"] == "active"
    assert (
        call("POST", "test_connection", bearer=clinic.admin, body={"mailbox": "tenant"}).json()[
            "ok"
        ]
        is True
    )


def test_forget_revokes_destroys_the_secret_and_deletes_the_mailbox(clinic, project):
    account = clinic.google("forget")
    connect(clinic, account)
    [refresh_token] = refresh_tokens(account)
    assert secret_exists(project, clinic.tenant)
    response = call("DELETE", "settings", "/mailboxes/tenant", bearer=clinic.admin)
    assert response.status_code == 204
    assert settings_of(clinic.admin)["mailboxes"]["tenant"] is None
    assert call("GET", "settings", "/mailboxes/tenant", bearer=clinic.admin).status_code == 404
    assert not refresh_works(refresh_token)
    assert not secret_exists(project, clinic.tenant)


def test_a_different_account_replaces_the_old_one_only_after_it_succeeded(clinic, project):
    first, second = clinic.google("first"), clinic.google("second")
    connect(clinic, first)
    [first_token] = refresh_tokens(first)
    # A second sign-in that is cancelled changes nothing.
    assert connect(clinic, second, allow=False).query["sendvia_result"] == "denied"
    assert settings_of(clinic.admin)["mailboxes"]["tenant"]["address"] == first
    assert refresh_works(first_token)

    assert connect(clinic, second).query["sendvia_result"] == "connected"
    assert settings_of(clinic.admin)["mailboxes"]["tenant"]["address"] == second
    assert not refresh_works(first_token)  # the replaced account's access is revoked
    name = f"projects/{project}/secrets/{mailbox_secret_id(clinic.tenant, 'tenant')}"
    enabled = [
        v
        for v in secret_manager_client().list_secret_versions(parent=name)
        if v.state == v.State.ENABLED
    ]
    assert len(enabled) == 1  # only the new refresh token is kept


def test_a_token_revoked_at_google_breaks_the_mailbox_with_one_notification(clinic):
    account = clinic.google("broken")
    connect(clinic, account)
    fake(f"/_fake/accounts/{account}:revoke", "POST")  # the user revokes it in their Google account

    for _ in range(3):
        result = call(
            "POST", "test_connection", bearer=clinic.admin, body={"mailbox": "tenant"}
        ).json()
        assert result["ok"] is False
        assert result["state"] == "broken"
        assert result["steps"][0]["cause"] == "token_revoked"
        assert "re-authorize" in result["steps"][0]["hint"].lower()

    mailbox = settings_of(clinic.admin)["mailboxes"]["tenant"]
    assert mailbox["state"] == "broken"
    assert mailbox["last_error"]["code"] == "token_revoked"
    assert "Re-authorize" in mailbox["last_error"]["hint"]
    assert settings_of(clinic.admin)["route"]["reason"] == "mailbox_broken"

    notices = call("GET", "activity", "/notifications", bearer=clinic.admin).json()["notifications"]
    broken = [n for n in notices if n["kind"] == "mailbox_broken"]
    assert len(broken) == 1  # one per breakage, not one per attempt
    assert account in broken[0]["title"]
    assert (
        call("GET", "activity", "/notifications", bearer=clinic.member).json()["notifications"]
        == []
    )  # for the admins

    assert connect(clinic, account).query["sendvia_result"] == "connected"  # re-authorize
    assert settings_of(clinic.admin)["mailboxes"]["tenant"]["state"] == "active"
    assert settings_of(clinic.admin)["mailboxes"]["tenant"]["last_error"] is None
    resolved = call("GET", "activity", "/notifications", bearer=clinic.admin).json()[
        "notifications"
    ]
    assert [n["resolved_at"] is not None for n in resolved if n["kind"] == "mailbox_broken"] == [
        True
    ]
    read = call("POST", "activity", f"/notifications/{broken[0]['id']}:read", bearer=clinic.admin)
    assert read.status_code == 200
    assert (
        call("GET", "activity", "/notifications?unread=true", bearer=clinic.admin).json()[
            "notifications"
        ]
        == []
    )


def test_the_broken_fallback_routes_to_the_platform_sender(clinic):
    account = clinic.google("fallback")
    connect(clinic, account)
    call("PATCH", "settings", bearer=clinic.admin, body={"on_broken": "default"})
    fake(f"/_fake/accounts/{account}:revoke", "POST")
    call("POST", "test_connection", bearer=clinic.admin, body={"mailbox": "tenant"})
    route = settings_of(clinic.admin)["route"]
    assert (route["via"], route["reason"]) == ("default", "mailbox_broken_fallback")


@pytest.mark.parametrize("action", ["revert", "resume", "revoke"])
def test_members_cannot_manage_the_tenant_mailbox(clinic, action):
    connect(clinic, clinic.google(f"m-{action}"))
    response = call("POST", "settings", f"/mailboxes/tenant:{action}", bearer=clinic.member)
    assert response.status_code == 403
    assert call("DELETE", "settings", "/mailboxes/tenant", bearer=clinic.member).status_code == 403
    assert (
        call(
            "POST", "test_connection", bearer=clinic.member, body={"mailbox": "tenant"}
        ).status_code
        == 403
    )
    # They may see it.
    assert call("GET", "settings", "/mailboxes/tenant", bearer=clinic.member).status_code == 200


def test_a_member_cannot_reach_another_members_mailbox(clinic):
    response = call("GET", "settings", "/mailboxes/user-someone-else", bearer=clinic.member)
    assert response.status_code == 404
