"""Fakes of the mail providers, the relay and a sign-in, which record what reached them."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from sendvia.domain.delivery import Found
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import MailboxRecord, Provider
from sendvia.ports import Grant, Outgoing, Profile, Secrets, Sent, TestRun

from tests.fakes.clock import next_id
from tests.fakes.receiving import FakeMail, FakeReader

# -- providers ---------------------------------------------------------------------------------


@dataclass
class Received:
    """What one provider was given: each message, and each credential it was shown."""

    sent: list[tuple[str, EmailMessage, tuple[str, ...]]] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)


class FakeProvider:
    """A mailbox provider whose answers a test scripts: `fail_with` makes every call raise."""

    def __init__(self, kind: Provider, secrets: Secrets, *, revocable: bool) -> None:
        self.kind = kind
        self._secrets = secrets
        self._revocable = revocable  # a token can be revoked; an app password cannot
        self.received = Received()
        self.fail_with: ProviderFailure | None = None
        self.rotate_to: bytes | None = None  # the credentials it issues on the next send
        # Whether the mailbox can be searched for what it sent (None: it cannot), and whether
        # the provider files everything it sends (then absence proves it was not sent);
        # `searched` records each Message-ID looked for.
        self.files_sent: bool | None = None
        self.searched: list[str] = []
        # Take the message, then raise this (an answer lost after the data).
        self.after_send: BaseException | None = None
        self.mail = FakeMail()  # what its mailboxes hold, for sync

    def _credentials(self, mailbox: MailboxRecord) -> None:
        if not mailbox.secret_version:
            raise ProviderFailure(FailureKind.AUTH, "reauthorize_required", "Nothing stored.")
        self.received.credentials.append(self._secrets.access(mailbox.secret_version).decode())
        if self.fail_with is not None:
            raise self.fail_with

    def send(self, mailbox: MailboxRecord, outgoing: Outgoing) -> Sent:
        self._credentials(mailbox)
        self.received.sent.append((mailbox.address, outgoing.message, outgoing.recipients))
        if self.after_send is not None:
            raise self.after_send
        rotated, self.rotate_to = self.rotate_to, None
        return Sent(provider_message_id=next_id(f"{self.kind.value}-"), rotated_secret=rotated)

    def check(self, mailbox: MailboxRecord) -> None:
        self._credentials(mailbox)

    def test(self, mailbox: MailboxRecord, message: EmailMessage, recipient: str) -> TestRun:
        try:
            self._credentials(mailbox)
        except ProviderFailure as failure:
            step = {
                "name": "auth",
                "ok": False,
                "reply": failure.reply,
                "cause": failure.code,
                "hint": self.hint(failure),
                "elapsed_ms": 0,
            }
            return TestRun([step], None, failure)
        self.received.sent.append((mailbox.address, message, (recipient,)))
        step = {"name": "send", "ok": True, "reply": "OK", "cause": None, "hint": None}
        return TestRun([{**step, "elapsed_ms": 0}], next_id("test-"), None)

    def can_find_sent(self, mailbox: MailboxRecord) -> bool:
        return self.files_sent is not None

    def find_sent(self, mailbox: MailboxRecord, message_id: str) -> Found:
        self.searched.append(message_id)
        if self.files_sent is None:
            return Found.UNKNOWN
        if any(
            m["Message-ID"] == message_id for a, m, _ in self.received.sent if a == mailbox.address
        ):
            return Found.SENT
        return Found.ABSENT if self.files_sent else Found.UNKNOWN

    def folders(self, mailbox: MailboxRecord) -> list[dict[str, str | None]]:
        return [{"name": "INBOX", "special_use": None}, {"name": "Sent", "special_use": "\\Sent"}]

    def reader(self, mailbox: MailboxRecord) -> FakeReader:
        self._credentials(mailbox)
        return FakeReader(self.mail, mailbox.address)

    def forget(self, mailbox: MailboxRecord, *, revoke: bool) -> None:
        if revoke and self._revocable and mailbox.secret_version:
            token = self._secrets.access(mailbox.secret_version).decode()
            self.received.revoked.append(token)

    def hint(self, failure: ProviderFailure) -> str:
        return f"{self.kind.value} hint for {failure.kind.value}"

    def broken_message(self, address: str) -> str:
        return f"{address} stopped working ({self.kind.value})"


class FakeRelay:
    def __init__(self) -> None:
        self.sent: list[tuple[EmailMessage, tuple[str, ...], str, str]] = []
        self.fail_with: ProviderFailure | None = None
        self.warmed = 0

    def warm(self) -> None:
        self.warmed += 1

    def send(self, outgoing: Outgoing, *, tenant_id: str, delivery_id: str) -> Sent:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((outgoing.message, outgoing.recipients, tenant_id, delivery_id))
        return Sent()


class FakeOAuth:
    """A sign-in whose consent always grants what was asked, for `account`."""

    mailbox_provider = Provider.GMAIL
    callback_url = "https://functions.test/oauth_callback"

    def __init__(self) -> None:
        self.account = Profile("reception@gmail.test", "Reception")
        self.grant_scopes: tuple[str, ...] | None = None
        self.revoked: list[str] = []

    def scopes_for(self, *, receive: bool) -> list[str]:
        return ["send", *(["read"] if receive else [])]

    def can_send(self, granted_scopes: tuple[str, ...]) -> bool:
        return "send" in granted_scopes

    def can_read(self, granted_scopes: tuple[str, ...]) -> bool:
        return "read" in granted_scopes

    def authorization_url(self, scopes: list[str], state: str) -> tuple[str, str]:
        return f"https://accounts.test/auth?state={state}", "verifier"

    def exchange(self, code: str, scopes: list[str], state: str, verifier: str) -> Grant:
        granted = self.grant_scopes if self.grant_scopes is not None else tuple(scopes)
        return Grant(f"refresh-{code}", granted, None)

    def profile(self, grant: Grant) -> Profile:
        return self.account

    def revoke(self, refresh_token: str) -> bool:
        self.revoked.append(refresh_token)
        return True

    def rotated(self, credentials: Any) -> str | None:
        return None
