"""'Sign in with Microsoft' (identity platform v2.0) and Microsoft credentials, with `requests`.

The same code runs against Microsoft and against the local fake; only MicrosoftSettings' base
URLs differ. The app's client secret is read from Secret Manager on first use and kept in memory.
Microsoft issues a new refresh token on every use and keeps the old one working: the newest is
kept in memory, and handed to the mailbox provider (`rotated`) to store at most once a day.
Facts: ../shared/FACTS.md § Microsoft identity platform.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sendvia.adapters.pkce import pkce_pair
from sendvia.config_sign_ins import MicrosoftSettings
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import Provider
from sendvia.metering import METER, TOKEN_REFRESHES
from sendvia.ports import Grant, Profile, Secrets

GRAPH = "https://graph.microsoft.com/"
MAIL_SEND = "Mail.Send"
MAIL_READ = "Mail.Read"
BASE_SCOPES = ("openid", "email", "profile", "offline_access", "User.Read")
HTTP_TIMEOUT_S = 30
# An access token is refreshed this long before Microsoft says it expires.
EXPIRY_MARGIN_S = 300

# AADSTS codes of a dead grant, and the cause each is (domain/failures.py: all auth).
_DEAD_GRANTS = {
    50173: "grant_revoked",  # revoked, or the password changed
    700082: "grant_expired",  # unused for 90 days
    70008: "grant_expired",
    50076: "mfa_required",
    50079: "mfa_required",
    53003: "blocked_by_policy",  # Conditional Access
    65001: "consent_missing",
    90094: "consent_missing",
}
_CLIENT_REFUSED = {7000215, 7000222, 700016}  # the app's own secret or id


def scopes_for(receive: bool) -> list[str]:
    """Sending, and reading (Mail.Read) only when receiving is asked for."""
    return [*BASE_SCOPES, MAIL_SEND, *([MAIL_READ] if receive else [])]


def granted(scopes: tuple[str, ...], name: str) -> bool:
    """Microsoft answers scopes as full URLs (https://graph.microsoft.com/Mail.Send)."""
    return any(s == name or s == GRAPH + name for s in scopes)


@dataclass
class MicrosoftCredentials:
    """A mailbox's tokens, in memory only: the newest refresh token and the access token."""

    refresh_token: str
    scopes: tuple[str, ...]
    access_token: str | None = None
    expires_at: float = 0.0
    rotated: str | None = None  # a refresh token newer than the stored one, not yet stored
    claims: dict[str, Any] = field(default_factory=dict)  # of the id_token, when there was one
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def valid(self) -> bool:
        return bool(self.access_token) and time.time() < self.expires_at - EXPIRY_MARGIN_S

    def __repr__(self) -> str:  # never the tokens
        return f"MicrosoftCredentials(scopes={self.scopes!r}, valid={self.valid})"


class MicrosoftOAuth:
    """ports.OAuthProvider for Microsoft 365 and Outlook.com, and their mailboxes' credentials."""

    mailbox_provider = Provider.MICROSOFT

    def __init__(self, settings: MicrosoftSettings, secrets_: Secrets) -> None:
        self._settings = settings
        self.callback_url = settings.callback_url
        self._secrets = secrets_
        self._secret: str | None = None
        self._lock = threading.RLock()
        self._credentials: dict[str, MicrosoftCredentials] = {}
        self._token_uri = f"{settings.login_base}/{settings.tenant}/oauth2/v2.0/token"
        self.graph_base = settings.graph_base.rstrip("/")

    def _client_secret(self) -> str:
        with self._lock:
            if self._secret is None:
                self._secret = self._secrets.access(self._settings.client_secret_version).decode()
            return self._secret

    # -- sign-in -------------------------------------------------------------------------------

    def scopes_for(self, *, receive: bool) -> list[str]:
        return scopes_for(receive)

    def can_send(self, granted_scopes: tuple[str, ...]) -> bool:
        return granted(granted_scopes, MAIL_SEND)

    def can_read(self, granted_scopes: tuple[str, ...]) -> bool:
        return granted(granted_scopes, MAIL_READ)

    def authorization_url(self, scopes: list[str], state: str) -> tuple[str, str]:
        """Microsoft's authorization URL (PKCE S256, account picker) and the verifier."""
        verifier, challenge = pkce_pair()
        query = {
            "client_id": self._settings.client_id,
            "response_type": "code",
            "redirect_uri": self.callback_url,
            "response_mode": "query",
            "scope": " ".join(scopes),  # space separated: commas fail for work accounts
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "prompt": "select_account",
        }
        base = f"{self._settings.login_base}/{self._settings.tenant}/oauth2/v2.0/authorize"
        return f"{base}?{urlencode(query)}", verifier

    def exchange(self, code: str, scopes: list[str], state: str, verifier: str) -> Grant:
        body = self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.callback_url,
                "code_verifier": verifier,
                "scope": " ".join(scopes),
            }
        )
        scopes_granted = tuple(str(body.get("scope", "")).split())
        credentials = MicrosoftCredentials(
            refresh_token=str(body.get("refresh_token") or ""),
            scopes=scopes_granted,
            access_token=str(body["access_token"]),
            expires_at=time.time() + float(body.get("expires_in") or 3600),
            claims=_claims(str(body.get("id_token") or "")),
        )
        return Grant(body.get("refresh_token"), scopes_granted, credentials)

    def profile(self, grant: Grant) -> Profile:
        """The address from Graph /me (`mail`, else `userPrincipalName`), keyed by tid/oid."""
        import requests

        credentials: MicrosoftCredentials = grant.credentials
        try:
            response = requests.get(
                f"{self.graph_base}/v1.0/me",
                params={"$select": "id,mail,userPrincipalName,displayName"},
                headers={"Authorization": f"Bearer {credentials.access_token}"},
                timeout=HTTP_TIMEOUT_S,
            )
        except requests.RequestException as exc:
            raise ProviderFailure(
                FailureKind.TRANSIENT, "profile_unavailable", "Microsoft Graph was unreachable."
            ) from exc
        if response.status_code != 200:
            raise ProviderFailure(
                FailureKind.TRANSIENT,
                "profile_unavailable",
                f"Microsoft Graph answered {response.status_code} for the profile.",
            )
        me = response.json()
        address = str(me.get("mail") or me.get("userPrincipalName") or "")
        tid = str(credentials.claims.get("tid") or "")
        oid = str(me.get("id") or credentials.claims.get("oid") or "")
        return Profile(
            email=address.lower(),
            name=str(me.get("displayName") or ""),
            account_id=f"{tid}/{oid}" if tid and oid else oid or None,
        )

    def revoke(self, refresh_token: str) -> bool:
        """Microsoft has no per-app revocation for a user's grant: forgetting destroys our
        tokens, and the person removes the app at account.microsoft.com or myapps."""
        return False

    def rotated(self, credentials: Any) -> str | None:
        """The newest refresh token, once, if it replaced the stored one."""
        if not isinstance(credentials, MicrosoftCredentials):
            return None
        with credentials.lock:
            newest, credentials.rotated = credentials.rotated, None
        return newest

    # -- credentials ---------------------------------------------------------------------------

    def credentials(self, key: str, refresh_token: str, scopes: tuple[str, ...]) -> Any:
        """A mailbox's credentials, kept per instance under `key` (its secret version)."""
        with self._lock:
            found = self._credentials.get(key)
            if found is None:
                found = MicrosoftCredentials(refresh_token=refresh_token, scopes=scopes)
                self._credentials[key] = found
            return found

    def access_token(self, credentials: MicrosoftCredentials, *, fresh: bool = False) -> str:
        """A valid access token, refreshed (by one thread per mailbox) when it is close to
        expiring or `fresh` is asked for (Graph answered 401)."""
        with credentials.lock:
            if fresh or not credentials.valid:
                self._refresh(credentials)
            return str(credentials.access_token)

    def refresh(self, credentials: Any) -> None:
        with credentials.lock:
            self._refresh(credentials)

    def _refresh(self, credentials: MicrosoftCredentials) -> None:
        METER.add(TOKEN_REFRESHES)
        # What was granted, in the short form, whichever form Microsoft answered it in.
        granted_scopes = {s.removeprefix(GRAPH) for s in credentials.scopes}
        wanted = [s for s in (*BASE_SCOPES, MAIL_SEND, MAIL_READ) if s in granted_scopes]
        scopes = wanted or scopes_for(receive=False)
        body = self._token(
            {
                "grant_type": "refresh_token",
                "refresh_token": credentials.refresh_token,
                "scope": " ".join(dict.fromkeys([*scopes, "offline_access"])),
            }
        )
        credentials.access_token = str(body["access_token"])
        credentials.expires_at = time.time() + float(body.get("expires_in") or 3600)
        newer = body.get("refresh_token")
        if newer and newer != credentials.refresh_token:  # Microsoft rotates on every use
            credentials.refresh_token = str(newer)
            credentials.rotated = str(newer)

    def forget(self, key: str) -> None:
        with self._lock:
            self._credentials.pop(key, None)

    def _token(self, form: dict[str, str]) -> dict[str, Any]:
        import requests

        data = {
            **form,
            "client_id": self._settings.client_id,
            "client_secret": self._client_secret(),
        }
        try:
            response = requests.post(self._token_uri, data=data, timeout=HTTP_TIMEOUT_S)
        except requests.RequestException as exc:
            raise ProviderFailure(
                FailureKind.TRANSIENT,
                "microsoft_unreachable",
                "Microsoft's token service could not be reached.",
            ) from exc
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        failure = classify_token_error(response.status_code, _json(response))
        if failure.code == "client_secret_invalid":  # rotated by the operator? read it again
            with self._lock:
                self._secret = None
            self._secrets.forget(self._settings.client_secret_version)
        raise failure


def classify_token_error(status: int, body: dict[str, Any]) -> ProviderFailure:
    """Microsoft's token errors by their AADSTS code (never echoing a token)."""
    codes = [int(c) for c in body.get("error_codes") or [] if str(c).isascii() and str(c).isdigit()]
    code = codes[0] if codes else 0
    described = str(body.get("error_description") or body.get("error") or "")
    reply = re.split(r"\s*Trace ID:", described)[0][:300] or f"Microsoft answered {status}."
    if code in _DEAD_GRANTS:
        return ProviderFailure(FailureKind.AUTH, _DEAD_GRANTS[code], reply)
    if code in _CLIENT_REFUSED or body.get("error") == "invalid_client":
        return ProviderFailure(FailureKind.TRANSIENT, "client_secret_invalid", reply)
    if code == 54005:
        return ProviderFailure(FailureKind.PERMANENT, "code_reused", reply)
    if status >= 500 or status == 429 or body.get("error") == "temporarily_unavailable":
        return ProviderFailure(FailureKind.TRANSIENT, "microsoft_unavailable", reply)
    if body.get("error") == "invalid_grant":
        return ProviderFailure(FailureKind.AUTH, "grant_revoked", reply)
    return ProviderFailure(FailureKind.PERMANENT, str(body.get("error") or "sign_in_failed"), reply)


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _claims(id_token: str) -> dict[str, Any]:
    """The id_token's claims (tid, oid), read without verifying its signature: it is the token
    endpoint's own answer over TLS, which OpenID Connect allows (Core 1.0 § 3.1.3.7)."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}
