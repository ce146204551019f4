"""Gmail mailboxes: "Sign in with Google" credentials, sent through the Gmail API.

The refresh token lives in Secret Manager under the mailbox's secret version; this instance keeps
credentials (and their access token) per version. Gmail files what it sends in the account's Sent
folder itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sendvia.adapters.gmail import Gmail
from sendvia.adapters.gmail_reader import GmailReader
from sendvia.adapters.google_oauth import GoogleOAuth
from sendvia.adapters.providers.test_steps import run_step
from sendvia.domain.delivery import Found
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import MailboxRecord, Provider
from sendvia.domain.outgoing import with_bcc
from sendvia.ports import Outgoing, Secrets, SecretUnavailable, Sent, TestRun
from sendvia.ports.receiving import MailReader

log = logging.getLogger("sendvia.providers.gmail")

HINTS = {
    FailureKind.AUTH: "Sign in with Google again (Re-authorize) to resume sending from this "
    "mailbox; until then email goes as the settings say for a broken mailbox.",
    FailureKind.QUOTA: "Google's sending limit for this account is reached; sending resumes "
    "when it resets.",
    FailureKind.TRANSIENT: "Try again in a few minutes.",
    FailureKind.PERMANENT: "Check the message and the mailbox settings.",
    FailureKind.UNKNOWN: "The server took the message without confirming it; it is not sent "
    "again. Check the mailbox's Sent folder, or ask the recipient.",
}
# Hints of particular causes, before the kind's.
CAUSE_HINTS = {
    "no_imap": "Nothing to choose: Gmail keeps what it sends in its Sent folder itself.",
}
# Causes a test step reports under the name a person recognises.
_STEP_CAUSES = {
    "refresh_failed": "token_revoked",
    "unauthorized": "token_revoked",
}


class GmailProvider:
    kind = Provider.GMAIL

    def __init__(self, oauth: GoogleOAuth, gmail: Gmail, secrets: Secrets) -> None:
        self._oauth = oauth
        self._gmail = gmail
        self._secrets = secrets

    def _credentials(self, mailbox: MailboxRecord) -> Any:
        version = mailbox.secret_version
        if not version:
            raise ProviderFailure(
                FailureKind.AUTH,
                "reauthorize_required",
                "No Google access is stored for this mailbox.",
            )
        refresh_token = self._secrets.access(version).decode()
        return self._oauth.credentials(version, refresh_token, list(mailbox.scopes))

    def _fresh_credentials(self, mailbox: MailboxRecord) -> Any:
        credentials = self._credentials(mailbox)
        self._oauth.refresh(credentials)
        return credentials

    def send(self, mailbox: MailboxRecord, outgoing: Outgoing) -> Sent:
        credentials = self._credentials(mailbox)
        raw = with_bcc(outgoing.raw, list(outgoing.bcc))
        message_id = self._gmail.send(mailbox.secret_version or "", credentials, raw)
        rotated = self._oauth.rotated(credentials)
        return Sent(message_id, rotated_secret=rotated.encode() if rotated else None)

    def check(self, mailbox: MailboxRecord) -> None:
        self._fresh_credentials(mailbox)

    def test(self, mailbox: MailboxRecord, message: Any, recipient: str) -> TestRun:
        run = TestRun()
        credentials = self._step(
            run,
            "refresh",
            lambda: self._fresh_credentials(mailbox),
            lambda _: "Google issued a fresh access token",
        )
        if credentials is not None:
            run.provider_message_id = self._step(
                run,
                "send",
                lambda: self._gmail.send(
                    mailbox.secret_version or "", credentials, message.as_bytes()
                ),
                lambda sent: f"Gmail accepted the message (id {sent})",
            )
        return run

    def _step(
        self,
        run: TestRun,
        name: str,
        action: Callable[[], Any],
        describe: Callable[[Any], str],
    ) -> Any:
        return run_step(run, name, action, describe, hint=self.hint, causes=_STEP_CAUSES)

    def can_find_sent(self, mailbox: MailboxRecord) -> bool:
        return self._oauth.can_read(mailbox.scopes)

    def find_sent(self, mailbox: MailboxRecord, message_id: str) -> Found:
        """Gmail files every message it sends, at once: with a read scope, a message that is
        not found was not sent."""
        if not self.can_find_sent(mailbox):
            return Found.UNKNOWN
        try:
            found = self._gmail.find(
                mailbox.secret_version or "", self._credentials(mailbox), message_id
            )
        except (ProviderFailure, SecretUnavailable) as exc:
            log.warning("could not search mailbox %s: %s", mailbox.id, type(exc).__name__)
            return Found.UNKNOWN
        return Found.SENT if found else Found.ABSENT

    def folders(self, mailbox: MailboxRecord) -> list[dict[str, str | None]]:
        raise ProviderFailure(
            FailureKind.PERMANENT,
            "no_imap",
            "Gmail files sent email in its Sent folder itself; there is no folder to choose.",
        )

    def reader(self, mailbox: MailboxRecord) -> MailReader:
        """The mailbox's Gmail read API, with the token it was connected with (a read scope:
        `gmail.readonly`, asked for when receiving was wanted)."""
        if not self._oauth.can_read(mailbox.scopes):
            raise ProviderFailure(
                FailureKind.AUTH,
                "scope_missing",
                "This mailbox was not given the permission to read mail.",
            )
        return GmailReader(self._gmail, mailbox.secret_version or "", self._credentials(mailbox))

    def forget(self, mailbox: MailboxRecord, *, revoke: bool) -> None:
        version = mailbox.secret_version
        if not version:
            return
        if revoke:
            try:  # the token goes first, so a person's Google account no longer lists the app
                self._oauth.revoke(self._secrets.access(version).decode())
            except Exception:
                log.warning("could not revoke the token of mailbox %s at Google", mailbox.id)
        self._gmail.forget(version)

    def hint(self, failure: ProviderFailure) -> str:
        return CAUSE_HINTS.get(failure.code) or HINTS[failure.kind]

    def broken_message(self, address: str) -> str:
        return (
            f"Sending from {address} stopped working: Google no longer accepts this app's "
            "access (it was revoked or has expired)."
        )
