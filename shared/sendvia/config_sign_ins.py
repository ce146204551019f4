"""The "Sign in with …" settings: Google's and Microsoft's OAuth clients and endpoints, read by
config.load(). The client secrets stay in Secret Manager: these name their versions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SECRET_VERSION = re.compile(r"^projects/[^/]+/secrets/[A-Za-z0-9_-]+/versions/(latest|\d+)$")


@dataclass(frozen=True)
class GoogleSettings:
    """ "Sign in with Google" and the Gmail API. Locally every endpoint points at the fake Google
    (SENDVIA_GOOGLE_BASE_URL); in production they are Google's own."""

    client_id: str
    client_secret_version: str  # Secret Manager version holding the OAuth client secret
    callback_url: str  # the oauth_callback function's URL, registered as redirect URI
    auth_uri: str = "https://accounts.google.com/o/oauth2/v2/auth"
    token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
    revoke_uri: str = "https://oauth2.googleapis.com/revoke"
    userinfo_uri: str = "https://www.googleapis.com/oauth2/v3/userinfo"
    gmail_endpoint: str = "https://gmail.googleapis.com/"

    @classmethod
    def at(cls, base_url: str, **values: str) -> GoogleSettings:
        base = base_url.rstrip("/")
        return cls(
            auth_uri=f"{base}/o/oauth2/v2/auth",
            token_uri=f"{base}/token",
            revoke_uri=f"{base}/revoke",
            userinfo_uri=f"{base}/oauth2/v3/userinfo",
            gmail_endpoint=f"{base}/",
            **values,
        )


@dataclass(frozen=True)
class MicrosoftSettings:
    """ "Sign in with Microsoft" (identity platform v2.0) and Microsoft Graph. Locally both
    point at the fake Microsoft (SENDVIA_MICROSOFT_BASE_URL); in production at Microsoft's."""

    client_id: str  # the app registration's (client) id
    client_secret_version: str  # Secret Manager version holding its client secret
    callback_url: str  # the oauth_callback function's URL, registered as a Web redirect URI
    tenant: str = "common"  # common | organizations | consumers | a tenant id
    login_base: str = "https://login.microsoftonline.com"
    graph_base: str = "https://graph.microsoft.com"


def google_settings(env: Mapping[str, str], problems: list[str]) -> GoogleSettings | None:
    client_id = env.get("SENDVIA_GOOGLE_CLIENT_ID", "").strip()
    secret = env.get("SENDVIA_GOOGLE_CLIENT_SECRET", "").strip()
    callback = env.get("SENDVIA_OAUTH_CALLBACK_URL", "").strip()
    base = env.get("SENDVIA_GOOGLE_BASE_URL", "").strip()
    if not (client_id or secret):
        return None
    if not client_id:
        problems.append("SENDVIA_GOOGLE_CLIENT_ID is not set: the OAuth client id for Gmail.")
    if not _SECRET_VERSION.match(secret):
        problems.append(
            "SENDVIA_GOOGLE_CLIENT_SECRET must name the Secret Manager version holding the OAuth "
            "client secret (projects/P/secrets/NAME/versions/latest), never the secret itself."
        )
    if not callback.startswith(("https://", "http://")):
        problems.append(
            "SENDVIA_OAUTH_CALLBACK_URL must be the oauth_callback function's URL "
            "(the redirect URI registered for the OAuth client)."
        )
    if base and not base.startswith(("https://", "http://")):
        problems.append(f"SENDVIA_GOOGLE_BASE_URL={base!r} must be an http(s) URL.")
    if problems:
        return None
    values = {"client_id": client_id, "client_secret_version": secret, "callback_url": callback}
    return GoogleSettings.at(base, **values) if base else GoogleSettings(**values)


def microsoft_settings(env: Mapping[str, str], problems: list[str]) -> MicrosoftSettings | None:
    client_id = env.get("SENDVIA_MICROSOFT_CLIENT_ID", "").strip()
    secret = env.get("SENDVIA_MICROSOFT_CLIENT_SECRET", "").strip()
    if not (client_id or secret):
        return None
    callback = env.get("SENDVIA_OAUTH_CALLBACK_URL", "").strip()
    tenant = env.get("SENDVIA_MICROSOFT_TENANT", "common").strip() or "common"
    base = env.get("SENDVIA_MICROSOFT_BASE_URL", "").strip().rstrip("/")
    found = len(problems)
    if not client_id:
        problems.append("SENDVIA_MICROSOFT_CLIENT_ID is not set: the app registration's id.")
    if not _SECRET_VERSION.match(secret):
        problems.append(
            "SENDVIA_MICROSOFT_CLIENT_SECRET must name the Secret Manager version holding the "
            "app's client secret (projects/P/secrets/NAME/versions/latest), never the secret."
        )
    if not callback.startswith(("https://", "http://")):
        problems.append(
            "SENDVIA_OAUTH_CALLBACK_URL must be the oauth_callback function's URL (the Web "
            "redirect URI registered for the Microsoft app)."
        )
    if not re.fullmatch(r"common|organizations|consumers|[0-9a-fA-F-]{36}", tenant):
        problems.append(
            f"SENDVIA_MICROSOFT_TENANT={tenant!r}: common, organizations, consumers or a tenant id."
        )
    if base and not base.startswith(("https://", "http://")):
        problems.append(f"SENDVIA_MICROSOFT_BASE_URL={base!r} must be an http(s) URL.")
    if len(problems) > found:
        return None
    bases = {"login_base": base, "graph_base": base} if base else {}
    return MicrosoftSettings(client_id, secret, callback, tenant, **bases)
