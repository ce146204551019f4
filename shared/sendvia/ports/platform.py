"""The platform ports: who is calling, where credentials live, the task queue, and the email
service's webhook signatures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sendvia.domain.principal import Principal


class Identity(Protocol):
    def verify(self, token: str) -> Principal:
        """The principal of a Firebase ID token; raises Unauthenticated or Forbidden."""
        ...


class Members(Protocol):
    def touch(self, principal: Principal) -> None:
        """Note that the principal used the product (for the admins' members list); cheap to
        call on every request."""
        ...


class SecretUnavailable(Exception):  # noqa: N818 - the outcome of reading a secret
    """The secret version does not exist any more, or is disabled or destroyed (a mailbox
    reconnected or forgotten meanwhile). Carries the version's name, never its value."""


class Secrets(Protocol):
    """Credentials in Secret Manager; values only ever in memory."""

    def add_version(self, secret_id: str, data: bytes, labels: Mapping[str, str]) -> str:
        """Store `data` as the secret's new version (creating the secret); its resource name."""
        ...

    def access(self, version_name: str) -> bytes:
        """The value of a version (kept per instance); raises SecretUnavailable."""
        ...

    def forget(self, version_name: str) -> None:
        """Read the version again next time (its value was refused)."""
        ...

    def destroy_older(self, secret_id: str, keep_version: str) -> None:
        """Destroy every version but `keep_version`."""
        ...

    def delete(self, secret_id: str) -> None:
        """Destroy every version and delete the secret; a missing secret is fine."""
        ...


class Queue(Protocol):
    """Cloud Tasks' queue of triggered emails: a named task per delivery, so creating it twice
    creates it once."""

    def enqueue(
        self,
        tenant_id: str,
        delivery_id: str,
        *,
        at: dt.datetime | None = None,
        generation: int = 0,
    ) -> bool:
        """Create the delivery's task (for `at`); False when that task already exists.
        `generation` names a later task of the same delivery (a deferral)."""
        ...

    def enqueue_all(
        self,
        tenant_id: str,
        deliveries: Sequence[tuple[str, dt.datetime | None]],
        seals: Mapping[str, Mapping[str, str]] | None = None,
    ) -> list[bool]:
        """`enqueue` for each (delivery id, at) of a tenant, many at once; when one fails,
        the others are still created and the first failure is raised. A delivery with a seal
        (services/tickets.py) carries it in its task."""
        ...

    def enqueue_sync(
        self, tenant_id: str, mailbox_id: str, name: str, at: dt.datetime | None = None
    ) -> bool:
        """Create the task that syncs one mailbox (for `at`), named by `name` (a window, or a
        sync's own continuation); False when that task already exists."""
        ...


class CallerTokens(Protocol):
    """The platform's own callers (Cloud Tasks, Cloud Scheduler) prove themselves with OIDC
    tokens signed by Google."""

    def verify(self, token: str, *, audience: str, service_account: str, certs_url: str) -> None:
        """Raises Unauthenticated (not a valid token for `audience`) or Forbidden (valid, but not
        from `service_account`)."""
        ...


class WebhookSignatures(Protocol):
    """Checks the email service's webhooks; raises domain.provider_events.SignatureError."""

    def verify_sendgrid(
        self,
        public_key_b64: str,
        body: bytes,
        signature_b64: str,
        timestamp: str,
        now: dt.datetime,
    ) -> None:
        """SendGrid's ECDSA signature over timestamp + body, and the timestamp's age."""
        ...

    def verify_sns(self, message: Mapping[str, Any], now: dt.datetime) -> None:
        """An SNS message's RSA signature, its certificate's origin and its age."""
        ...

    def confirm_sns_subscription(self, subscribe_url: str) -> bool:
        """Visit an SNS SubscribeURL (refused unless it is Amazon SNS's); True when confirmed."""
        ...


class MailExchangers(Protocol):
    """DNS: a domain's MX hosts, best first; None when the lookup failed (no answer in time,
    no such domain). Never raises."""

    def lookup(self, domain: str) -> list[str] | None: ...
