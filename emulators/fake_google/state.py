"""What the fake Google remembers: accounts, authorization codes, tokens, sent mail and quotas."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

CODE_LIFETIME_S = 600
ACCESS_TOKEN_LIFETIME_S = 3599
# Google Workspace: 2,000 messages a day; 15,000 quota units a minute at 100 units per send.
DEFAULT_DAILY_LIMIT = 2000
DEFAULT_PER_MINUTE = 150
DEFAULT_UNITS_PER_MINUTE = 15_000  # Gmail's quota units per user per minute


@dataclass
class Account:
    email: str
    name: str
    sub: str
    daily_limit: int = DEFAULT_DAILY_LIMIT
    per_minute: int = DEFAULT_PER_MINUTE
    sent: list[dict[str, Any]] = field(default_factory=list)
    send_times: deque[float] = field(default_factory=deque)
    # The mailbox Gmail's read API sees (emulators/fake_google/mailbox.py): every message with
    # its labels and the history id that added it; history older than `history_floor` is gone.
    messages: list[dict[str, Any]] = field(default_factory=list)
    history_id: int = 1000
    history_floor: int = 0
    units: deque[tuple[float, int]] = field(default_factory=deque)
    units_per_minute: int = DEFAULT_UNITS_PER_MINUTE
    units_spent: int = 0
    undeliverable: set[str] = field(default_factory=set)


@dataclass
class Grant:
    """One consent: a refresh token and the access tokens minted from it."""

    email: str
    client_id: str
    scopes: tuple[str, ...]
    refresh_token: str | None
    revoked: bool = False


@dataclass
class Code:
    grant: Grant
    redirect_uri: str
    challenge: str
    expires_at: float
    used: bool = False


class QuotaExceeded(Exception):  # noqa: N818 - Google's words
    def __init__(self, kind: str, retry_after_s: int) -> None:
        super().__init__(kind)
        self.kind = kind
        self.retry_after_s = retry_after_s


class FakeGoogleState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.codes: dict[str, Code] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, tuple[Grant, float]] = {}

    def account(self, email: str) -> Account:
        """Accounts are created on first use, like signing in with any address."""
        email = email.strip().lower()
        with self.lock:
            if email not in self.accounts:
                local = email.split("@", 1)[0]
                name = " ".join(part.capitalize() for part in local.replace("_", ".").split("."))
                sub = str(int(hashlib.sha256(email.encode()).hexdigest()[:18], 16))
                self.accounts[email] = Account(email=email, name=name, sub=sub)
            return self.accounts[email]

    def issue_code(
        self,
        *,
        email: str,
        client_id: str,
        scopes: tuple[str, ...],
        redirect_uri: str,
        challenge: str,
        offline: bool,
    ) -> str:
        code = "4/0" + secrets.token_urlsafe(32)
        refresh = "1//0" + secrets.token_urlsafe(40) if offline else None
        grant = Grant(
            email=self.account(email).email,
            client_id=client_id,
            scopes=scopes,
            refresh_token=refresh,
        )
        with self.lock:
            self.codes[code] = Code(grant, redirect_uri, challenge, time.time() + CODE_LIFETIME_S)
        return code

    def redeem_code(self, code: str, client_id: str, redirect_uri: str, verifier: str) -> Grant:
        """Exchange an authorization code once; raises ValueError with Google's description."""
        with self.lock:
            found = self.codes.get(code)
            if found is None or found.used or found.expires_at < time.time():
                raise ValueError("Bad Request")
            if found.grant.client_id != client_id or found.redirect_uri != redirect_uri:
                raise ValueError("Bad Request")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != found.challenge:
                raise ValueError("Invalid code verifier.")
            found.used = True
            if found.grant.refresh_token:
                self.refresh_tokens[found.grant.refresh_token] = found.grant
            return found.grant

    def mint_access_token(self, grant: Grant) -> str:
        token = "ya29.a0" + secrets.token_urlsafe(48)
        with self.lock:
            self.access_tokens[token] = (grant, time.time() + ACCESS_TOKEN_LIFETIME_S)
        return token

    def grant_for_refresh(self, refresh_token: str, client_id: str) -> Grant:
        with self.lock:
            grant = self.refresh_tokens.get(refresh_token)
            if grant is None or grant.revoked or grant.client_id != client_id:
                raise ValueError("Token has been expired or revoked.")
            return grant

    def grant_for_access(self, token: str) -> Grant | None:
        with self.lock:
            found = self.access_tokens.get(token)
            if found is None or found[0].revoked or found[1] < time.time():
                return None
            return found[0]

    def revoke_token(self, token: str) -> bool:
        """Revoking either token of a grant revokes the whole grant, as Google does."""
        with self.lock:
            grant = self.refresh_tokens.get(token) or (self.access_tokens.get(token) or (None,))[0]
            if grant is None or grant.revoked:
                return False
            grant.revoked = True
            return True

    def revoke_account(self, email: str) -> int:
        with self.lock:
            grants = {id(g): g for g in self.refresh_tokens.values() if g.email == email}
            grants.update({id(g): g for g, _ in self.access_tokens.values() if g.email == email})
            fresh = [g for g in grants.values() if not g.revoked]
            for grant in fresh:
                grant.revoked = True
            return len(fresh)

    def tokens_of(self, email: str) -> list[str]:
        with self.lock:
            return [t for t, g in self.refresh_tokens.items() if g.email == email] + [
                t for t, (g, _) in self.access_tokens.items() if g.email == email
            ]

    def record_send(self, account: Account, message: dict[str, Any]) -> None:
        """Count against the account's quotas, then keep the message."""
        now = time.time()
        with self.lock:
            day_ago = [t for t in account.send_times if t > now - 86400]
            minute_ago = [t for t in day_ago if t > now - 60]
            if len(day_ago) >= account.daily_limit:
                oldest = day_ago[0] if day_ago else now
                raise QuotaExceeded("daily", int(oldest + 86400 - now) + 1)
            if len(minute_ago) >= account.per_minute:
                oldest = minute_ago[0] if minute_ago else now
                raise QuotaExceeded("rate", int(oldest + 60 - now) + 1)
            account.send_times = deque([*day_ago, now])
            account.sent.append(message)
