"""In-memory fakes of the platform ports: identity, callers, members, secrets, the queue and the
webhooks' signatures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sendvia.domain import provider_events as pe
from sendvia.domain.principal import Principal
from sendvia.errors import Unauthenticated
from sendvia.ports import SecretUnavailable

# -- identity and members ----------------------------------------------------------------------


class FakeIdentity:
    """Tokens are names a test registers: `identity.token(principal)`."""

    def __init__(self) -> None:
        self.principals: dict[str, Principal] = {}

    def token(self, principal: Principal) -> str:
        token = f"token-{principal.tenant_id}-{principal.uid}"
        self.principals[token] = principal
        return token

    def verify(self, token: str) -> Principal:
        found = self.principals.get(token)
        if found is None:
            raise Unauthenticated("The ID token is not valid.", code="invalid_token")
        return found


class FakeCallers:
    """Cloud Tasks' and Cloud Scheduler's tokens: valid when they read "task-token"."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []  # (audience, service account) of each check

    def verify(self, token: str, *, audience: str, service_account: str, certs_url: str) -> None:
        self.asked.append((audience, service_account))
        if token != "task-token":
            raise Unauthenticated("The caller's token is not valid.", code="invalid_token")


class FakeMembers:
    def __init__(self) -> None:
        self.seen: list[Principal] = []

    def touch(self, principal: Principal) -> None:
        self.seen.append(principal)


# -- platform ----------------------------------------------------------------------------------


class FakeSecrets:
    """Secret Manager in a dict: versions `…/versions/N`, destroyed ones unreadable."""

    def __init__(self) -> None:
        self.versions: dict[str, bytes | None] = {}  # None: destroyed

    def add_version(self, secret_id: str, data: bytes, labels: Mapping[str, str]) -> str:
        number = 1 + sum(1 for v in self.versions if v.startswith(f"{secret_id}/"))
        name = f"{secret_id}/versions/{number}"
        self.versions[name] = data
        return name

    def access(self, version_name: str) -> bytes:
        value = self.versions.get(version_name)
        if value is None:
            raise SecretUnavailable(f"{version_name} cannot be read")
        return value

    def forget(self, version_name: str) -> None:
        return None

    def destroy_older(self, secret_id: str, keep_version: str) -> None:
        for name in self.versions:
            if name.startswith(f"{secret_id}/") and name != keep_version:
                self.versions[name] = None

    def delete(self, secret_id: str) -> None:
        for name in [v for v in self.versions if v.startswith(f"{secret_id}/")]:
            del self.versions[name]

    def live(self) -> list[bytes]:
        return [v for v in self.versions.values() if v is not None]


class FakeQueue:
    def __init__(self) -> None:
        self.tasks: dict[tuple[str, str, int], dt.datetime | None] = {}
        self.fail_next = 0  # how many of the next task creations fail (Cloud Tasks unavailable)
        self.syncs: list[tuple[str, str, str]] = []
        self.sync_times: dict[str, dt.datetime | None] = {}
        self.seals: dict[tuple[str, str], dict[str, str]] = {}  # the tasks' `as_created`

    def enqueue(
        self,
        tenant_id: str,
        delivery_id: str,
        *,
        at: dt.datetime | None = None,
        generation: int = 0,
    ) -> bool:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("Cloud Tasks is unavailable")
        key = (tenant_id, delivery_id, generation)
        if key in self.tasks:
            return False
        self.tasks[key] = at
        return True

    def enqueue_all(
        self,
        tenant_id: str,
        deliveries: Sequence[tuple[str, dt.datetime | None]],
        seals: Mapping[str, Mapping[str, str]] | None = None,
    ) -> list[bool]:
        created, failure = [], None
        for delivery_id, at in deliveries:
            try:
                created.append(self.enqueue(tenant_id, delivery_id, at=at))
                if seals and delivery_id in seals:
                    self.seals[(tenant_id, delivery_id)] = dict(seals[delivery_id])
            except ConnectionError as exc:
                failure = failure or exc
                created.append(False)
        if failure is not None:
            raise failure
        return created

    def enqueue_sync(
        self, tenant_id: str, mailbox_id: str, name: str, at: dt.datetime | None = None
    ) -> bool:
        if (tenant_id, mailbox_id, name) in self.syncs:
            return False
        self.syncs.append((tenant_id, mailbox_id, name))
        self.sync_times[name] = at
        return True


class FakeWebhooks:
    """Signatures are valid when they read "valid"."""

    def verify_sendgrid(
        self,
        public_key_b64: str,
        body: bytes,
        signature_b64: str,
        timestamp: str,
        now: dt.datetime,
    ) -> None:
        if signature_b64 != "valid":
            raise pe.SignatureError("the signature does not match")

    def verify_sns(self, message: Mapping[str, Any], now: dt.datetime) -> None:
        if message.get("Signature") != "valid":
            raise pe.SignatureError("the signature does not match")

    def confirm_sns_subscription(self, subscribe_url: str) -> bool:
        if not subscribe_url.startswith("https://sns."):
            raise pe.SignatureError("SubscribeURL is not Amazon SNS's")
        return True
