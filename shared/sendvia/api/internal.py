"""Who may call the internal functions: Google-signed OIDC tokens (Cloud Tasks, Cloud Scheduler)
for the function's URL, from the configured service account (ports.CallerTokens)."""

from __future__ import annotations

from sendvia.errors import Unauthenticated
from sendvia.web import Call


def verify_oidc(call: Call, *, audience: str, service_account: str, certs_url: str) -> None:
    scheme, _, token = call.request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(
            "Only the platform's own services may call this function.",
            code="missing_token",
            hint="Call it with an OIDC token.",
        )
    call.runtime.callers.verify(
        token, audience=audience, service_account=service_account, certs_url=certs_url
    )
