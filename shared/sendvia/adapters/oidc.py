"""Google-signed OIDC tokens of the platform's own callers (Cloud Tasks, Cloud Scheduler),
verified with google-auth against the signing certificates, which are kept per instance."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from google.auth import transport

from sendvia.errors import Forbidden, Unauthenticated

CERTS_TTL_S = 300.0  # Google publishes a new signing key well before it signs with it
REFETCH_AFTER_S = 30.0  # a token that fails against certs older than this gets fresh certs


class CachedCerts(transport.Request):
    """The `request` google-auth fetches the signing certificates with, keeping them per
    instance: verification itself is local, the fetch an HTTP round trip per call otherwise."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._responses: dict[str, tuple[float, Any]] = {}
        self._session: Any = None

    def __call__(  # type: ignore[override]
        self, url: str, method: str = "GET", **kwargs: Any
    ) -> Any:
        with self._lock:
            cached = self._responses.get(url)
        if method == "GET" and cached and time.monotonic() - cached[0] < CERTS_TTL_S:
            return cached[1]
        from google.auth.transport import requests as google_requests

        if self._session is None:
            import requests

            self._session = requests.Session()
        response = google_requests.Request(self._session)(url, method=method, **kwargs)
        if method == "GET" and response.status == 200:
            with self._lock:
                self._responses[url] = (time.monotonic(), response)
        return response

    def age(self, url: str) -> float:
        with self._lock:
            cached = self._responses.get(url)
        return time.monotonic() - cached[0] if cached else float("inf")

    def forget(self, url: str) -> None:
        with self._lock:
            self._responses.pop(url, None)


class GoogleOidc:
    """ports.CallerTokens."""

    def __init__(self) -> None:
        self._certs = CachedCerts()

    def verify(self, token: str, *, audience: str, service_account: str, certs_url: str) -> None:
        from google.oauth2 import id_token

        def claims_of() -> Mapping[str, Any]:
            claims: Mapping[str, Any] = id_token.verify_token(
                token, self._certs, audience=audience, certs_url=certs_url
            )
            return claims

        try:
            try:
                claims = claims_of()
            except Exception:
                if self._certs.age(certs_url) < REFETCH_AFTER_S:
                    raise
                self._certs.forget(certs_url)  # perhaps a key newer than our copy: once more
                claims = claims_of()
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
