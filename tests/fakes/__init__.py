"""In-memory fakes of sendvia's ports, for the in-process tier (`make unit`): services and routers
run against these exactly as against Firestore, Secret Manager, Cloud Tasks and the providers,
through the same Runtime, in microseconds.

They keep the ports' contracts (docstrings in sendvia.ports), including the state rules of
domain/delivery, and they record what reached them, so a test can prove where a credential went.
They are not mocks of call sequences: a test asks them what is stored, sent or revoked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sendvia.cache import RouteCache
from sendvia.config import load
from sendvia.domain.mailbox import Provider
from sendvia.domain.principal import Principal, Role
from sendvia.runtime import Runtime

from tests.fakes.clock import NOW, Clock
from tests.fakes.platform import (
    FakeCallers,
    FakeIdentity,
    FakeMembers,
    FakeQueue,
    FakeSecrets,
    FakeWebhooks,
)
from tests.fakes.providers import FakeOAuth, FakeProvider, FakeRelay
from tests.fakes.receiving import FakeContacts, FakeCorrespondence, FakeSyncStates
from tests.fakes.storage import (
    FakeDeliveries,
    FakeMailboxes,
    FakeNotifications,
    FakeOAuthStates,
    FakeRecipients,
    FakeStore,
)

__all__ = ["NOW", "Clock", "Fakes", "fake_runtime"]


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
    callers: FakeCallers
    contacts: FakeContacts
    correspondence: FakeCorrespondence
    sync_states: FakeSyncStates

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
        callers=FakeCallers(),
        contacts=FakeContacts(),
        correspondence=FakeCorrespondence(),
        sync_states=FakeSyncStates(),
    )
    fakes.runtime = Runtime(
        settings=load({**SETTINGS, **settings}),
        identity=fakes.identity,
        callers=fakes.callers,
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
        contacts=fakes.contacts,
        correspondence=fakes.correspondence,
        sync_states=fakes.sync_states,
        clock=clock,
        routes=routes,
    )
    return fakes
