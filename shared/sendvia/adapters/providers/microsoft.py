"""Microsoft 365 and Outlook.com mailboxes: "Sign in with Microsoft" credentials, sent through
Microsoft Graph (a draft from the composed message, then its send; Exchange files it in Sent
Items).

The refresh token lives in Secret Manager under the mailbox's secret version; this instance keeps
credentials per version. Microsoft replaces the refresh token on every use: the newest is handed
back (`Sent.rotated_secret`) to be stored as the secret's new version at most once a day, so a
mailbox in use never reaches the 90 days after which an unused token dies.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from sendvia.adapters.graph import Graph
from sendvia.adapters.graph_reader import GraphReader
from sendvia.adapters.microsoft_oauth import MicrosoftCredentials, MicrosoftOAuth
from sendvia.adapters.providers.test_steps import run_step
from sendvia.domain.delivery import Found
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import MailboxRecord, Provider
from sendvia.ports import Outgoing, Secrets, SecretUnavailable, Sent, TestRun
from sendvia.ports.receiving import MailReader

log = logging.getLogger("sendvia.providers.microsoft")

# How often a rotated refresh token is stored (a new secret version): at most once a day.
STORE_ROTATED_EVERY = dt.timedelta(days=1)
HINTS = {
    FailureKind.AUTH: "Sign in with Microsoft again (Re-authorize) to resume sending from this "
    "mailbox; until then email goes as the settings say for a broken mailbox.",
    FailureKind.QUOTA: "Microsoft's sending limit for this mailbox is reached (30 messages a "
    "minute); sending resumes shortly.",
    FailureKind.TRANSIENT: "Try again in a few minutes.",
    FailureKind.PERMANENT: "Check the message and the mailbox settings.",
    FailureKind.UNKNOWN: "Microsoft took the message without confirming it; it is not sent "
    "again. Check the mailbox's Sent Items, or ask the recipient.",
}
CAUSE_HINTS = {
    "mailbox_not_enabled": "This account has no Exchange Online mailbox that Graph can use "
    "(unlicensed, on-premises or inactive): ask your IT admin to license it, then sign in "
    "again.",
    "send_as_denied": "The signed-in account may not send as this address: sign in with the "
    "mailbox's own account, or ask your IT admin for Send As rights.",
    "consent_missing": "Your organisation requires an administrator to approve this app: ask "
    "your IT admin to grant admin consent, then sign in again.",
    "mfa_required": "Your organisation now requires multi-factor sign-in: sign in with "
    "Microsoft again.",
    "blocked_by_policy": "Your organisation's Conditional Access policy blocks this app: ask "
    "your IT admin.",
    "client_secret_invalid": "The platform's Microsoft app credentials are being fixed; the "
    "email is retried.",
    "no_imap": "Nothing to choose: Microsoft keeps what it sends in Sent Items itself.",
}
_STEP_CAUSES = {"grant_revoked": "token_revoked", "grant_expired": "token_expired"}


class MicrosoftProvider:
    kind = Provider.MICROSOFT

    def __init__(
        self,
        oauth: MicrosoftOAuth,
        graph: Graph,
        secrets: Secrets,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._oauth = oauth
        self._graph = graph
        self._secrets = secrets
        self._clock = clock

    def _credentials(self, mailbox: MailboxRecord) -> MicrosoftCredentials:
        version = mailbox.secret_version
        if not version:
            raise ProviderFailure(
                FailureKind.AUTH,
                "reauthorize_required",
                "No Microsoft access is stored for this mailbox.",
            )
        refresh_token = self._secrets.access(version).decode()
        found: MicrosoftCredentials = self._oauth.credentials(
            version, refresh_token, tuple(mailbox.scopes)
        )
        return found

    def send(self, mailbox: MailboxRecord, outgoing: Outgoing) -> Sent:
        credentials = self._credentials(mailbox)
        draft_id = self._graph.send(
            mailbox.secret_version or "", credentials, outgoing.message, outgoing.bcc
        )
        return Sent(draft_id, rotated_secret=self._rotated(mailbox, credentials))

    def _rotated(self, mailbox: MailboxRecord, credentials: MicrosoftCredentials) -> bytes | None:
        """The newest refresh token, when the stored one is a day old or more."""
        stored_at = mailbox.raw.get("secret_stored_at") or mailbox.connected_at
        if isinstance(stored_at, dt.datetime) and self._clock() - stored_at < STORE_ROTATED_EVERY:
            return None
        newest = self._oauth.rotated(credentials)
        return newest.encode() if newest else None

    def check(self, mailbox: MailboxRecord) -> None:
        self._oauth.refresh(self._credentials(mailbox))

    def test(self, mailbox: MailboxRecord, message: EmailMessage, recipient: str) -> TestRun:
        run = TestRun()
        credentials = self._step(
            run,
            "token",
            lambda: self._fresh(mailbox),
            lambda _: "Microsoft issued a fresh access token",
        )
        if credentials is not None:
            run.provider_message_id = self._step(
                run,
                "send",
                lambda: self._graph.send(mailbox.secret_version or "", credentials, message),
                lambda _: "Microsoft Graph accepted the message (it is in Sent Items)",
            )
        return run

    def _fresh(self, mailbox: MailboxRecord) -> MicrosoftCredentials:
        credentials = self._credentials(mailbox)
        self._oauth.refresh(credentials)
        return credentials

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
        """Exchange files what Graph sends in Sent Items at once: with Mail.Read, a message not
        found was not sent."""
        if not self.can_find_sent(mailbox):
            return Found.UNKNOWN
        try:
            found = self._graph.find(
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
            "Microsoft files sent email in Sent Items itself; there is no folder to choose.",
        )

    def reader(self, mailbox: MailboxRecord) -> MailReader:
        """The mailbox's Inbox and Sent Items through Graph, with Mail.Read (asked for when
        receiving was wanted)."""
        if not self.can_find_sent(mailbox):
            raise ProviderFailure(
                FailureKind.AUTH,
                "scope_missing",
                "This mailbox was not given the permission to read mail (Mail.Read).",
            )
        return GraphReader(self._graph, mailbox.secret_version or "", self._credentials(mailbox))

    def forget(self, mailbox: MailboxRecord, *, revoke: bool) -> None:
        """Microsoft has no per-app revocation: what this instance keeps is dropped, and the
        caller destroys the stored token (the person removes the app in their account)."""
        if mailbox.secret_version:
            self._oauth.forget(mailbox.secret_version)

    def hint(self, failure: ProviderFailure) -> str:
        return CAUSE_HINTS.get(failure.code) or HINTS[failure.kind]

    def broken_message(self, address: str) -> str:
        return (
            f"Sending from {address} stopped working: Microsoft no longer accepts this app's "
            "access (it was revoked, the password changed, or it went unused for 90 days). "
            "To remove the app's access yourself: account.microsoft.com (personal) or "
            "myapps.microsoft.com (work or school)."
        )
