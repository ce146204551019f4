"""The ports services depend on; adapters implement them, tests may pass their own.

Each port's docstrings are its contract, including what it raises: services catch only what is
written there (ProviderFailure, SecretUnavailable, SignatureError, the errors of sendvia.errors),
never an SDK's.
"""

from sendvia.ports.mail import (
    Grant,
    MailboxProvider,
    OAuthProvider,
    Outgoing,
    Profile,
    Relay,
    Sent,
    TestRun,
)
from sendvia.ports.platform import (
    CallerTokens,
    Identity,
    MailExchangers,
    Members,
    Queue,
    Secrets,
    SecretUnavailable,
    WebhookSignatures,
)
from sendvia.ports.storage import (
    Deliveries,
    Mailboxes,
    Notifications,
    OAuthStates,
    Recipients,
    Store,
)

__all__ = [
    "CallerTokens",
    "Deliveries",
    "Grant",
    "Identity",
    "MailExchangers",
    "MailboxProvider",
    "Mailboxes",
    "Members",
    "Notifications",
    "OAuthProvider",
    "OAuthStates",
    "Outgoing",
    "Profile",
    "Queue",
    "Recipients",
    "Relay",
    "SecretUnavailable",
    "Secrets",
    "Sent",
    "Store",
    "TestRun",
    "WebhookSignatures",
]
