"""The Identity port: Firebase / Identity Platform ID tokens verified with firebase-admin.

Besides firebase-admin's own checks (signature against Google's keys, audience, issuer, expiry),
every token is checked against the user's current record (`check_revoked=True`): a disabled or
deleted user, a revoked session, or a token whose tenant or role claims no longer match the
user's custom claims is refused. Role changes and removals therefore take effect at once, not
when the token expires an hour later. The same checks close the gaps of emulator mode, in which
firebase-admin skips the signature and expiry checks (FIREBASE_AUTH_EMULATOR_HOST set).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from sendvia.domain.message import clean_display_name
from sendvia.domain.principal import Principal, Role, valid_id
from sendvia.errors import Forbidden, Unauthenticated

CLOCK_SKEW_S = 10
_RESIGN_HINT = "Sign in again to get a fresh ID token."


class FirebaseIdentity:
    def __init__(
        self, project: str, emulator_host: str | None = None, app_name: str = "sendvia"
    ) -> None:
        if emulator_host:  # the Admin SDK is told of the Auth emulator by this variable only
            os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = emulator_host
        self._project = project
        self._app_name = app_name
        self._app: Any = None
        self._lock = threading.Lock()

    def _firebase(self) -> Any:
        with self._lock:
            if self._app is None:
                import firebase_admin

                try:
                    self._app = firebase_admin.get_app(self._app_name)
                except ValueError:
                    self._app = firebase_admin.initialize_app(
                        options={"projectId": self._project}, name=self._app_name
                    )
            return self._app

    def verify(self, token: str) -> Principal:
        from firebase_admin import auth

        app = self._firebase()
        try:
            claims = auth.verify_id_token(
                token, app=app, check_revoked=True, clock_skew_seconds=CLOCK_SKEW_S
            )
            record = auth.get_user(claims["uid"], app=app)
        except auth.ExpiredIdTokenError as exc:
            raise Unauthenticated(
                "Your sign-in has expired.", code="token_expired", hint=_RESIGN_HINT
            ) from exc
        except auth.RevokedIdTokenError as exc:
            raise Unauthenticated(
                "Your sign-in was revoked.", code="token_revoked", hint=_RESIGN_HINT
            ) from exc
        except auth.UserDisabledError as exc:
            raise Unauthenticated(
                "This account is disabled.",
                code="user_disabled",
                hint="Ask an administrator to enable it.",
            ) from exc
        except auth.UserNotFoundError as exc:
            raise Unauthenticated(
                "The token's user does not exist.", code="invalid_token", hint=_RESIGN_HINT
            ) from exc
        except (auth.InvalidIdTokenError, ValueError) as exc:
            raise Unauthenticated(
                "The ID token is not valid.", code="invalid_token", hint=_RESIGN_HINT
            ) from exc
        # In emulator mode firebase-admin does not check expiry; in production this repeats it.
        if float(claims.get("exp", 0)) + CLOCK_SKEW_S < time.time():
            raise Unauthenticated(
                "Your sign-in has expired.", code="token_expired", hint=_RESIGN_HINT
            )
        current = record.custom_claims or {}
        for claim in ("tenant_id", "role"):
            if claims.get(claim) != current.get(claim):
                raise Unauthenticated(
                    "The ID token's claims do not match the account (they changed, or the token "
                    "was tampered with).",
                    code="invalid_token",
                    hint=_RESIGN_HINT,
                )
        return principal_from_claims(claims)


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
