"""Every public function requires a valid Firebase ID token of a user with a tenant."""

from __future__ import annotations

import time

import pytest
from firebase_admin import auth
from sendvia import devtools

from tests.integration.api import call, rewrite_claims, token


@pytest.fixture
def admin(unique_id: str) -> str:
    return token(f"t-{unique_id}", f"admin-{unique_id}", "admin")


def expect(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert response.json()["error"]["hint"]


def test_a_valid_token_is_accepted(admin):
    assert call("GET", "settings", bearer=admin).status_code == 200


def test_no_authorization_header_is_401():
    expect(call("GET", "settings"), 401, "missing_token")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "token-without-scheme"])
def test_a_malformed_authorization_header_is_401(header):
    expect(call("GET", "settings", headers={"Authorization": header}), 401, "invalid_token")


@pytest.mark.parametrize("bad", ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_a_malformed_token_is_401(bad):
    expect(call("GET", "settings", bearer=bad), 401, "invalid_token")


def test_an_expired_token_is_401(admin):
    expired = rewrite_claims(admin, exp=int(time.time()) - 120)
    expect(call("GET", "settings", bearer=expired), 401, "token_expired")


def test_a_token_with_forged_tenant_or_role_is_401(admin, unique_id):
    expect(
        call("GET", "settings", bearer=rewrite_claims(admin, tenant_id="someone-else")),
        401,
        "invalid_token",
    )
    member = token(f"t-{unique_id}", f"m-{unique_id}", "member")
    expect(
        call("GET", "settings", bearer=rewrite_claims(member, role="admin")), 401, "invalid_token"
    )


def test_a_token_for_a_user_that_does_not_exist_is_401(admin):
    ghost = rewrite_claims(admin, sub="ghost-user", user_id="ghost-user")
    expect(call("GET", "settings", bearer=ghost), 401, "invalid_token")


def test_a_demoted_admins_old_token_stops_working_at_once(admin, unique_id):
    assert call("GET", "settings", bearer=admin).status_code == 200
    auth.set_custom_user_claims(
        f"admin-{unique_id}",
        {"tenant_id": f"t-{unique_id}", "role": "member"},
        app=devtools.firebase_app(),
    )
    response = call("GET", "settings", bearer=admin)
    assert response.status_code == 401
    # Claims that no longer match; the emulator may also have moved the account's validSince.
    assert response.json()["error"]["code"] in {"invalid_token", "token_revoked"}


def test_a_disabled_user_is_401(admin, unique_id):
    auth.update_user(f"admin-{unique_id}", disabled=True, app=devtools.firebase_app())
    expect(call("GET", "settings", bearer=admin), 401, "user_disabled")


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"role": "member"}, "no_tenant"),
        ({"tenant_id": "", "role": "admin"}, "no_tenant"),
        ({"tenant_id": "t1", "role": "owner"}, "invalid_role"),
    ],
)
def test_a_token_without_a_usable_tenant_or_role_is_403(unique_id, claims, code):
    uid = f"odd-{unique_id}"
    devtools.ensure_user(uid, email=f"{uid}@example.com", name=None, claims=claims)
    expect(call("GET", "settings", bearer=devtools.sign_in(uid)), 403, code)
