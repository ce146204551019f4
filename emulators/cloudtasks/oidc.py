"""OIDC tokens for HTTP tasks, signed by a key of the emulator and published as a JWKS.

Cloud Tasks adds `Authorization: Bearer <Google-signed ID token>` when a task has an `oidc_token`;
the audience defaults to the task's URL (cloud.google.com/tasks/docs/creating-http-target-tasks).
The emulator signs with its own RSA key and serves the public half as a JWK Set, so a handler
verifies the token exactly as in production (google.oauth2.id_token.verify_token) with only the
certificates URL changed. Claims mirror Google's ID tokens for service accounts.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://accounts.google.com"
LIFETIME_S = 3600
REUSE_S = 300  # a token is handed out again for this long: signing costs about a millisecond


class TokenSigner:
    """One RSA key per emulator process."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = uuid.uuid4().hex
        self._issued: dict[tuple[str, str], tuple[int, str]] = {}
        self._lock = threading.Lock()

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        public.update({"kid": self.key_id, "use": "sig", "alg": "RS256"})
        return {"keys": [public]}

    def id_token(self, service_account_email: str, audience: str) -> str:
        """A token for the account and audience; the same one for REUSE_S of its hour, as a
        caller keeping Google-minted tokens until near their expiry would see."""
        now = int(time.time())
        key = (service_account_email, audience)
        with self._lock:
            issued = self._issued.get(key)
        if issued is not None and now - issued[0] < REUSE_S:
            return issued[1]
        token = self._sign(service_account_email, audience, now)
        with self._lock:
            self._issued[key] = (now, token)
        return token

    def _sign(self, service_account_email: str, audience: str, now: int) -> str:
        # Google puts the service account's numeric unique id in `sub` and `azp`.
        subject = str(int(hashlib.sha256(service_account_email.encode()).hexdigest()[:15], 16))
        claims = {
            "iss": ISSUER,
            "aud": audience,
            "azp": subject,
            "sub": subject,
            "email": service_account_email,
            "email_verified": True,
            "iat": now,
            "exp": now + LIFETIME_S,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})
