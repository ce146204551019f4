"""In-memory fakes of sendvia's ports, for the in-process tier (`make unit`): services and routers
run against these exactly as against Firestore, Secret Manager, Cloud Tasks and the providers,
through the same Runtime, in microseconds.

They keep the ports' contracts (docstrings in sendvia.ports), including the state rules of
domain/delivery, and they record what reached them, so a test can prove where a credential went.
They are not mocks of call sequences: a test asks them what is stored, sent or revoked.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from sendvia.cache import RouteCache
from sendvia.config import load
from sendvia.domain import provider_events as pe
from sendvia.domain.delivery import (
    Cancel,
    Claim,
    Delivery,
    DeliveryState,
    claim_refusal,
    may_cancel,
    state_after_event,
)
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import MailboxRecord, MailboxSummary, Provider
from sendvia.domain.principal import Principal, Role
from sendvia.domain.tenant import Tenant
from sendvia.errors import Unauthenticated
from sendvia.ports import Grant, Outgoing, Profile, Secrets, SecretUnavailable, Sent, TestRun
from sendvia.runtime import Runtime

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


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

    def verify(self, token: str, *, audience: str, service_account: str, certs_url: str) -> None:
        if token != "task-token":
            raise Unauthenticated("The caller's token is not valid.", code="invalid_token")


class FakeMembers:
    def __init__(self) -> None:
        self.seen: list[Principal] = []

    def touch(self, principal: Principal) -> None:
        self.seen.append(principal)


# -- storage -----------------------------------------------------------------------------------


class FakeStore:
    def __init__(self, mailboxes: FakeMailboxes, on_change: Callable[[str], None]) -> None:
        self.tenants: dict[str, dict[str, Any]] = {}
        self.members: dict[tuple[str, str], dict[str, Any]] = {}
        self._mailboxes = mailboxes
        self._on_change = on_change

    def get_tenant(self, tenant_id: str) -> Mapping[str, Any] | None:
        return copy.deepcopy(self.tenants.get(tenant_id))

    def save_tenant(self, tenant: Tenant) -> None:
        stored = tenant.to_json()
        del stored["id"]
        self.tenants[tenant.id] = stored
        self._on_change(tenant.id)

    def record_member(self, principal: Principal, seen_at: str) -> None:
        self.members[(principal.tenant_id, principal.uid)] = {
            "email": principal.email,
            "name": principal.name,
            "role": principal.role.value,
            "last_seen": seen_at,
        }

    def list_members(self, tenant_id: str) -> list[Mapping[str, Any]]:
        found = [{"uid": uid, **m} for (t, uid), m in self.members.items() if t == tenant_id]
        return sorted(found, key=lambda m: str(m["email"]))

    def get_mailboxes(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, MailboxSummary]:
        found = self._mailboxes.get_many(tenant_id, mailbox_ids)
        return {m: record.summary() for m, record in found.items()}


class FakeMailboxes:
    def __init__(self, notifications: FakeNotifications, on_change: Callable[[str], None]) -> None:
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self._notifications = notifications
        self._on_change = on_change
        self._lock = threading.Lock()

    def get(self, tenant_id: str, mailbox_id: str) -> MailboxRecord | None:
        doc = self.docs.get((tenant_id, mailbox_id))
        return MailboxRecord.from_doc(tenant_id, mailbox_id, copy.deepcopy(doc)) if doc else None

    def get_many(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, MailboxRecord]:
        found = {m: self.get(tenant_id, m) for m in mailbox_ids}
        return {m: record for m, record in found.items() if record is not None}

    def put(self, tenant_id: str, mailbox_id: str, data: Mapping[str, Any]) -> None:
        self.docs[(tenant_id, mailbox_id)] = copy.deepcopy(dict(data))
        self._on_change(tenant_id)

    def update(self, tenant_id: str, mailbox_id: str, changes: Mapping[str, Any]) -> None:
        self.docs[(tenant_id, mailbox_id)].update(copy.deepcopy(dict(changes)))
        self._on_change(tenant_id)

    def delete(self, tenant_id: str, mailbox_id: str) -> None:
        self.docs.pop((tenant_id, mailbox_id), None)
        self._on_change(tenant_id)

    def mark_broken(
        self,
        tenant_id: str,
        mailbox_id: str,
        error: Mapping[str, Any],
        notification: Mapping[str, Any],
        now: dt.datetime,
        *,
        credentials: str | None,
    ) -> bool:
        with self._lock:
            current = self.docs.get((tenant_id, mailbox_id))
            if current is None or current.get("secret_version") != credentials:
                return False
            if current.get("state") == "broken":
                current["last_error"] = dict(error)
                return False
            notice_id = self._notifications.added(tenant_id, notification, now)
            current.update(
                {
                    "state": "broken",
                    "last_error": dict(error),
                    "broken_since": now,
                    "broken_notification": notice_id,
                }
            )
        self._on_change(tenant_id)
        return True


class FakeNotifications:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, tenant_id: str, notice: Mapping[str, Any], now: dt.datetime) -> None:
        self.added(tenant_id, notice, now)

    def added(self, tenant_id: str, notice: Mapping[str, Any], now: dt.datetime) -> str:
        """Add it; its id."""
        notification_id = next_id("n")
        self.items[(tenant_id, notification_id)] = {**notice, "created_at": now, "read_by": []}
        return notification_id

    def resolve(self, tenant_id: str, notification_id: str, now: dt.datetime) -> None:
        found = self.items.get((tenant_id, notification_id))
        if found is not None:
            found["resolved_at"] = now

    def newest(
        self, tenant_id: str, audiences: list[str], limit: int = 100
    ) -> list[dict[str, Any]]:
        found = [
            {"id": n, **item}
            for (t, n), item in self.items.items()
            if t == tenant_id and item.get("audience") in audiences
        ]
        return sorted(found, key=lambda item: item["created_at"], reverse=True)[:limit]

    def get(self, tenant_id: str, notification_id: str) -> dict[str, Any] | None:
        found = self.items.get((tenant_id, notification_id))
        return {"id": notification_id, **found} if found else None

    def mark_read(self, tenant_id: str, notification_id: str, uid: str) -> None:
        read_by = self.items[(tenant_id, notification_id)]["read_by"]
        if uid not in read_by:
            read_by.append(uid)

    def of(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every notification of the tenant (for assertions)."""
        return [item for (t, _), item in self.items.items() if t == tenant_id]


class FakeOAuthStates:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    def create(self, state_hash: str, record: Mapping[str, Any]) -> None:
        self.records[state_hash] = dict(record)

    def claim(self, state_hash: str, browser_hash: str, now: dt.datetime) -> dict[str, Any] | None:
        record = self.records.get(state_hash)
        if record is None or record["expires_at"] <= now:
            return None
        if record.get("browser_hash") not in (None, browser_hash):
            return None
        record["browser_hash"] = browser_hash
        return dict(record)

    def consume(self, state_hash: str, now: dt.datetime) -> dict[str, Any] | None:
        record = self.records.pop(state_hash, None)
        return record if record and record["expires_at"] > now else None


class FakeDeliveries:
    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, tenant_id: str, data: Mapping[str, Any]) -> str:
        delivery_id = next_id("d")
        self.docs[(tenant_id, delivery_id)] = copy.deepcopy(dict(data))
        return delivery_id

    def get(self, tenant_id: str, delivery_id: str) -> Delivery | None:
        doc = self.docs.get((tenant_id, delivery_id))
        return Delivery.from_doc(delivery_id, copy.deepcopy(doc)) if doc else None

    def create(self, tenant_id: str, delivery_id: str, data: Mapping[str, Any]) -> bool:
        with self._lock:
            if (tenant_id, delivery_id) in self.docs:
                return False
            self.docs[(tenant_id, delivery_id)] = copy.deepcopy(dict(data))
            return True

    def create_many(
        self, tenant_id: str, records: list[tuple[str, Mapping[str, Any]]]
    ) -> list[bool]:
        return [self.create(tenant_id, i, data) for i, data in records]

    def claim(
        self, tenant_id: str, delivery_id: str, now: dt.datetime, lease: dt.timedelta
    ) -> tuple[Claim, Delivery | None]:
        with self._lock:
            doc = self.docs.get((tenant_id, delivery_id))
            if doc is None:
                return Claim.MISSING, None
            found = Delivery.from_doc(delivery_id, doc)
            refused = claim_refusal(
                found.state,
                send_at=found.send_at,
                lease_until=found.lease_until,
                now=now,
                lease=lease,
            )
            if refused is not None:
                return refused, (found if refused is Claim.DONE else None)
            doc.update(
                {
                    "state": DeliveryState.SENDING.value,
                    "lease_until": now + lease,
                    "attempts": found.attempts + 1,
                }
            )
            return Claim.CLAIMED, Delivery.from_doc(delivery_id, copy.deepcopy(doc))

    def update(
        self,
        tenant_id: str,
        delivery_id: str,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> None:
        doc = self.docs[(tenant_id, delivery_id)]
        doc.update(copy.deepcopy(dict(changes)))
        if attempt is not None:
            doc.setdefault("attempts_log", []).append(dict(attempt))

    def page(
        self, tenant_id: str, filters: Mapping[str, str], page_size: int, after: str | None
    ) -> tuple[list[Delivery], str | None]:
        found = [
            Delivery.from_doc(d, doc)
            for (t, d), doc in self.docs.items()
            if t == tenant_id and all(doc.get(k) == v for k, v in filters.items())
        ]
        found.sort(key=lambda d: d.created_at or NOW, reverse=True)
        ids = [d.id for d in found]
        start = ids.index(after) + 1 if after in ids else (len(ids) if after else 0)
        page = found[start : start + page_size]
        more = start + page_size < len(found)
        return page, (page[-1].id if more and page else None)

    def due(
        self, until: dt.datetime, page_size: int, after: Any = None
    ) -> tuple[list[tuple[str, str, dt.datetime]], Any]:
        due = sorted(
            (doc["send_at"], t, d)
            for (t, d), doc in self.docs.items()
            if doc.get("state") == "scheduled" and doc.get("send_at") and doc["send_at"] <= until
        )
        start = int(after or 0)
        page = due[start : start + page_size]
        nxt = start + page_size if len(page) == page_size else None
        return [(t, d, at) for at, t, d in page], nxt

    def cancel(
        self, tenant_id: str, delivery_id: str, uid: str, is_admin: bool
    ) -> tuple[Cancel, Delivery | None]:
        doc = self.docs.get((tenant_id, delivery_id))
        if doc is None or (not is_admin and doc.get("created_by") != uid):
            return Cancel.MISSING, None
        found = Delivery.from_doc(delivery_id, doc)
        if not may_cancel(found.state):
            return Cancel.TOO_LATE, found
        doc.update({"state": "cancelled", "content": None, "cancelled_by": uid})
        return Cancel.CANCELLED, Delivery.from_doc(delivery_id, doc)

    def of(self, tenant_id: str, delivery_id: str) -> dict[str, Any]:
        """The stored document (for assertions)."""
        return self.docs[(tenant_id, delivery_id)]


class FakeRecipients:
    def __init__(self, deliveries: FakeDeliveries) -> None:
        self.recipients: dict[tuple[str, str], pe.Recipient] = {}
        self.events: set[tuple[str, str, str]] = set()
        self.unmatched: set[tuple[str, str]] = set()
        self._deliveries = deliveries

    def suppressed(self, tenant_id: str, addresses: list[str]) -> dict[str, pe.Recipient]:
        found = {a.lower(): self.recipients.get((tenant_id, a.lower())) for a in addresses}
        return {
            a: r
            for a, r in found.items()
            if r is not None and (r.status is not pe.Status.ACTIVE or r.opted_out)
        }

    def get(self, tenant_id: str, address: str) -> pe.Recipient:
        found = self.recipients.get((tenant_id, address.lower()))
        return found or pe.recipient_from_doc(address.lower(), None)

    def find_delivery(self, message_id: str) -> tuple[str, str] | None:
        for (t, d), doc in self._deliveries.docs.items():
            if doc.get("message_id") == f"<{message_id}>":
                return t, d
        return None

    def record(
        self, tenant_id: str, delivery_id: str | None, event: pe.ProviderEvent
    ) -> tuple[bool, bool, Delivery | None]:
        mark = (tenant_id, event.provider, event.event_id)
        if mark in self.events:
            return False, False, None
        self.events.add(mark)
        updated, suppressed_now = pe.apply(self.get(tenant_id, event.address), event)
        self.recipients[(tenant_id, event.address)] = updated
        delivery = self._deliveries.get(tenant_id, delivery_id) if delivery_id else None
        if delivery is not None and delivery_id is not None:
            state = state_after_event(delivery.state, event)
            if state is not None:
                self._deliveries.update(tenant_id, delivery_id, {"state": state.value})
        return True, suppressed_now, delivery

    def record_unmatched(self, event: pe.ProviderEvent) -> bool:
        mark = (event.provider, event.event_id)
        if mark in self.unmatched:
            return False
        self.unmatched.add(mark)
        return True

    def change(
        self, tenant_id: str, address: str, change: Mapping[str, Any], now: dt.datetime
    ) -> pe.Recipient:
        updated = pe.admin_change(self.get(tenant_id, address), change, now)
        self.recipients[(tenant_id, address.lower())] = updated
        return updated


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

    def enqueue(
        self,
        tenant_id: str,
        delivery_id: str,
        *,
        at: dt.datetime | None = None,
        generation: int = 0,
    ) -> bool:
        key = (tenant_id, delivery_id, generation)
        if key in self.tasks:
            return False
        self.tasks[key] = at
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


# -- providers ---------------------------------------------------------------------------------


@dataclass
class Received:
    """What one provider was given: each message, and each credential it was shown."""

    sent: list[tuple[str, EmailMessage, tuple[str, ...]]] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)


class FakeProvider:
    """A mailbox provider whose answers a test scripts: `fail_with` makes every call raise."""

    def __init__(self, kind: Provider, secrets: Secrets, *, revocable: bool) -> None:
        self.kind = kind
        self._secrets = secrets
        self._revocable = revocable  # a token can be revoked; an app password cannot
        self.received = Received()
        self.fail_with: ProviderFailure | None = None
        self.rotate_to: bytes | None = None  # the credentials it issues on the next send

    def _credentials(self, mailbox: MailboxRecord) -> None:
        if not mailbox.secret_version:
            raise ProviderFailure(FailureKind.AUTH, "reauthorize_required", "Nothing stored.")
        self.received.credentials.append(self._secrets.access(mailbox.secret_version).decode())
        if self.fail_with is not None:
            raise self.fail_with

    def send(self, mailbox: MailboxRecord, outgoing: Outgoing) -> Sent:
        self._credentials(mailbox)
        self.received.sent.append((mailbox.address, outgoing.message, outgoing.recipients))
        rotated, self.rotate_to = self.rotate_to, None
        return Sent(provider_message_id=next_id(f"{self.kind.value}-"), rotated_secret=rotated)

    def check(self, mailbox: MailboxRecord) -> None:
        self._credentials(mailbox)

    def test(self, mailbox: MailboxRecord, message: EmailMessage, recipient: str) -> TestRun:
        try:
            self._credentials(mailbox)
        except ProviderFailure as failure:
            step = {
                "name": "auth",
                "ok": False,
                "reply": failure.reply,
                "cause": failure.code,
                "hint": self.hint(failure),
                "elapsed_ms": 0,
            }
            return TestRun([step], None, failure)
        self.received.sent.append((mailbox.address, message, (recipient,)))
        step = {"name": "send", "ok": True, "reply": "OK", "cause": None, "hint": None}
        return TestRun([{**step, "elapsed_ms": 0}], next_id("test-"), None)

    def folders(self, mailbox: MailboxRecord) -> list[dict[str, str | None]]:
        return [{"name": "INBOX", "special_use": None}, {"name": "Sent", "special_use": "\\Sent"}]

    def forget(self, mailbox: MailboxRecord, *, revoke: bool) -> None:
        if revoke and self._revocable and mailbox.secret_version:
            token = self._secrets.access(mailbox.secret_version).decode()
            self.received.revoked.append(token)

    def hint(self, failure: ProviderFailure) -> str:
        return f"{self.kind.value} hint for {failure.kind.value}"

    def broken_message(self, address: str) -> str:
        return f"{address} stopped working ({self.kind.value})"


class FakeRelay:
    def __init__(self) -> None:
        self.sent: list[tuple[EmailMessage, tuple[str, ...], str, str]] = []
        self.fail_with: ProviderFailure | None = None

    def send(self, outgoing: Outgoing, *, tenant_id: str, delivery_id: str) -> Sent:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((outgoing.message, outgoing.recipients, tenant_id, delivery_id))
        return Sent()


class FakeOAuth:
    """A sign-in whose consent always grants what was asked, for `account`."""

    mailbox_provider = Provider.GMAIL
    callback_url = "https://functions.test/oauth_callback"

    def __init__(self) -> None:
        self.account = Profile("reception@gmail.test", "Reception")
        self.grant_scopes: tuple[str, ...] | None = None
        self.revoked: list[str] = []

    def scopes_for(self, *, receive: bool) -> list[str]:
        return ["send", *(["read"] if receive else [])]

    def can_send(self, granted_scopes: tuple[str, ...]) -> bool:
        return "send" in granted_scopes

    def can_read(self, granted_scopes: tuple[str, ...]) -> bool:
        return "read" in granted_scopes

    def authorization_url(self, scopes: list[str], state: str) -> tuple[str, str]:
        return f"https://accounts.test/auth?state={state}", "verifier"

    def exchange(self, code: str, scopes: list[str], state: str, verifier: str) -> Grant:
        granted = self.grant_scopes if self.grant_scopes is not None else tuple(scopes)
        return Grant(f"refresh-{code}", granted, None)

    def profile(self, grant: Grant) -> Profile:
        return self.account

    def revoke(self, refresh_token: str) -> bool:
        self.revoked.append(refresh_token)
        return True

    def rotated(self, credentials: Any) -> str | None:
        return None


# -- the runtime -------------------------------------------------------------------------------

SETTINGS = {
    "GOOGLE_CLOUD_PROJECT": "demo-sendvia",
    "SENDVIA_PLATFORM_DOMAIN": "platform.test",
    "SENDVIA_PRODUCT_NAME": "Sendvia Demo",
    "SENDVIA_CORS_ORIGINS": "https://app.clinic.test",
}


@dataclass
class Fakes:
    """A Runtime of fakes, and the fakes themselves for a test to script and inspect."""

    runtime: Runtime
    identity: FakeIdentity
    store: FakeStore
    mailboxes: FakeMailboxes
    deliveries: FakeDeliveries
    notifications: FakeNotifications
    oauth_states: FakeOAuthStates
    recipients: FakeRecipients
    secrets: FakeSecrets
    queue: FakeQueue
    relay: FakeRelay
    gmail: FakeProvider
    smtp: FakeProvider
    google: FakeOAuth
    clock: Clock

    def principal(self, tenant_id: str, uid: str, role: Role = Role.ADMIN) -> Principal:
        return Principal(tenant_id, uid, f"{uid}@clinic.test", role, uid.title())

    def token(self, tenant_id: str, uid: str, role: Role = Role.ADMIN) -> str:
        return self.identity.token(self.principal(tenant_id, uid, role))


def fake_runtime(**settings: str) -> Fakes:
    """Every port faked; Settings from `SETTINGS` and `settings` (environment names)."""
    routes = RouteCache(30)
    notifications = FakeNotifications()
    mailboxes = FakeMailboxes(notifications, routes.forget_tenant)
    deliveries = FakeDeliveries()
    secrets = FakeSecrets()
    gmail = FakeProvider(Provider.GMAIL, secrets, revocable=True)
    smtp = FakeProvider(Provider.SMTP, secrets, revocable=False)
    google = FakeOAuth()
    clock = Clock()
    fakes = Fakes(
        runtime=None,  # type: ignore[arg-type]  # set below, from the fakes
        identity=FakeIdentity(),
        store=FakeStore(mailboxes, routes.forget_tenant),
        mailboxes=mailboxes,
        deliveries=deliveries,
        notifications=notifications,
        oauth_states=FakeOAuthStates(),
        recipients=FakeRecipients(deliveries),
        secrets=secrets,
        queue=FakeQueue(),
        relay=FakeRelay(),
        gmail=gmail,
        smtp=smtp,
        google=google,
        clock=clock,
    )
    fakes.runtime = Runtime(
        settings=load({**SETTINGS, **settings}),
        identity=fakes.identity,
        callers=FakeCallers(),
        store=fakes.store,
        members=FakeMembers(),
        mailboxes=mailboxes,
        deliveries=deliveries,
        notifications=notifications,
        oauth_states=fakes.oauth_states,
        secrets=secrets,
        providers={Provider.GMAIL: gmail, Provider.SMTP: smtp},
        oauth={"google": google},
        relay=fakes.relay,
        queue=fakes.queue,
        recipients=fakes.recipients,
        webhooks=FakeWebhooks(),
        clock=clock,
        routes=routes,
    )
    return fakes
