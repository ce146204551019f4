"""Who may call the internal functions: Google-signed OIDC tokens (Cloud Tasks, Cloud Scheduler)
for the function's URL, from the configured service account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sendvia.errors import Forbidden, Unauthenticated
from sendvia.web import Call


def verify_oidc(call: Call, *, audience: str, service_account: str, certs_url: str) -> None:
    scheme, _, token = call.request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(
            "Only the platform's own services may call this function.",
            code="missing_token",
            hint="Call it with an OIDC token.",
        )
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    try:
        claims: Mapping[str, Any] = id_token.verify_token(
            token, google_requests.Request(), audience=audience, certs_url=certs_url
        )
    except Exception as exc:  # any failure to verify is a refusal
        raise Unauthenticated(
            "The caller's token is not valid.",
            code="invalid_token",
            hint="Check the OIDC settings of the caller.",
        ) from exc
    if claims.get("email") != service_account or not claims.get("email_verified"):
        raise Forbidden(
            "The token is not from the configured service account.",
            code="wrong_caller",
            hint="Check the service account settings.",
        )
