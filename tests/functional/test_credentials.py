"""A stored password goes only to the server it was saved for, and only its owner can point it
anywhere: the 14 dots keep a password for the same server, never for a new one (security review
H1, L4, L5)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import Fakes
from tests.functional.conftest import TENANT, Client, switch_on

SERVER = {"host": "smtp.clinic.test", "port": 587, "security": "starttls", "username": "desk"}
IMAP = {"host": "imap.clinic.test", "port": 993, "security": "tls", "username": "desk"}
DOTS = "\u2022" * 14


def put(client: Client, token: str, mailbox: str = "me", **changes: Any):
    body = {
        "address": "desk@clinic.test",
        "smtp": {**SERVER, "password": "the-app-password"},
        "imap": dict(IMAP),
        **changes,
    }
    return client.call("PUT", "settings", f"/mailboxes/{mailbox}", token=token, body=body)


@pytest.fixture
def per_user(client: Client, admin: str) -> None:
    client.call("PATCH", "settings", token=admin, body={"mailbox_policy": "per_user"})
    switch_on(client, admin, smtp_imap=True)


def stored_passwords(fakes: Fakes) -> list[bytes]:
    return fakes.secrets.live()


@pytest.mark.parametrize(
    ("server", "change"),
    [
        ("smtp", {"host": "mx.attacker.example"}),
        ("smtp", {"port": 2525}),
        ("smtp", {"security": "tls", "port": 465}),
        ("smtp", {"username": "someone-else"}),
    ],
)
def test_the_dots_keep_nothing_once_the_smtp_server_changed(
    client, fakes: Fakes, member, per_user, server, change
):
    assert put(client, member).status_code == 200
    before = stored_passwords(fakes)
    moved = put(client, member, smtp={**SERVER, **change, "password": DOTS})
    assert moved.status_code == 400, moved.json
    assert (moved.json["error"]["code"], moved.json["error"]["field"]) == (
        "password_required",
        "smtp.password",
    )
    assert stored_passwords(fakes) == before
    mailbox = fakes.mailboxes.get(TENANT, "user-max")
    assert mailbox.smtp.host == "smtp.clinic.test"  # nothing was saved


def test_the_dots_keep_nothing_once_the_imap_server_changed(client, fakes: Fakes, member, per_user):
    assert put(client, member).status_code == 200
    moved = put(
        client,
        member,
        smtp={**SERVER, "password": DOTS},
        imap={**IMAP, "host": "imap.attacker.example"},
    )
    assert (moved.status_code, moved.json["error"]["field"]) == (400, "imap.password")


def test_the_dots_keep_the_password_for_the_same_servers(client, fakes: Fakes, member, per_user):
    assert put(client, member).status_code == 200
    kept = put(client, member, display_name="Front Desk", smtp={**SERVER, "password": DOTS})
    assert kept.status_code == 200, kept.json
    assert len(stored_passwords(fakes)) == 1  # the same secret version, not a new one


def test_a_new_server_with_its_password_typed_again_is_saved(
    client, fakes: Fakes, member, per_user
):
    assert put(client, member).status_code == 200
    moved = put(client, member, smtp={**SERVER, "host": "smtp.new.test", "password": "new-one"})
    assert moved.status_code == 200, moved.json
    assert moved.json["state"] == "pending_confirmation"


@pytest.mark.parametrize(
    ("method", "function", "path", "body"),
    [
        ("PUT", "settings", "/mailboxes/user-max", None),
        ("POST", "test_connection", "/", {"mailbox": "user-max"}),
        ("POST", "test_connection", "/confirm", {"mailbox": "user-max", "code": "123456"}),
    ],
)
def test_an_admin_cannot_save_test_or_confirm_a_members_own_mailbox(
    client, fakes: Fakes, admin, member, per_user, method, function, path, body
):
    assert put(client, member).status_code == 200
    if body is None:
        answer = put(client, admin, mailbox="user-max", smtp={**SERVER, "password": DOTS})
    else:
        answer = client.call(method, function, path, token=admin, body=body)
    assert (answer.status_code, answer.json["error"]["code"]) == (403, "owner_only")
    assert fakes.smtp.received.credentials == []  # the member's password went nowhere


def test_an_admin_still_sees_reverts_and_forgets_a_members_mailbox(
    client, fakes: Fakes, admin, member, per_user
):
    assert put(client, member).status_code == 200
    path = "/mailboxes/user-max"
    assert client.call("GET", "settings", path, token=admin).status_code == 200
    assert client.call("POST", "settings", f"{path}:revert", token=admin).status_code == 200
    assert client.call("DELETE", "settings", path, token=admin).status_code == 204


def test_members_cannot_list_the_tenant_mailboxs_folders(client, fakes: Fakes, admin, member):
    switch_on(client, admin, smtp_imap=True)
    assert put(client, admin, mailbox="tenant").status_code == 200
    answer = client.call("GET", "settings", "/mailboxes/tenant/folders", token=member)
    assert (answer.status_code, answer.json["error"]["code"]) == (403, "admin_only")
    assert (
        client.call("GET", "settings", "/mailboxes/tenant/folders", token=admin).status_code == 200
    )
