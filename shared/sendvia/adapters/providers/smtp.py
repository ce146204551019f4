"""SMTP/IMAP mailboxes with app passwords: send over SMTP, keep a copy in the IMAP Sent folder.

SMTP does not file what it sends, so the copy is ours to make; when it fails the email has still
gone, and the failure is a warning on the delivery (and a log line), not a failed send. The
passwords (SMTP and IMAP, as one JSON secret) go to the mailbox's own servers only.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sendvia.adapters.mail_sockets import cut_imap, cut_smtp
from sendvia.adapters.mail_steps import PLATFORM, Steps, tenant_lane
from sendvia.adapters.smtp_imap import MailServers
from sendvia.domain.delivery import Found
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import MailboxRecord, Provider, Server
from sendvia.domain.smtp_passwords import SmtpPasswords
from sendvia.domain.smtp_replies import HINTS
from sendvia.ports import Outgoing, Secrets, SecretUnavailable, Sent, TestRun

if TYPE_CHECKING:
    from sendvia.adapters.imap_reader import ImapReader

log = logging.getLogger("sendvia.providers.smtp")

DEFAULT_SENT_FOLDER = "Sent"
# Causes that mean the server gave no answer at all (as opposed to refusing).
_NO_ANSWER = frozenset({"timeout", "connection_dropped", "unreachable", "unexpected"})
KIND_HINTS = {
    FailureKind.AUTH: "Enter the mailbox's current (app) password in the email settings and "
    "run the connection test again; until then email goes as the settings say for a broken "
    "mailbox.",
    FailureKind.QUOTA: "The mailbox's sending limit is reached; sending resumes when it resets.",
    FailureKind.TRANSIENT: "Try again in a few minutes.",
    FailureKind.PERMANENT: "Check the message and the mailbox settings.",
    FailureKind.UNKNOWN: "The server took the message without confirming it; it is not sent "
    "again. Check the mailbox's Sent folder, or ask the recipient.",
}


def first_failure(steps: Steps) -> ProviderFailure | None:
    failed = next((s for s in steps.results if not s["ok"]), None)
    return ProviderFailure.of(failed["cause"], failed["reply"]) if failed else None


def send_over_smtp(
    mail: MailServers,
    endpoint: Server,
    password: str,
    *,
    sender: str,
    recipients: list[str],
    raw: bytes,
    trusted: bool = False,
    lane: str = PLATFORM,
) -> None:
    """Send on a pooled, logged-in connection; raises the failed step's ProviderFailure.

    A failure once the message data was on its way — no final reply in time, the connection
    dropped — is `outcome_unknown`: the server may have taken the message, so it must not be
    sent again as if it had not."""
    handed_over = False
    with mail.connection(endpoint, password, trusted=trusted, lane=lane) as (client, steps):
        if client is not None:
            steps.run(
                "send",
                lambda: mail.send(client, sender, recipients, raw),
                limit_s=mail.reply_limit_s + mail.step_limit_s,
                cancel=lambda: cut_smtp(client),
            )
            handed_over = bool(getattr(client, "handed_over", False))
    failure = first_failure(steps)
    if failure is None:
        return
    if (
        handed_over
        and failure.kind in (FailureKind.TRANSIENT, FailureKind.PERMANENT)
        and (failure.code in _NO_ANSWER)
    ):
        raise ProviderFailure(
            FailureKind.UNKNOWN,
            "outcome_unknown",
            f"The server took the message but did not confirm it ({failure.reply}).",
        )
    raise failure


class SmtpProvider:
    kind = Provider.SMTP

    def __init__(self, mail: MailServers, secrets: Secrets) -> None:
        self._mail = mail
        self._secrets = secrets

    def _passwords(self, mailbox: MailboxRecord) -> SmtpPasswords:
        if not mailbox.secret_version:
            raise ProviderFailure(
                FailureKind.AUTH, "reauthorize_required", "No password is stored for this mailbox."
            )
        return SmtpPasswords.decode(self._secrets.access(mailbox.secret_version))

    @staticmethod
    def _smtp(mailbox: MailboxRecord) -> Server:
        if mailbox.smtp is None:
            raise ProviderFailure(
                FailureKind.PERMANENT, "no_smtp", "The mailbox has no SMTP server settings."
            )
        return mailbox.smtp

    def send(self, mailbox: MailboxRecord, outgoing: Outgoing) -> Sent:
        passwords = self._passwords(mailbox)
        raw = outgoing.raw
        send_over_smtp(
            self._mail,
            self._smtp(mailbox),
            passwords.smtp,
            sender=mailbox.address,
            lane=tenant_lane(mailbox.tenant_id),
            recipients=list(outgoing.recipients),
            raw=raw,
        )
        if mailbox.imap is None:
            return Sent()
        copy = self._append_sent(mailbox, mailbox.imap, passwords.imap, raw)
        return Sent(warnings=(copy,) if copy else ())

    def _append_sent(
        self, mailbox: MailboxRecord, imap: Server, password: str, raw: bytes
    ) -> dict[str, str]:
        """Put a copy in the Sent folder; what went wrong, as a warning (empty when it worked)."""
        folder = mailbox.sent_folder or DEFAULT_SENT_FOLDER
        steps = Steps(lane=tenant_lane(mailbox.tenant_id))
        with self._mail.imap_connection(imap, password, steps) as client:
            if client is not None:
                steps.run(
                    "sent_folder",
                    lambda: self._mail.append_sent(client, folder, raw),
                    cancel=lambda: cut_imap(client),
                )
        failure = first_failure(steps)
        if failure is None:
            return {}
        return {
            "code": "sent_copy_failed",
            "message": f"The email was sent, but its copy could not be saved in {folder!r}: "
            f"{failure.reply}",
            "hint": HINTS.get(failure.code) or KIND_HINTS[failure.kind],
        }

    def check(self, mailbox: MailboxRecord) -> None:
        """Log in to the SMTP server: what sending needs. (IMAP only keeps the Sent copy, whose
        failure is a warning when sending, so it does not decide whether the mailbox works.)"""
        passwords = self._passwords(mailbox)
        steps = Steps(lane=tenant_lane(mailbox.tenant_id))
        client = self._mail.open_smtp(self._smtp(mailbox), passwords.smtp, steps)
        if client is not None:
            client.close()
        failure = first_failure(steps)
        if failure is not None:
            raise failure

    def test(self, mailbox: MailboxRecord, message: EmailMessage, recipient: str) -> TestRun:
        """Resolve, connect, TLS, log in, send the test email, log in to IMAP, and keep a copy
        in the Sent folder: each step with its limit, cause and fix."""
        passwords = self._passwords(mailbox)
        raw = message.as_bytes()
        steps = Steps(lane=tenant_lane(mailbox.tenant_id))
        client = self._mail.open_smtp(self._smtp(mailbox), passwords.smtp, steps)
        if client is not None:
            steps.run(
                "send",
                lambda: self._mail.send(client, mailbox.address, [recipient], raw),
                describe=lambda _: f"Accepted for {recipient}",
            )
            client.close()
        imap = mailbox.imap
        if steps.ok and imap is not None:
            opened = steps.run(
                "imap_login",
                lambda: self._mail.open_imap(imap, passwords.imap),
                describe=lambda _: "Logged in",
            )
            if opened is not None:
                steps.run(
                    "sent_folder",
                    lambda: self._mail.append_sent(
                        opened, mailbox.sent_folder or self._sent_of(opened), raw
                    ),
                    describe=str,
                )
                opened.logout()
        return TestRun(steps.results, None, first_failure(steps))

    def _sent_of(self, imap: object) -> str:
        listed = self._mail.folders(imap)
        found = next((f["name"] for f in listed if f["special_use"] == "\\Sent"), None)
        return str(found or DEFAULT_SENT_FOLDER)

    def can_find_sent(self, mailbox: MailboxRecord) -> bool:
        return mailbox.imap is not None

    def find_sent(self, mailbox: MailboxRecord, message_id: str) -> Found:
        """Search the Sent folder over IMAP. sendvia files the copy itself after the server
        confirmed the send, so a copy that is missing proves nothing (UNKNOWN); one that is
        there (the server files what it sends, like Gmail's and Outlook's; or an attempt died
        after filing it) proves the email went."""
        imap = mailbox.imap
        if imap is None:
            return Found.UNKNOWN
        folder = mailbox.sent_folder or DEFAULT_SENT_FOLDER
        try:
            password = self._passwords(mailbox).imap
        except (ProviderFailure, SecretUnavailable):
            return Found.UNKNOWN
        steps = Steps(lane=tenant_lane(mailbox.tenant_id))
        client = steps.run("imap_login", lambda: self._mail.open_imap(imap, password))
        found = (
            steps.run("find_sent", lambda: self._mail.holds(client, folder, message_id))
            if client is not None
            else None
        )
        if client is not None:
            client.logout()
        failure = first_failure(steps)
        if failure is not None:
            log.warning("could not search mailbox %s: %s", mailbox.id, failure.code)
        return Found.SENT if found else Found.UNKNOWN

    def folders(self, mailbox: MailboxRecord) -> list[dict[str, str | None]]:
        imap = mailbox.imap
        if imap is None:
            raise ProviderFailure(
                FailureKind.PERMANENT, "no_imap", "This mailbox has no IMAP settings."
            )
        password = self._passwords(mailbox).imap
        steps = Steps(lane=tenant_lane(mailbox.tenant_id))
        client = steps.run("imap_login", lambda: self._mail.open_imap(imap, password))
        listed = steps.run("folders", lambda: self._mail.folders(client)) if client else None
        if client is not None:
            client.logout()
        failure = first_failure(steps)
        if failure is not None or listed is None:
            raise failure or ProviderFailure.of("imap_error", "The folders could not be listed.")
        found: list[dict[str, str | None]] = listed
        return found

    def reader(self, mailbox: MailboxRecord) -> ImapReader:
        """The mailbox's Inbox and Sent folder over IMAP, for sync."""
        from sendvia.adapters.imap_reader import ImapReader  # sync's, not sending's

        imap = mailbox.imap
        if imap is None:
            raise ProviderFailure(
                FailureKind.PERMANENT, "no_imap", "This mailbox has no IMAP settings to read."
            )
        return ImapReader(
            self._mail,
            imap,
            self._passwords(mailbox).imap,
            mailbox.sent_folder or DEFAULT_SENT_FOLDER,
            tenant_lane(mailbox.tenant_id),
        )

    def forget(self, mailbox: MailboxRecord, *, revoke: bool) -> None:
        """Nothing to revoke: an app password is withdrawn in the provider's account settings."""

    def hint(self, failure: ProviderFailure) -> str:
        return HINTS.get(failure.code) or KIND_HINTS[failure.kind]

    def broken_message(self, address: str) -> str:
        return (
            f"Sending from {address} stopped working: its mail server no longer accepts the "
            "stored login (the password was changed or revoked, or the server's settings "
            "changed)."
        )
