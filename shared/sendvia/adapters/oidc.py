"""Google-signed OIDC tokens of the platform's own callers (Cloud Tasks, Cloud Scheduler),
verified with google-auth against the signing certificates, which are kept per instance."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from typing import Any

from google.auth import transport

from sendvia.errors import Forbidden, Unauthenticated

CERTS_TTL_S = 300.0  # Google publishes a new signing key well before it signs with it
REFETCH_AFTER_S = 30.0  # a token that fails against certs older than this gets fresh certs
# A token accepted is accepted again without its signature checked, until it expires and no
# longer than the copy of the certificates it was checked with is kept (a key Google withdraws
# stops counting as soon either way). Cloud Tasks hands out one token many times; an RSA check
# is a tenth of the CPU of a `deliver` (bench/pipeline.py).
MAX_ACCEPTED = 4096


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
        response = self._fetch(url, method=method, **kwargs)
        if method == "GET" and response.status == 200:
            with self._lock:
                self._responses[url] = (time.monotonic(), response)
        return response

    def _fetch(self, url: str, method: str = "GET", **kwargs: Any) -> Any:
        from google.auth.transport import requests as google_requests

        if self._session is None:
            import requests

            self._session = requests.Session()
        return google_requests.Request(self._session)(url, method=method, **kwargs)

    def age(self, url: str) -> float:
        with self._lock:
            cached = self._responses.get(url)
        return time.monotonic() - cached[0] if cached else float("inf")

    def forget(self, url: str) -> None:
        with self._lock:
            self._responses.pop(url, None)


class GoogleOidc:
    """ports.CallerTokens. Every `deliver` is called with a token, so the signing keys are
    parsed once per copy of the certificates, not once per call (google-auth's `verify_token`
    builds every key of the set again each time: bench/pipeline.py)."""

    def __init__(self) -> None:
        self._certs = CachedCerts()
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[Any, Mapping[str, Any]]] = {}
        self._accepted: dict[tuple[bytes, str, str, str], float] = {}  # until (epoch s)

    def _keys_of(self, certs_url: str) -> Mapping[str, Any]:
        """The certificates' JWK set by key id (parsed once per fetched copy), or, for the
        x509 form, the certificates themselves."""
        response = self._certs(certs_url)
        if response.status != 200:
            from google.auth import exceptions

            raise exceptions.TransportError(  # type: ignore[no-untyped-call]
                f"Could not fetch certificates at {certs_url}"
            )
        with self._lock:
            parsed = self._keys.get(certs_url)
        if parsed is not None and parsed[0] is response:
            return parsed[1]
        import json

        certs = json.loads(response.data.decode("utf-8"))
        if "keys" in certs:
            from jwt.api_jwk import PyJWKSet

            keys: Mapping[str, Any] = {
                key.key_id: key
                for key in PyJWKSet.from_dict(certs).keys
                if key.key_id and key.public_key_use in ("sig", None)
            }
        else:
            keys = {"x509": certs}
        with self._lock:
            self._keys[certs_url] = (response, keys)
        return keys

    def _claims(self, token: str, audience: str, certs_url: str) -> Mapping[str, Any]:
        keys = self._keys_of(certs_url)
        if "x509" in keys:
            from google.auth import jwt as google_jwt

            claims: Mapping[str, Any] = google_jwt.decode(  # type: ignore[no-untyped-call]
                token, certs=keys["x509"], audience=audience
            )
            return claims
        import jwt

        key = keys.get(jwt.get_unverified_header(token).get("kid") or "")
        if key is None:
            raise ValueError("no signing key matches the token's key id")
        decoded: Mapping[str, Any] = jwt.decode(
            token, key.key, algorithms=[key.algorithm_name], audience=audience
        )
        return decoded

    def verify(self, token: str, *, audience: str, service_account: str, certs_url: str) -> None:
        seen = (hashlib.sha256(token.encode()).digest(), audience, service_account, certs_url)
        with self._lock:
            until = self._accepted.get(seen)
        if until is not None and time.time() < until:
            return
        claims = self._verified(token, audience, service_account, certs_url)
        if isinstance(claims.get("exp"), int | float):
            with self._lock:
                if len(self._accepted) >= MAX_ACCEPTED:
                    self._accepted.clear()
                # Never past the life of the copy of the certificates it was checked with.
                kept_for = CERTS_TTL_S - self._certs.age(certs_url)
                self._accepted[seen] = min(float(claims["exp"]), time.time() + kept_for)

    def _verified(
        self, token: str, audience: str, service_account: str, certs_url: str
    ) -> Mapping[str, Any]:
        try:
            try:
                claims = self._claims(token, audience, certs_url)
            except Exception:
                if self._certs.age(certs_url) < REFETCH_AFTER_S:
                    raise
                self._certs.forget(certs_url)  # perhaps a key newer than our copy: once more
                claims = self._claims(token, audience, certs_url)
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
        return claims
