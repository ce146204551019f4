"""What the provider adapters say without reaching a server: their hints and messages are in
their own terms (an SMTP mailbox is never told to sign in with Google)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from sendvia.adapters.providers.gmail import GmailProvider
from sendvia.adapters.providers.smtp import SmtpProvider
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import MailboxRecord

NOTHING = cast(Any, None)  # these calls reach no server, no secret and no client
GMAIL = GmailProvider(NOTHING, NOTHING, NOTHING)
SMTP = SmtpProvider(NOTHING, NOTHING)


def mailbox(provider: str) -> MailboxRecord:
    return MailboxRecord.from_doc(
        "t1", "tenant", {"provider": provider, "state": "active", "address": "desk@clinic.test"}
    )


@pytest.mark.parametrize("code", ["wrong_password", "app_password_required", "auth_not_offered"])
def test_an_smtp_mailbox_refused_at_login_is_told_about_its_password_not_google(code):
    failure = ProviderFailure.of(code, "535 5.7.8 no")
    assert failure.kind is FailureKind.AUTH
    words = SMTP.hint(failure) + SMTP.broken_message("desk@clinic.test")
    assert "Google" not in words


def test_smtps_generic_auth_hint_asks_for_the_password():
    failure = ProviderFailure(FailureKind.AUTH, "mailbox_broken", "no")
    assert "password" in SMTP.hint(failure)


def test_a_gmail_mailbox_is_told_to_sign_in_again():
    failure = ProviderFailure(FailureKind.AUTH, "token_revoked", "invalid_grant")
    assert "Sign in with Google again" in GMAIL.hint(failure)
    assert "Google no longer accepts" in GMAIL.broken_message("a@gmail.test")


def test_a_gmail_mailbox_has_no_folders_to_choose():
    with pytest.raises(ProviderFailure) as raised:
        GMAIL.folders(mailbox("gmail"))
    assert raised.value.code == "no_imap"
    assert "Gmail keeps" in GMAIL.hint(raised.value)


def test_an_smtp_mailbox_without_imap_has_no_folders():
    with pytest.raises(ProviderFailure) as raised:
        SMTP.folders(mailbox("smtp"))
    assert raised.value.code == "no_imap"
    assert SMTP.hint(raised.value) == "Add the IMAP server in the mailbox settings."


@pytest.mark.parametrize("kind", list(FailureKind))
def test_every_kind_of_failure_has_a_hint_from_every_provider(kind):
    failure = ProviderFailure(kind, "some_cause_nobody_named", "words")
    assert GMAIL.hint(failure) and SMTP.hint(failure)
