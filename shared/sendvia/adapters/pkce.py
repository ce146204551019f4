"""PKCE (RFC 7636, S256) for the sign-ins: a verifier kept until the callback, and the challenge
the authorization URL carries."""

from __future__ import annotations

import base64
import hashlib
import secrets


def pkce_pair() -> tuple[str, str]:
    """(verifier, challenge): 86 characters of [A-Za-z0-9_-], and its SHA-256 in base64url."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
