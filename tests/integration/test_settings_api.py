"""The `settings` function as the host product's settings page uses it."""

from __future__ import annotations

import json
import uuid

import pytest
from google.cloud import firestore

from tests.integration.api import call, stack_logs, token


@pytest.fixture
def tenant(unique_id: str) -> str:
    return f"t-{unique_id}"


@pytest.fixture
def admin(tenant: str, unique_id: str) -> str:
    return token(
        tenant,
        f"admin-{unique_id}",
        "admin",
        name="Ann Admin",
        email=f"ann-{unique_id}@clinic.example",
    )


@pytest.fixture
def member(tenant: str, unique_id: str) -> str:
    return token(
        tenant,
        f"member-{unique_id}",
        "member",
        name="Bob Member",
        email=f"bob-{unique_id}@clinic.example",
    )


def test_a_tenant_without_settings_gets_defaults_and_the_platform_sender(member, tenant):
    response = call("GET", "settings", bearer=member)
    assert response.status_code == 200
    body = response.json()
    assert body["tenant"] == {
        "id": tenant,
        "product_name": "sendvia",
        "integrations": {"gmail": False, "smtp_imap": False, "microsoft": False},
        "mailbox_policy": "tenant",
        "on_broken": "fail",
        "members_may_send": True,
        "return_origins": [],
        "correspondence": "practice",
        "backfill_days": 0,
    }
    assert body["mailboxes"] == {"tenant": None, "me": None}
    assert body["route"] == {
        "via": "default",
        "mailbox": None,
        "from": "Bob Member <noreply@platform.test>",
        "reason": "no_mailbox",
    }
    assert body["may_send"] is True


def test_an_admin_changes_settings_and_everyone_sees_them(admin, member):
    response = call(
        "PATCH",
        "settings",
        bearer=admin,
        body={
            "product_name": "Riverside Clinic",
            "integrations": {"gmail": True},
            "mailbox_policy": "per_user",
            "members_may_send": False,
            "return_origins": ["https://app.riverside.example"],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["integrations"] == {
        "gmail": True,
        "smtp_imap": False,
        "microsoft": False,
    }
    seen = call("GET", "settings", bearer=member).json()
    assert seen["tenant"]["product_name"] == "Riverside Clinic"
    assert seen["tenant"]["mailbox_policy"] == "per_user"
    assert seen["may_send"] is False
    # A second, partial change keeps the rest.
    call("PATCH", "settings", bearer=admin, body={"on_broken": "default"})
    again = call("GET", "settings", bearer=admin).json()["tenant"]
    assert (again["on_broken"], again["product_name"]) == ("default", "Riverside Clinic")


def test_a_member_cannot_change_settings(member):
    response = call("PATCH", "settings", bearer=member, body={"product_name": "Mine"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_only"
    # Refused before the body is even read.
    assert call("PATCH", "settings", bearer=member, data="not json").status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"colour": "blue"}, "colour"),
        ({"integrations": {"gmail": "yes"}}, "integrations.gmail"),
        ({"mailbox_policy": "everyone"}, "mailbox_policy"),
        ({"on_broken": "retry"}, "on_broken"),
        ({"members_may_send": 1}, "members_may_send"),
        ({"product_name": ""}, "product_name"),
        ({"return_origins": ["not an origin"]}, "return_origins"),
    ],
)
def test_bad_patches_get_400_naming_the_field(admin, body, field):
    response = call("PATCH", "settings", bearer=admin, body=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == field
    assert field in error["message"]
    assert error["hint"]


@pytest.mark.parametrize("raw", ["not json", '{"a": ', "", "[1, 2]", '"text"'])
def test_a_body_that_is_not_a_json_object_gets_400(admin, raw):
    response = call(
        "PATCH", "settings", bearer=admin, data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"invalid_json", "invalid_body"}


def test_bad_input_changes_nothing(admin):
    call("PATCH", "settings", bearer=admin, body={"product_name": "Kept"})
    call("PATCH", "settings", bearer=admin, body={"product_name": "Lost", "colour": "x"})
    assert call("GET", "settings", bearer=admin).json()["tenant"]["product_name"] == "Kept"


def test_the_members_list_shows_who_has_set_up_what(admin, member, tenant, unique_id, project):
    call("GET", "settings", bearer=member)  # the member has used the product
    db = firestore.Client(project=project)
    db.document(f"tenants/{tenant}/mailboxes/user-member-{unique_id}").set(
        {
            "provider": "gmail",
            "state": "active",
            "address": "bob@clinic.example",
            "last_synced_at": "2026-11-20T10:00:00+00:00",
        }
    )
    response = call("GET", "settings", "/members", bearer=admin)
    assert response.status_code == 200
    members = {m["uid"]: m for m in response.json()["members"]}
    bob = members[f"member-{unique_id}"]
    assert (bob["email"], bob["role"], bob["name"]) == (
        f"bob-{unique_id}@clinic.example",
        "member",
        "Bob Member",
    )
    assert bob["mailbox"] == {
        "state": "active",
        "provider": "gmail",
        "address": "bob@clinic.example",
        "receive": False,
    }
    assert bob["last_synced_at"] == "2026-11-20T10:00:00+00:00"
    assert bob["sync"] is None  # not receiving
    ann = members[f"admin-{unique_id}"]
    assert ann["role"] == "admin"
    assert ann["mailbox"] is None
    assert ann["last_seen_at"]


def test_only_admins_see_the_members_list(member):
    response = call("GET", "settings", "/members", bearer=member)
    assert response.status_code == 403


def test_unknown_paths_and_methods(admin):
    assert call("GET", "settings", "/nothing-here", bearer=admin).status_code == 404
    response = call("DELETE", "settings", bearer=admin)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_cors_for_configured_origins_only(admin):
    allowed = "http://localhost:3000"
    preflight = call(
        "OPTIONS",
        "settings",
        headers={
            "Origin": allowed,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == allowed
    assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    response = call("GET", "settings", bearer=admin, headers={"Origin": allowed})
    assert response.headers["Access-Control-Allow-Origin"] == allowed
    # Errors carry the header too, so the browser can show them.
    assert (
        call("GET", "settings", headers={"Origin": allowed}).headers["Access-Control-Allow-Origin"]
        == allowed
    )

    evil = call(
        "OPTIONS",
        "settings",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert evil.status_code == 403
    assert "Access-Control-Allow-Origin" not in evil.headers
    assert (
        "Access-Control-Allow-Origin"
        not in call(
            "GET", "settings", bearer=admin, headers={"Origin": "https://evil.example"}
        ).headers
    )


def test_logs_are_json_with_trace_and_tenant_and_never_the_token(admin, tenant):
    trace_id = uuid.uuid4().hex
    call(
        "PATCH",
        "settings",
        bearer=admin,
        body={"colour": 1},
        headers={"X-Cloud-Trace-Context": f"{trace_id}/1;o=1"},
    )
    lines = (stack_logs() / "functions.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    mine = [
        e
        for e in entries
        if e.get("logging.googleapis.com/trace") == f"projects/demo-sendvia/traces/{trace_id}"
    ]
    assert mine, "no log line carries the request's trace"
    assert mine[0]["severity"] == "WARNING"
    assert mine[0]["tenant_id"] == tenant
    assert mine[0]["function"] == "settings"
    for log_file in stack_logs().iterdir():
        assert admin not in log_file.read_text(errors="replace")
