"""A mailbox's lifecycle through `settings`, in process: each provider's credentials go to that
provider only, and its failures are told in its terms."""

from __future__ import annotations

from dataclasses import replace

from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import Provider

from tests.fakes import Fakes, fake_runtime
from tests.functional.conftest import TENANT, Client, gmail_mailbox, smtp_mailbox


def action(client: Client, token: str, verb: str, mailbox: str = "tenant"):
    return client.call("POST", "settings", f"/mailboxes/{mailbox}:{verb}", token=token)


def test_resume_checks_an_smtp_mailbox_with_its_own_provider(client, fakes: Fakes, admin):
    password = smtp_mailbox(fakes, state="reverted")
    answer = action(client, admin, "resume")
    assert answer.status_code == 200, answer.json
    assert answer.json["state"] == "active"
    assert fakes.smtp.received.credentials == [f'{{"smtp": "{password}", "imap": "{password}"}}']
    assert fakes.gmail.received.credentials == []  # nothing reached Google


def test_resume_with_refused_credentials_breaks_the_mailbox_in_the_providers_words(
    client, fakes: Fakes, admin
):
    smtp_mailbox(fakes, state="reverted")
    fakes.smtp.fail_with = ProviderFailure(FailureKind.AUTH, "wrong_password", "535 no")
    answer = action(client, admin, "resume")
    assert answer.status_code == 200
    assert answer.json["state"] == "broken"
    assert answer.json["last_error"]["hint"] == "smtp hint for auth"
    [notice] = fakes.notifications.of(TENANT)
    assert notice["message"] == f"desk@{TENANT}.test stopped working (smtp)"


def test_resume_when_the_provider_cannot_answer_is_a_503_not_a_500(client, fakes: Fakes, admin):
    gmail_mailbox(fakes, state="reverted")
    fakes.gmail.fail_with = ProviderFailure(FailureKind.TRANSIENT, "google_unavailable", "503")
    answer = action(client, admin, "resume")
    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "google_unavailable"
    assert fakes.mailboxes.get(TENANT, "tenant").state.value == "reverted"


def test_resume_of_a_gmail_mailbox_without_sign_in_with_google_is_a_503():
    fakes = fake_runtime()
    fakes.runtime = replace(fakes.runtime, providers={Provider.SMTP: fakes.smtp}, oauth={})
    client = Client(fakes)
    gmail_mailbox(fakes, state="reverted")
    answer = action(client, fakes.token(TENANT, "ann"), "resume")
    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "google_not_configured"


def test_forget_revokes_a_gmail_token_and_destroys_the_secret(client, fakes: Fakes, admin):
    token = gmail_mailbox(fakes)
    answer = client.call("DELETE", "settings", "/mailboxes/tenant", token=admin)
    assert answer.status_code == 204
    assert fakes.gmail.received.revoked == [token]
    assert fakes.secrets.live() == []
    assert fakes.mailboxes.get(TENANT, "tenant") is None


def test_forget_of_an_smtp_mailbox_revokes_nothing_anywhere(client, fakes: Fakes, admin):
    smtp_mailbox(fakes)
    assert client.call("DELETE", "settings", "/mailboxes/tenant", token=admin).status_code == 204
    assert fakes.gmail.received.revoked == fakes.smtp.received.revoked == []
    assert fakes.secrets.live() == []


def test_revert_and_revoke_keep_the_details(client, fakes: Fakes, admin):
    gmail_mailbox(fakes)
    assert action(client, admin, "revert").json["state"] == "reverted"
    revoked = action(client, admin, "revoke").json
    assert (revoked["state"], revoked["address"]) == ("reverted", f"reception@{TENANT}.test")
    resumed = action(client, admin, "resume")
    assert resumed.status_code == 409
    assert resumed.json["error"]["code"] == "reauthorize_required"


def test_members_cannot_manage_the_tenant_mailbox(client, fakes: Fakes, member):
    smtp_mailbox(fakes)
    for verb in ("revert", "resume", "revoke"):
        answer = action(client, member, verb)
        assert (answer.status_code, answer.json["error"]["code"]) == (403, "admin_only")


def test_another_tenants_mailbox_does_not_exist_here(client, fakes: Fakes):
    smtp_mailbox(fakes, tenant="clinic-2")
    outsider = fakes.token(TENANT, "ann")
    answer = client.call("GET", "settings", "/mailboxes/tenant", token=outsider)
    assert (answer.status_code, answer.json["error"]["code"]) == (404, "mailbox_not_found")
    assert action(client, outsider, "revert").status_code == 404
    assert fakes.mailboxes.get("clinic-2", "tenant").state.value == "active"


def test_a_mailbox_is_shown_without_its_password(client, fakes: Fakes, admin):
    password = smtp_mailbox(fakes)
    answer = client.call("GET", "settings", "/mailboxes/tenant", token=admin)
    assert answer.json["smtp"]["password"] == "\u2022" * 14
    assert password not in answer.get_data(as_text=True)


def test_resume_cannot_switch_on_an_smtp_mailbox_nobody_confirmed(client, fakes: Fakes, admin):
    smtp_mailbox(fakes, state="pending_confirmation", confirmed_at=None)
    answer = action(client, admin, "resume")
    assert (answer.status_code, answer.json["error"]["code"]) == (409, "confirmation_required")
    fakes.mailboxes.update(TENANT, "tenant", {"state": "reverted"})  # reverted before confirming
    assert action(client, admin, "resume").status_code == 409
    assert fakes.mailboxes.get(TENANT, "tenant").state.value == "reverted"
    assert fakes.smtp.received.credentials == []


def test_resume_when_the_stored_credentials_are_gone_asks_to_reconnect(client, fakes: Fakes, admin):
    gmail_mailbox(fakes, state="reverted")
    fakes.secrets.versions = dict.fromkeys(fakes.secrets.versions)  # destroyed elsewhere
    answer = action(client, admin, "resume")
    assert (answer.status_code, answer.json["error"]["code"]) == (409, "reauthorize_required")
    assert answer.json["error"]["hint"] == "Sign in with Google again to reconnect it."


def test_resume_of_an_smtp_mailbox_needs_no_google_at_all():
    """It used to send the SMTP password to Google's token endpoint, and answer 500 where Sign
    in with Google was not configured."""
    fakes = fake_runtime()
    fakes.runtime = replace(fakes.runtime, providers={Provider.SMTP: fakes.smtp}, oauth={})
    smtp_mailbox(fakes, state="reverted")
    answer = action(Client(fakes), fakes.token(TENANT, "ann"), "resume")
    assert (answer.status_code, answer.json["state"]) == (200, "active")


def test_two_requests_rotating_the_same_credentials_leave_one_working_version():
    """After the day mark, two sends on two instances both get a rotated refresh token: the
    first to store wins, the second destroys the version it added, and the mailbox points at a
    version that can still be read (before, each destroyed the other's)."""
    from sendvia.services import mailboxes

    fakes = fake_runtime()
    gmail_mailbox(fakes)
    record = fakes.mailboxes.get(TENANT, "tenant")
    assert record is not None
    mailboxes.store_rotated(fakes.runtime, record, b"1//first-rotation")
    mailboxes.store_rotated(fakes.runtime, record, b"1//second-rotation")  # read the old record
    current = fakes.mailboxes.get(TENANT, "tenant")
    assert current is not None and current.secret_version != record.secret_version
    assert fakes.secrets.access(current.secret_version) == b"1//first-rotation"
    alive = [v for v, data in fakes.secrets.versions.items() if data is not None]
    assert alive == [current.secret_version]
