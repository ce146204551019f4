"""The mail ports: a mailbox's provider, the platform's relay, and "Sign in with …".

Each port's docstrings are its contract, including what it raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol

from sendvia.domain.delivery import Found
from sendvia.domain.failures import ProviderFailure
from sendvia.domain.mailbox import MailboxRecord, Provider

if TYPE_CHECKING:
    from sendvia.ports.receiving import MailReader

# -- mail providers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A composed email and where it goes: `recipients` is the SMTP envelope (every To, Cc and
    Bcc address); `bcc` the ones in no header, which an API provider is given as a Bcc header it
    strips itself. `raw` is the message as composed and checked, to send as it is."""

    message: EmailMessage
    raw: bytes
    recipients: tuple[str, ...]
    bcc: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sent:
    """A provider accepted the message. `warnings` are what went wrong around it without
    stopping it (the copy to the Sent folder failed): recorded on the delivery, and logged."""

    provider_message_id: str | None = None
    warnings: tuple[dict[str, str], ...] = ()
    # Credentials the provider issued in place of the stored ones while sending (Microsoft
    # rotates a refresh token on every use): stored as the mailbox's new secret version.
    rotated_secret: bytes | None = field(default=None, repr=False)


@dataclass
class TestRun:
    """A mailbox's connection test, step by step (`name`, `ok`, `reply`, `cause`, `hint`,
    `elapsed_ms`), the provider's id of the test email, and the first failure, classified."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    provider_message_id: str | None = None
    failure: ProviderFailure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def sent(self) -> bool:
        """Whether the test email itself went (a later step, the Sent copy, may still fail)."""
        return any(s["name"] == "send" and s["ok"] for s in self.steps)


class MailboxProvider(Protocol):
    """A kind of mailbox (Gmail, SMTP/IMAP, ...): everything sendvia does with one that depends
    on who runs it. Implementations read the mailbox's credentials from Secrets themselves, and
    send them to their own servers only.

    Every method raises ProviderFailure (classified: auth, quota, transient, permanent) and
    nothing else for what the provider or the network did."""

    kind: Provider

    def send(self, mailbox: MailboxRecord, outgoing: Outgoing) -> Sent:
        """Send the email from the mailbox (its provider keeps, or is given, a Sent copy)."""
        ...

    def check(self, mailbox: MailboxRecord) -> None:
        """Whether the stored credentials still work (log in; refresh a token); sends nothing."""
        ...

    def test(self, mailbox: MailboxRecord, message: EmailMessage, recipient: str) -> TestRun:
        """Each step of connecting and sending the test email; failures are in the TestRun."""
        ...

    def can_find_sent(self, mailbox: MailboxRecord) -> bool:
        """Whether the mailbox can be searched for a message it sent (Gmail with a read scope;
        an SMTP mailbox with IMAP)."""
        ...

    def find_sent(self, mailbox: MailboxRecord, message_id: str) -> Found:
        """Search the mailbox for the message with this Message-ID: SENT when found; ABSENT
        only where the provider files everything it sends itself, so absence proves it was not
        sent; UNKNOWN otherwise, and when the search failed. Never raises."""
        ...

    def folders(self, mailbox: MailboxRecord) -> list[dict[str, str | None]]:
        """The mailbox's folders (`name`, `special_use` as RFC 6154 names it, e.g. `\\Sent`);
        ProviderFailure `no_imap` where the provider has none to choose from."""
        ...

    def reader(self, mailbox: MailboxRecord) -> MailReader:
        """The mailbox opened for sync (its Inbox and Sent), to use as a context manager; raises
        ProviderFailure when it cannot be read (no read access, no IMAP settings)."""
        ...

    def forget(self, mailbox: MailboxRecord, *, revoke: bool) -> None:
        """Drop what this instance keeps for the mailbox and, with `revoke`, revoke at the
        provider what is revocable. Never raises: a provider that already forgot the access is
        no reason to keep the mailbox."""
        ...

    def hint(self, failure: ProviderFailure) -> str:
        """What a person can do about `failure`, in this provider's terms."""
        ...

    def broken_message(self, address: str) -> str:
        """Why a mailbox of this provider stopped sending, for its admins."""
        ...


class Relay(Protocol):
    """The platform's own sender (SendGrid, SES or any SMTP relay)."""

    def warm(self) -> None:
        """Get ready for a first email without waiting for it (a connection opened in the
        background); never raises."""
        ...

    def send(self, outgoing: Outgoing, *, tenant_id: str, delivery_id: str) -> Sent:
        """Send from the platform's address, naming the tenant and delivery to the email
        service (its events come back with them). Raises ProviderFailure; a relay refusing its
        own credentials is transient (the operator's to fix; the email waits)."""
        ...


@dataclass(frozen=True)
class Grant:
    """What a completed sign-in gave: the refresh token (to store in Secret Manager, never
    elsewhere), the scopes the person granted, and the session's credentials (memory only)."""

    refresh_token: str | None = field(repr=False)
    granted_scopes: tuple[str, ...]
    credentials: Any = field(repr=False)


@dataclass(frozen=True)
class Profile:
    email: str
    name: str
    # The account's immutable id at its provider (Microsoft: tenant id/object id), where the
    # address can change: a mailbox is keyed by it, never by the address.
    account_id: str | None = None


class OAuthProvider(Protocol):
    """ "Sign in with …" for one mail provider. Raises ProviderFailure for refusals."""

    mailbox_provider: Provider
    callback_url: str  # where the provider sends the browser back (our oauth_callback)

    def scopes_for(self, *, receive: bool) -> list[str]:
        """The scopes to ask for: sending, and reading only when receiving is wanted."""
        ...

    def can_send(self, granted_scopes: tuple[str, ...]) -> bool:
        """Whether the granted scopes let the mailbox send (a person may untick some)."""
        ...

    def can_read(self, granted_scopes: tuple[str, ...]) -> bool: ...

    def authorization_url(self, scopes: list[str], state: str) -> tuple[str, str]:
        """The provider's consent URL and the PKCE verifier to keep until the callback."""
        ...

    def exchange(self, code: str, scopes: list[str], state: str, verifier: str) -> Grant: ...

    def profile(self, grant: Grant) -> Profile:
        """The signed-in account's address and name."""
        ...

    def revoke(self, refresh_token: str) -> bool:
        """Revoke a token (True when the provider confirmed); the token never goes in a URL."""
        ...

    def rotated(self, credentials: Any) -> str | None:
        """The refresh token to store after `credentials` were refreshed, when the provider
        issued a new one in place of the old (Microsoft rotates them on every use; Google does
        not: None). The mailbox provider returns it in Sent.rotated_secret."""
        ...
