"""The Identity port: Firebase / Identity Platform ID tokens, verified with google-auth against
Google's signing certificates and checked against the user's current account.

What is checked (docs/decisions/0001 and 0003):
- the token: signature (RS256, against the certificates of securetoken@system, kept per instance),
  audience (the project), issuer, expiry and issue time, a subject that is one plain id, an
  `auth_time` in the past;
- the account, read with Identity Toolkit's `accounts:lookup` (one call per request): it exists,
  is not disabled, its sessions were not revoked after the token's `auth_time`, and its custom
  claims still say the token's `tenant_id` and `role`. Role changes and removals therefore take
  effect at once, not when the token expires an hour later.

The Firebase Auth emulator (FIREBASE_AUTH_EMULATOR_HOST) issues unsigned tokens and holds no keys:
there, as in Google's own Admin SDKs, the signature is the one thing not checked. Everything else
is, on the same path, and a token whose claims were altered still fails the account check.

firebase-admin did the same before, at the price of about 120 more modules at every cold start
(bench/cold_start.py; issue 17); google-auth and requests are loaded anyway.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from sendvia.adapters.oidc import CachedCerts
from sendvia.domain.message import clean_display_name
from sendvia.domain.principal import Principal, Role, valid_id
from sendvia.errors import Forbidden, Unauthenticated, Unavailable

CLOCK_SKEW_S = 10
FIREBASE_CERTS_URL = (
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
)
IDENTITY_TOOLKIT = "https://identitytoolkit.googleapis.com"
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_RESIGN_HINT = "Sign in again to get a fresh ID token."


def _invalid(message: str = "The ID token is not valid.") -> Unauthenticated:
    return Unauthenticated(message, code="invalid_token", hint=_RESIGN_HINT)


class FirebaseIdentity:
    def __init__(self, project: str, emulator_host: str | None = None) -> None:
        self._project = project
        self._emulator_host = emulator_host
        self._certs = CachedCerts()
        self._lock = threading.Lock()
        self._session: Any = None

    def verify(self, token: str) -> Principal:
        claims = self._token_claims(token)
        account = self._account(str(claims["sub"]))
        if account is None:
            raise _invalid("The token's user does not exist.")
        if account.get("disabled"):
            raise Unauthenticated(
                "This account is disabled.",
                code="user_disabled",
                hint="Ask an administrator to enable it.",
            )
        if int(claims["auth_time"]) < int(account.get("validSince") or 0):
            raise Unauthenticated(
                "Your sign-in was revoked.", code="token_revoked", hint=_RESIGN_HINT
            )
        current = json.loads(account.get("customAttributes") or "{}")
        for claim in ("tenant_id", "role"):
            if claims.get(claim) != current.get(claim):
                raise _invalid(
                    "The ID token's claims do not match the account (they changed, or the token "
                    "was tampered with)."
                )
        return principal_from_claims({**claims, "uid": claims["sub"]})

    def _token_claims(self, token: str) -> dict[str, Any]:
        from google.auth import exceptions, jwt
        from google.oauth2 import id_token

        try:
            if self._emulator_host:  # unsigned tokens: the emulator has no keys to sign with
                claims = dict(jwt.decode(token, verify=False))  # type: ignore[no-untyped-call]
            else:
                claims = dict(
                    id_token.verify_firebase_token(  # type: ignore[no-untyped-call]
                        token,
                        self._certs,
                        audience=self._project,
                        clock_skew_in_seconds=CLOCK_SKEW_S,
                    )
                )
        except exceptions.TransportError as exc:
            raise Unavailable(
                "Sign-in could not be checked: Google's signing keys could not be fetched.",
                hint="Try again in a moment.",
            ) from exc
        except (exceptions.GoogleAuthError, ValueError) as exc:
            if "expired" in str(exc).lower():
                raise Unauthenticated(
                    "Your sign-in has expired.", code="token_expired", hint=_RESIGN_HINT
                ) from exc
            raise _invalid() from exc
        now = time.time()
        subject, auth_time, expiry = claims.get("sub"), claims.get("auth_time"), claims.get("exp")
        if (
            claims.get("aud") != self._project
            or claims.get("iss") != f"https://securetoken.google.com/{self._project}"
            or not isinstance(subject, str)
            or not 0 < len(subject) <= 128
            or not isinstance(auth_time, int | float)
            or auth_time > now + CLOCK_SKEW_S
            or not isinstance(expiry, int | float)
            or float(claims.get("iat", now + CLOCK_SKEW_S + 1)) > now + CLOCK_SKEW_S
        ):
            raise _invalid()
        if expiry + CLOCK_SKEW_S < now:
            raise Unauthenticated(
                "Your sign-in has expired.", code="token_expired", hint=_RESIGN_HINT
            )
        return claims

    def _account(self, uid: str) -> dict[str, Any] | None:
        """The user's record (`accounts:lookup`), or None when there is no such user."""
        import requests

        if self._emulator_host:
            base = f"http://{self._emulator_host}/identitytoolkit.googleapis.com"
        else:
            base = IDENTITY_TOOLKIT
        url = f"{base}/v1/projects/{self._project}/accounts:lookup"
        try:
            answer = self._http().post(url, json={"localId": [uid]}, timeout=10)
        except requests.RequestException as exc:
            raise Unavailable(
                "Sign-in could not be checked: the identity service did not answer.",
                hint="Try again in a moment.",
            ) from exc
        if answer.status_code != 200:
            raise Unavailable(
                f"Sign-in could not be checked: the identity service answered "
                f"{answer.status_code}.",
                hint="Try again in a moment.",
            )
        users = answer.json().get("users") or []
        return dict(users[0]) if users else None

    def _http(self) -> Any:
        """A session authorised as the function's service account (the emulator takes any
        bearer; it calls it `owner`), kept per instance for its connections and token."""
        with self._lock:
            if self._session is None:
                if self._emulator_host:
                    import requests

                    self._session = requests.Session()
                    self._session.headers["Authorization"] = "Bearer owner"
                else:
                    import google.auth
                    from google.auth.transport.requests import AuthorizedSession

                    credentials, _ = google.auth.default(scopes=_SCOPES)
                    self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
            return self._session


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """Tenant and role come from custom claims; a token without a tenant is not for sendvia.

    The tenant id and the uid name Firestore documents and secrets, so each must be one plain
    path segment; the display name (the user can set it themselves) is made safe for a From
    header rather than refused."""
    tenant_id = claims.get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise Forbidden(
            "Your account is not a member of any tenant.",
            code="no_tenant",
            hint="Ask your administrator to add you to the practice.",
        )
    if not valid_id(tenant_id):
        raise Forbidden(
            "Your account's tenant id cannot be used: letters, digits, _ and - only, at most 128.",
            code="invalid_tenant",
            hint="Ask the platform's operator to fix the account's tenant_id claim.",
        )
    if not valid_id(str(claims.get("uid", ""))):
        raise Unauthenticated(
            "The token's user id cannot be used: letters, digits, _ and - only, at most 128.",
            code="invalid_token",
            hint=_RESIGN_HINT,
        )
    try:
        role = Role(claims.get("role", Role.MEMBER.value))
    except ValueError as exc:
        raise Forbidden(
            "Your account has an unknown role.",
            code="invalid_role",
            hint="Ask your administrator to set your role to admin or member.",
        ) from exc
    return Principal(
        tenant_id=tenant_id,
        uid=str(claims["uid"]),
        email=str(claims.get("email", "")),
        role=role,
        name=clean_display_name(str(claims.get("name", ""))),
    )
