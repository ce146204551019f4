"""A saved app password reaches only the server it was saved for (security review H1): neither
an admin nor the member can aim it at another server with the 14 dots, over the real stack."""

from __future__ import annotations

import pytest

from emulators.mail.misbehaving import Behaviour, scripted_server
from tests.integration.api import call, token
from tests.integration.clinic import Clinic
from tests.integration.helpers import settings_body

DOTS = "\u2022" * 14


@pytest.fixture
def member_mailbox(clinic: Clinic) -> dict:
    """The member's own SMTP/IMAP mailbox (per-user policy), saved with its password."""
    call(
        "PATCH",
        "settings",
        bearer=clinic.admin,
        body={"integrations": {"smtp_imap": True}, "mailbox_policy": "per_user"},
    )
    body = settings_body()
    saved = call("PUT", "settings", "/mailboxes/me", bearer=clinic.member, body=body)
    assert saved.status_code == 200, saved.text
    return body


def test_the_dots_cannot_aim_a_saved_password_at_another_server(
    clinic: Clinic, member_mailbox: dict, certs
):
    with scripted_server(Behaviour.WELL_BEHAVED, certs) as elsewhere:
        moved = {**member_mailbox}
        moved["smtp"] = {**member_mailbox["smtp"], "port": elsewhere.port, "password": DOTS}
        by_admin = call(
            "PUT",
            "settings",
            f"/mailboxes/user-{clinic.member_uid}",
            bearer=clinic.admin,
            body=moved,
        )
        assert (by_admin.status_code, by_admin.json()["error"]["code"]) == (403, "owner_only")
        tested = call(
            "POST",
            "test_connection",
            bearer=clinic.admin,
            body={"mailbox": f"user-{clinic.member_uid}"},
        )
        assert tested.status_code == 403
        by_member = call("PUT", "settings", "/mailboxes/me", bearer=clinic.member, body=moved)
        assert by_member.status_code == 400, by_member.text
        assert by_member.json()["error"]["field"] == "smtp.password"
        assert (
            call("POST", "test_connection", bearer=clinic.member, body={"mailbox": "me"})
            .json()["steps"][1]["reply"]
            .startswith("Connected to 127.0.0.1:")
        )  # still Dovecot's
        assert (elsewhere.logins, elsewhere.connections) == (0, 0)  # no password, no email


def test_another_member_cannot_reach_it_at_all(clinic: Clinic, member_mailbox: dict):
    other = token(clinic.tenant, f"other-{clinic.suffix}", "member")
    path = f"/mailboxes/user-{clinic.member_uid}"
    assert call("PUT", "settings", path, bearer=other, body=member_mailbox).status_code == 404
