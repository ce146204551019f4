"""What the fake Microsoft remembers: accounts (personal or work), authorization codes, refresh
tokens that rotate on every use, access tokens, drafts and Sent Items, and Exchange's limits.

Facts from Microsoft's identity-platform and Graph docs (../shared/FACTS.md § Microsoft)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

CODE_LIFETIME_S = 600  # "about 10 minutes"
ACCESS_TOKEN_LIFETIME_S = 3599
PERSONAL_TID = "9188040d-6c67-4c5b-b112-36a304b66dad"  # every personal account's tid
PERSONAL_DOMAINS = ("outlook.com", "hotmail.com", "live.com", "msn.com")
SENDS_PER_MINUTE = 30  # Exchange Online's sending limit per mailbox
CONCURRENT_REQUESTS = 4  # Graph: per app per mailbox

# A grant that no longer works, as the token endpoint says it: (AADSTS code, description).
DEAD_GRANTS = {
    "revoked": (
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
    ),
    "password_changed": (
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
    ),
    "inactive": (
        700082,
        "The refresh token has expired due to inactivity. The token was issued on a date and was inactive for 90.00:00:00.",
    ),
    "mfa_required": (
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.",
    ),
}


class GrantError(Exception):
    """A token request refused, as Microsoft answers it (400 invalid_grant, AADSTS code)."""

    def __init__(self, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.code = code
        self.description = description


@dataclass
class Account:
    email: str
    name: str
    oid: str
    tid: str
    mail: str | None  # None: an account without a mailbox address (Graph then gives the UPN)
    per_minute: int = SENDS_PER_MINUTE
    window_s: float = 60.0  # the limit's window: a minute, shorter for tests
    dead: str | None = None  # a key of DEAD_GRANTS once its grants stopped working
    admin_consent_required: bool = False  # its organisation lets only admins consent
    not_enabled: bool = False  # MailboxNotEnabledForRESTAPI (unlicensed, on-premises)
    send_as_denied: bool = False  # ErrorSendAsDenied
    sent: list[dict[str, Any]] = field(default_factory=list)  # Sent Items
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)
    send_times: deque[float] = field(default_factory=deque)
    in_flight: int = 0
    throttled: int = 0  # 429s answered (a client that keeps asking shows here)
    redeemed: list[str] = field(default_factory=list)  # refresh tokens used, in order
    # What Graph's read API sees (emulators/fake_microsoft/mailbox.py): Inbox and Sent Items
    # with the sequence number of each change, the delta tokens' generation, read limits.
    mail_items: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0
    delta_epoch: int = 0
    delta_quirks: bool = False
    undeliverable: set[str] = field(default_factory=set)
    read_times: deque[float] = field(default_factory=deque)
    reads_per_window: int = 10_000
    reads_total: int = 0

    @property
    def personal(self) -> bool:
        return self.tid == PERSONAL_TID


@dataclass
class Grant:
    """One consent of one account to the app: what it allows, and the tokens issued for it."""

    email: str
    client_id: str
    scopes: tuple[str, ...]
    tenant_segment: str  # where it was issued: common, organizations, consumers


@dataclass
class Code:
    grant: Grant
    redirect_uri: str
    challenge: str
    expires_at: float
    used: bool = False


class FakeMicrosoftState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.codes: dict[str, Code] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, tuple[Grant, float]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}  # upload sessions by their key

    def account(self, email: str) -> Account:
        """Accounts are created on first use; personal ones by their domain."""
        email = email.strip().lower()
        with self.lock:
            if email not in self.accounts:
                local, _, domain = email.partition("@")
                name = " ".join(p.capitalize() for p in local.replace("_", ".").split("."))
                digest = hashlib.sha256(email.encode()).hexdigest()
                tid = (
                    PERSONAL_TID
                    if domain in PERSONAL_DOMAINS
                    else str(uuid.UUID(hashlib.sha256(domain.encode()).hexdigest()[:32]))
                )
                self.accounts[email] = Account(
                    email=email, name=name, oid=str(uuid.UUID(digest[:32])), tid=tid, mail=email
                )
            return self.accounts[email]

    def issue_code(self, grant: Grant, redirect_uri: str, challenge: str) -> str:
        code = "M." + secrets.token_urlsafe(32)
        with self.lock:
            self.codes[code] = Code(grant, redirect_uri, challenge, time.time() + CODE_LIFETIME_S)
        return code

    def redeem_code(
        self, code: str, *, client_id: str, redirect_uri: str, verifier: str, tenant_segment: str
    ) -> Grant:
        with self.lock:
            found = self.codes.get(code)
            if found is None or found.expires_at < time.time():
                raise GrantError(
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity.",
                )
            if found.used:
                raise GrantError(
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                )
            found.used = True
            if found.grant.client_id != client_id or found.redirect_uri != redirect_uri:
                raise GrantError(
                    "invalid_grant",
                    50148,
                    "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
                )
            if found.grant.tenant_segment != tenant_segment:
                raise GrantError(
                    "invalid_grant",
                    50148,
                    f"The authorization code was issued for /{found.grant.tenant_segment}, not /{tenant_segment}.",
                )
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != found.challenge:
                raise GrantError(
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                )
            return found.grant

    def tokens_for(self, grant: Grant) -> dict[str, Any]:
        """A new access token, and a new refresh token when offline access was granted."""
        access = "EwB" + secrets.token_urlsafe(48)
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(s for s in grant.scopes if s not in ("openid", "email", "profile")),
            "expires_in": ACCESS_TOKEN_LIFETIME_S,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME_S,
            "access_token": access,
        }
        with self.lock:
            self.access_tokens[access] = (grant, time.time() + ACCESS_TOKEN_LIFETIME_S)
            if "offline_access" in grant.scopes:
                refresh = "M.C5" + secrets.token_urlsafe(64)
                self.refresh_tokens[refresh] = grant
                body["refresh_token"] = refresh
        account = self.account(grant.email)
        if "openid" in grant.scopes:
            body["id_token"] = _id_token(account, grant.client_id)
        return body

    def refresh(self, refresh_token: str, client_id: str, tenant_segment: str) -> dict[str, Any]:
        """A new pair; the old refresh token keeps working (Microsoft does not revoke it)."""
        with self.lock:
            grant = self.refresh_tokens.get(refresh_token)
            if grant is None or grant.client_id != client_id:
                raise GrantError(
                    "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
                )
            account = self.account(grant.email)
            account.redeemed.append(refresh_token)
            dead = account.dead
            if dead:
                code, description = DEAD_GRANTS[dead]
                raise GrantError("invalid_grant", code, description)
        return self.tokens_for(grant)

    def grant_for_access(self, token: str) -> Grant | None:
        with self.lock:
            found = self.access_tokens.get(token)
            if found is None or found[1] < time.time() or self.account(found[0].email).dead:
                return None
            return found[0]

    def expire_access_tokens(self, email: str) -> int:
        """Every access token of the account stops working (as after an hour)."""
        with self.lock:
            gone = [t for t, (g, _) in self.access_tokens.items() if g.email == email]
            for token in gone:
                del self.access_tokens[token]
            return len(gone)

    def tokens_of(self, email: str) -> list[str]:
        with self.lock:
            return [t for t, g in self.refresh_tokens.items() if g.email == email] + [
                t for t, (g, _) in self.access_tokens.items() if g.email == email
            ]

    def admit_send(self, account: Account) -> int | None:
        """Exchange's 30 messages a minute: None when the send may go, else seconds to wait."""
        now = time.time()
        with self.lock:
            while account.send_times and account.send_times[0] < now - account.window_s:
                account.send_times.popleft()
            if len(account.send_times) >= account.per_minute:
                account.throttled += 1
                return int(account.send_times[0] + account.window_s - now) + 1
            account.send_times.append(now)
            return None


def _id_token(account: Account, client_id: str) -> str:
    """An id_token with Microsoft's claims (tid, oid, preferred_username). Its signature is not
    real: sendvia reads it as a token endpoint's direct answer over TLS, as OIDC allows."""
    import json

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "aud": client_id,
        "iss": f"https://login.microsoftonline.com/{account.tid}/v2.0",
        "iat": now,
        "exp": now + 3600,
        "tid": account.tid,
        "oid": account.oid,
        "sub": hashlib.sha256(f"{account.oid}/{client_id}".encode()).hexdigest()[:43],
        "preferred_username": account.email,
        "email": account.mail,
        "name": account.name,
        "ver": "2.0",
    }
    return f"{part({'typ': 'JWT', 'alg': 'RS256', 'kid': 'fake'})}.{part(claims)}.{part({})}"
