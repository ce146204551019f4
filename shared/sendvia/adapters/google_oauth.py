"""'Sign in with Google' and Google credentials, with google-auth-oauthlib and google-auth.

The same code runs against Google and against the local fake; only GoogleSettings' endpoints
differ. The OAuth client secret is read from Secret Manager on first use and kept in memory.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlencode

from sendvia.adapters.pkce import pkce_pair
from sendvia.config_sign_ins import GoogleSettings
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import Provider
from sendvia.metering import METER, TOKEN_REFRESHES
from sendvia.ports import Grant, Profile, Secrets

GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
GMAIL_READ = "https://www.googleapis.com/auth/gmail.readonly"
# Basic, non-sensitive scopes: enough to learn the account's address and name. gmail.send alone
# cannot read the address (users.getProfile needs a read scope), so these come along.
PROFILE = (
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
)


def scopes_for(receive: bool) -> list[str]:
    """gmail.send, plus the restricted read scope only when receiving is asked for."""
    return [*PROFILE, GMAIL_SEND, *([GMAIL_READ] if receive else [])]


class GoogleOAuth:
    """ports.OAuthProvider for Gmail, and the credentials of Gmail mailboxes."""

    mailbox_provider = Provider.GMAIL

    def __init__(self, settings: GoogleSettings, secrets: Secrets) -> None:
        self._settings = settings
        self.callback_url = settings.callback_url
        self._secrets = secrets
        self._secret: str | None = None
        self._lock = threading.RLock()
        self._credentials: dict[str, Any] = {}

    def _client_secret(self) -> str:
        with self._lock:
            if self._secret is None:
                self._secret = self._secrets.access(self._settings.client_secret_version).decode()
            return self._secret

    def _flow(self, scopes: list[str], **options: Any) -> Any:
        from google_auth_oauthlib.flow import Flow

        config = {
            "web": {
                "client_id": self._settings.client_id,
                "client_secret": self._client_secret(),
                "auth_uri": self._settings.auth_uri,
                "token_uri": self._settings.token_uri,
            }
        }
        return Flow.from_client_config(
            config, scopes=scopes, redirect_uri=self._settings.callback_url, **options
        )

    def authorization_url(self, scopes: list[str], state: str) -> tuple[str, str]:
        """Google's authorization URL (offline access, consent shown, PKCE S256) and the PKCE
        verifier to keep until the callback. Only the client id is needed: neither the client
        secret nor oauthlib is loaded to start a sign-in (bench/cold_start.py)."""
        verifier, challenge = pkce_pair()
        query = {
            "response_type": "code",
            "client_id": self._settings.client_id,
            "redirect_uri": self._settings.callback_url,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "access_type": "offline",
            "prompt": "consent",
        }
        return f"{self._settings.auth_uri}?{urlencode(query)}", verifier

    def exchange(self, code: str, scopes: list[str], state: str, verifier: str) -> Grant:
        from oauthlib.oauth2 import OAuth2Error

        flow = self._flow(
            scopes, state=state, code_verifier=verifier, autogenerate_code_verifier=False
        )
        try:
            token = flow.fetch_token(code=code)
        except OAuth2Error as exc:
            raise ProviderFailure(
                FailureKind.PERMANENT,
                exc.error or "exchange_failed",
                exc.description or "Google refused the sign-in.",
            ) from exc
        granted = (
            tuple(str(token.get("scope", "")).split())
            if isinstance(token.get("scope"), str)
            else tuple(token.get("scope") or ())
        )
        return Grant(token.get("refresh_token"), granted, flow.credentials)

    def scopes_for(self, *, receive: bool) -> list[str]:
        return scopes_for(receive)

    def can_send(self, granted_scopes: tuple[str, ...]) -> bool:
        return GMAIL_SEND in granted_scopes

    def can_read(self, granted_scopes: tuple[str, ...]) -> bool:
        return GMAIL_READ in granted_scopes

    def rotated(self, credentials: Any) -> str | None:
        return None  # Google keeps a refresh token until it is revoked or unused for 6 months

    def profile(self, grant: Grant) -> Profile:
        from google.auth.transport.requests import AuthorizedSession

        session = AuthorizedSession(grant.credentials)  # type: ignore[no-untyped-call]
        response = session.get(self._settings.userinfo_uri, timeout=15)
        if response.status_code != 200:
            raise ProviderFailure(
                FailureKind.TRANSIENT,
                "profile_unavailable",
                f"Google answered {response.status_code} for the profile.",
            )
        body = response.json()
        return Profile(email=str(body.get("email", "")), name=str(body.get("name", "")))

    def revoke(self, token: str) -> bool:
        """Revoke a token at Google (the token goes in the body, never in a URL that is logged)."""
        import requests

        response = requests.post(
            self._settings.revoke_uri,
            data={"token": token},
            timeout=15,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return response.status_code == 200

    def credentials(self, key: str, refresh_token: str, scopes: list[str]) -> Any:
        """Credentials for a mailbox, kept per instance: google-auth refreshes the access token
        shortly before it expires, so the token endpoint is hit about once an hour per mailbox.
        `key` changes when the refresh token does (it names the secret version)."""
        from google.oauth2.credentials import Credentials

        with self._lock:
            found = self._credentials.get(key)
            if found is None:
                found = Credentials(  # type: ignore[no-untyped-call]
                    token=None,
                    refresh_token=refresh_token,
                    token_uri=self._settings.token_uri,
                    client_id=self._settings.client_id,
                    client_secret=self._client_secret(),
                    scopes=scopes,
                )
                self._credentials[key] = found
            return found

    def refresh(self, credentials: Any) -> None:
        """Get a fresh access token now; classify Google's refusal."""
        from google.auth.exceptions import RefreshError, TransportError
        from google.auth.transport.requests import Request

        METER.add(TOKEN_REFRESHES)
        try:
            credentials.refresh(Request())
        except RefreshError as exc:
            raise classify_refresh_error(exc) from exc
        except TransportError as exc:
            raise ProviderFailure(
                FailureKind.TRANSIENT,
                "google_unreachable",
                "Google's token service could not be reached.",
            ) from exc

    def forget(self, key: str) -> None:
        with self._lock:
            self._credentials.pop(key, None)


def classify_refresh_error(exc: Exception) -> ProviderFailure:
    """`invalid_grant` means the refresh token is dead: revoked by the user, unused for six
    months, password changed, or too many tokens (developers.google.com/identity/protocols/oauth2
    #expiration). Anything else the library marks retryable is transient."""
    text = str(exc.args[0]) if exc.args else str(exc)
    if "invalid_grant" in text:
        return ProviderFailure(
            FailureKind.AUTH,
            "token_revoked",
            "Google says the access was revoked or has expired (invalid_grant).",
        )
    if getattr(exc, "retryable", False):
        return ProviderFailure(FailureKind.TRANSIENT, "google_unavailable", text[:200])
    return ProviderFailure(FailureKind.AUTH, "refresh_failed", text[:200])
