"""How a mail provider failed, classified so the caller knows what to do next.

`auth`: the credentials no longer work (invalid_grant, 535) — the mailbox is broken until someone
re-authorizes. `quota`: the provider's sending limits — wait until `retry_after_s`.
`transient`: try again later. `permanent`: this message will never go (bad recipient).
"""

from __future__ import annotations

from enum import StrEnum


class FailureKind(StrEnum):
    AUTH = "auth"
    QUOTA = "quota"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


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
