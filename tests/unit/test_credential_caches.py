"""Credentials are cached per instance: a secret version is read once, Credentials are reused."""

from __future__ import annotations

from types import SimpleNamespace

from sendvia.adapters import secret_manager
from sendvia.adapters.google_oauth import GoogleOAuth
from sendvia.adapters.secret_manager import SecretManagerSecrets
from sendvia.config_sign_ins import GoogleSettings
from sendvia.domain.mailbox import mailbox_secret_id


class CountingSecretManager:
    """Stands in for SecretManagerServiceClient, counting accesses."""

    def __init__(self) -> None:
        self.accesses: list[str] = []
        self.latest = 7

    def access_secret_version(self, name: str) -> SimpleNamespace:
        self.accesses.append(name)
        resolved = name.replace("/latest", f"/{self.latest}")
        return SimpleNamespace(
            name=resolved, payload=SimpleNamespace(data=f"value of {resolved}".encode())
        )


def test_a_secret_version_is_read_once_per_instance():
    client = CountingSecretManager()
    secrets = SecretManagerSecrets("p", lambda: client)
    v3 = "projects/p/secrets/s/versions/3"
    assert secrets.access(v3) == secrets.access(v3) == b"value of " + v3.encode()
    assert client.accesses == [v3]
    v4 = "projects/p/secrets/s/versions/4"  # the mailbox was re-authorized: a new version
    secrets.access(v4)
    assert client.accesses == [v3, v4]


def test_latest_is_resolved_again_after_a_while_or_when_refused(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(secret_manager.time, "monotonic", lambda: now[0])
    client = CountingSecretManager()
    secrets = SecretManagerSecrets("p", lambda: client)
    latest = "projects/p/secrets/s/versions/latest"
    assert (
        secrets.access(latest)
        == secrets.access(latest)
        == b"value of projects/p/secrets/s/versions/7"
    )
    assert client.accesses == [latest]
    client.latest = 8  # the relay password was rotated
    now[0] += secret_manager.ALIAS_TTL_S
    assert secrets.access(latest).endswith(b"/8")
    client.latest = 9
    secrets.forget(latest)  # the relay refused the password: read it again at once
    assert secrets.access(latest).endswith(b"/9")
    assert client.accesses == [latest, latest, latest]


def test_credentials_are_reused_per_secret_version():
    client = CountingSecretManager()
    oauth = GoogleOAuth(
        GoogleSettings("id", "projects/p/secrets/c/versions/latest", "http://cb"),
        SecretManagerSecrets("p", lambda: client),
    )
    first = oauth.credentials("v3", "1//token", ["scope"])
    assert oauth.credentials("v3", "1//token", ["scope"]) is first
    assert oauth.credentials("v4", "1//other", ["scope"]) is not first


def test_secret_ids_are_valid_for_any_tenant_id_and_never_shared():
    odd = mailbox_secret_id("tenant/with spaces", "tenant")
    assert odd.startswith("sendvia-")
    assert all(c.isalnum() or c in "-_" for c in odd)
    # Joined by a dash these were one secret, so one tenant's forget destroyed the other's.
    assert mailbox_secret_id("acme", "user-user-q") != mailbox_secret_id("acme-user", "user-q")
