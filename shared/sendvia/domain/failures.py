"""How a mail provider failed, classified so the caller knows what to do next.

`auth`: the credentials no longer work (invalid_grant, 535) — the mailbox is broken until someone
re-authorizes or enters a new password. `quota`: the provider's sending limits — wait until
`retry_after_s`. `transient`: try again later. `permanent`: this message will never go (a bad
recipient).

Each provider names its causes (`wrong_password`, `token_revoked`, ...); which kind a named cause
is comes from this one table, so a server's answer counts the same at send time, at test time and
on resume. An HTTP API's adapter may also pass on the provider's own reason for an error it
classified by the status the provider documents (Gmail: any 5xx is transient, 429 a quota); the
causes it names itself are in this table, and tests/unit/test_failures.py keeps them in step.
"""

from __future__ import annotations

from enum import StrEnum


class FailureKind(StrEnum):
    AUTH = "auth"
    QUOTA = "quota"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    # The provider may have taken the message: no answer after the data was handed over. It is
    # recorded `sent_unconfirmed` and never sent again blindly (docs/delivery-guarantees.md).
    UNKNOWN = "unknown"


# The mailbox cannot log in with what is stored: a person must act (new password, sign in again,
# another port when the server stopped offering AUTH), so it is broken rather than retried.
AUTH_CAUSES = frozenset(
    {
        "wrong_password",
        "app_password_required",
        "basic_auth_disabled",
        "auth_not_offered",
        "token_revoked",
        "refresh_failed",
        "unauthorized",
        "scope_missing",
        "reauthorize_required",
        # Microsoft: the grant is dead (AADSTS50173 revoked or password changed, 700082 and
        # 70008 inactive, 50076/50079 MFA now required, 53003 Conditional Access, 65001 no
        # consent), or the mailbox cannot send through Graph.
        "grant_revoked",
        "grant_expired",
        "mfa_required",
        "blocked_by_policy",
        "consent_missing",
        "mailbox_not_enabled",
        "send_as_denied",
    }
)
UNKNOWN_CAUSES = frozenset({"outcome_unknown"})
QUOTA_CAUSES = frozenset(
    {
        "quota_exceeded",
        "mailbox_throttled",
        "rate_limited",
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "dailyLimitExceeded",
        "quotaExceeded",
    }
)
TRANSIENT_CAUSES = frozenset(
    {
        "timeout",
        "unreachable",
        "server_unavailable",
        "server_busy",
        "temporary_failure",
        "connection_dropped",
        "imap_error",
        "google_unavailable",
        "google_unreachable",
        "gmail_unreachable",
        "profile_unavailable",
        "relay_auth_failed",
        "microsoft_unavailable",
        "microsoft_unreachable",
        "graph_unreachable",
        # The app's own client secret refused (AADSTS7000215/7000222): the operator's to fix;
        # no mailbox is broken by it, the email waits.
        "client_secret_invalid",
    }
)


def kind_of(cause: str) -> FailureKind:
    """The kind of a provider's cause; anything unknown is permanent (never retried blindly)."""
    if cause in AUTH_CAUSES:
        return FailureKind.AUTH
    if cause in QUOTA_CAUSES:
        return FailureKind.QUOTA
    if cause in UNKNOWN_CAUSES:
        return FailureKind.UNKNOWN
    if cause in TRANSIENT_CAUSES:
        return FailureKind.TRANSIENT
    return FailureKind.PERMANENT


class ProviderFailure(Exception):
    """A failure of the provider, in words fit for a person; never carries a credential."""

    def __init__(
        self, kind: FailureKind, code: str, reply: str, *, retry_after_s: int | None = None
    ) -> None:
        super().__init__(f"{kind.value}: {code}: {reply}")
        self.kind = kind
        self.code = code
        self.reply = reply  # the provider's own words
        self.retry_after_s = retry_after_s

    @classmethod
    def of(cls, cause: str, reply: str) -> ProviderFailure:
        """A failure whose kind follows from its cause."""
        return cls(kind_of(cause), cause, reply)
