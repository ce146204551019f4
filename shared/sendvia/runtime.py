"""The composition root: the ports of one function instance, built once from Settings.

`Runtime` holds ports only; `build` is the one place that knows the adapters, and the emulators
are chosen here by the `*_EMULATOR_HOST` settings (validated in sendvia.config) and nowhere else.
Tests build a Runtime of their own from fakes. Nothing is built at import: the first request
builds what it needs, and the adapters' modules are imported then (a cold start of a function
that never sends email does not pay for the mail stack).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar, cast

from sendvia import config
from sendvia.cache import RouteCache
from sendvia.config import Settings
from sendvia.domain.mailbox import Provider
from sendvia.ports import (
    CallerTokens,
    Deliveries,
    Identity,
    Mailboxes,
    MailboxProvider,
    MailExchangers,
    Members,
    Notifications,
    OAuthProvider,
    OAuthStates,
    Queue,
    Recipients,
    Relay,
    Secrets,
    Store,
    WebhookSignatures,
)

if TYPE_CHECKING:
    from sendvia.adapters.smtp_imap import MailServers
    from sendvia.adapters.ticket_key import TicketKey
    from sendvia.ports.receiving import Contacts, Correspondence, SyncStates

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    identity: Identity
    callers: CallerTokens  # the OIDC tokens of Cloud Tasks and Cloud Scheduler
    store: Store
    members: Members
    mailboxes: Mailboxes
    deliveries: Deliveries
    notifications: Notifications
    oauth_states: OAuthStates
    secrets: Secrets
    providers: Mapping[Provider, MailboxProvider]  # the ones this deployment configured
    oauth: Mapping[str, OAuthProvider]  # "Sign in with …" by the name callers use: "google"
    relay: Relay | None  # None when the platform's own sender is not configured
    queue: Queue | None  # None when triggered emails are not configured
    recipients: Recipients
    webhooks: WebhookSignatures
    contacts: Contacts
    correspondence: Correspondence
    sync_states: SyncStates
    clock: Callable[[], dt.datetime] = utc_now
    routes: RouteCache = field(default_factory=lambda: RouteCache(0))  # see services/routes.py
    mx: MailExchangers | None = None  # DNS for `discover`; None: no lookups (answers smtp)
    ticket_key: TicketKey | None = None  # seals a delivery into its task (services/tickets)


class _Later:
    """An adapter built, and its module imported, on its first use: a function instance that
    never reads mail or checks a webhook does not load what those need at its cold start."""

    def __init__(self, make: Callable[[], object]) -> None:
        self._make = make
        self._made: object | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> object:
        with self._lock:
            if self._made is None:
                self._made = self._make()
        return getattr(self._made, name)


class _LaterMapping(Mapping[K, V]):
    """A mapping whose values are built on first lookup (the providers, the sign-ins)."""

    def __init__(self, makers: Mapping[K, Callable[[], V]]) -> None:
        self._makers = dict(makers)
        self._made: dict[K, V] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: K) -> V:
        with self._lock:
            if key not in self._made:
                self._made[key] = self._makers[key]()
            return self._made[key]

    def __contains__(self, key: object) -> bool:  # without building it
        return key in self._makers

    def __iter__(self) -> Iterator[K]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


def later(make: Callable[[], T]) -> T:
    """`make()`'s adapter, standing in for the port it returns, built when first used."""
    return cast(T, _Later(make))


def _providers(
    settings: Settings, mail: MailServers, secrets: Secrets
) -> tuple[dict[Provider, Callable[[], MailboxProvider]], dict[str, Callable[[], OAuthProvider]]]:
    """How to build each mailbox provider and sign-in this deployment runs, when first used."""

    def smtp() -> MailboxProvider:
        from sendvia.adapters.providers.smtp import SmtpProvider

        return SmtpProvider(mail, secrets)

    providers: dict[Provider, Callable[[], MailboxProvider]] = {Provider.SMTP: smtp}
    oauth: dict[str, Callable[[], OAuthProvider]] = {}
    if settings.google:
        google_settings = settings.google
        # Google may grant fewer scopes than asked (granular consent); oauthlib would raise a
        # bare Warning unless told to relax, and we check the granted scopes ourselves.
        os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")

        @functools.cache
        def google() -> OAuthProvider:
            from sendvia.adapters.google_oauth import GoogleOAuth

            return GoogleOAuth(google_settings, secrets)

        def gmail() -> MailboxProvider:
            from sendvia.adapters.gmail import Gmail
            from sendvia.adapters.providers.gmail import GmailProvider

            oauth = google()
            return GmailProvider(oauth, Gmail(oauth, google_settings.gmail_endpoint), secrets)  # type: ignore[arg-type]

        providers[Provider.GMAIL] = gmail
        oauth["google"] = google
    if settings.microsoft:
        microsoft_settings = settings.microsoft

        @functools.cache
        def microsoft() -> OAuthProvider:
            from sendvia.adapters.microsoft_oauth import MicrosoftOAuth

            return MicrosoftOAuth(microsoft_settings, secrets)

        def graph() -> MailboxProvider:
            from sendvia.adapters.graph import Graph
            from sendvia.adapters.providers.microsoft import MicrosoftProvider

            oauth = microsoft()
            return MicrosoftProvider(oauth, Graph(oauth), secrets, utc_now)  # type: ignore[arg-type]

        providers[Provider.MICROSOFT] = graph
        oauth["microsoft"] = microsoft
    return providers, oauth


def build(settings: Settings) -> Runtime:
    from sendvia.adapters.firebase_identity import FirebaseIdentity
    from sendvia.adapters.firestore.deliveries import FirestoreDeliveries
    from sendvia.adapters.firestore.mailboxes import FirestoreMailboxes
    from sendvia.adapters.firestore.notifications import FirestoreNotifications
    from sendvia.adapters.firestore.recipients import FirestoreRecipients
    from sendvia.adapters.firestore.store import FirestoreStore
    from sendvia.adapters.google_clients import firestore_client, secret_manager_client
    from sendvia.adapters.member_tracker import MemberTracker
    from sendvia.adapters.secret_manager import SecretManagerSecrets
    from sendvia.adapters.secret_reader import SecretReader
    from sendvia.adapters.smtp_imap import MailServers

    db = firestore_client(settings.project, settings.firestore_emulator_host)
    if settings.meter_write_paths:
        from sendvia.metering import WRITE_PATHS

        WRITE_PATHS.switch_on()
    routes = RouteCache(settings.route_cache_s)
    store = FirestoreStore(db, on_change=routes.forget_tenant)
    secrets = SecretManagerSecrets(
        settings.project,
        lambda: secret_manager_client(settings.secret_manager_emulator_host),
        SecretReader(settings.secret_manager_emulator_host),
    )
    mail = MailServers(
        ca_file=settings.tls_ca_file,
        allow_loopback=settings.mail_allow_loopback,
        reply_limit_s=settings.mail_reply_limit_s,
    )

    providers, oauth = _providers(settings, mail, secrets)
    relay = None
    if settings.relay:
        relay_settings = settings.relay

        def smtp_relay() -> Relay:
            from sendvia.adapters.providers.relay import SmtpRelay

            return SmtpRelay(relay_settings, settings.default_sender_address, mail, secrets)

        relay = later(smtp_relay)
    queue = None
    if settings.tasks:
        tasks = settings.tasks

        def cloud_tasks() -> Queue:
            from sendvia.adapters.cloud_tasks import CloudTasksQueue
            from sendvia.adapters.google_clients import cloud_tasks_client

            return CloudTasksQueue(
                tasks,
                settings.project,
                lambda: cloud_tasks_client(settings.cloud_tasks_emulator_host),
                sync_url=settings.sync.url if settings.sync else None,
                sync_queue=settings.sync.queue if settings.sync else None,
            )

        queue = later(cloud_tasks)

    def oidc() -> CallerTokens:
        from sendvia.adapters.oidc import GoogleOidc

        return GoogleOidc()

    def webhooks() -> WebhookSignatures:
        from sendvia.adapters.webhook_signatures import WebhookVerifier

        return WebhookVerifier(settings.events.sns_cert_url_prefixes)

    def dns() -> MailExchangers:
        from sendvia.adapters.dns import DnsMailExchangers

        return DnsMailExchangers(settings.dns_resolver)

    def contacts() -> Contacts:
        from sendvia.adapters.firestore.contacts import FirestoreContacts

        return FirestoreContacts(db)

    def correspondence() -> Correspondence:
        from sendvia.adapters.firestore.correspondence import FirestoreCorrespondence

        return FirestoreCorrespondence(db)

    def sync_states() -> SyncStates:
        from sendvia.adapters.firestore.sync_states import FirestoreSyncStates

        return FirestoreSyncStates(db)

    def oauth_states() -> OAuthStates:
        from sendvia.adapters.firestore.oauth_states import FirestoreOAuthStates

        return FirestoreOAuthStates(db)

    return Runtime(
        settings=settings,
        identity=FirebaseIdentity(settings.project, settings.auth_emulator_host),
        callers=later(oidc),
        store=store,
        members=MemberTracker(store, utc_now),
        mailboxes=FirestoreMailboxes(db, on_change=routes.forget_tenant),
        deliveries=FirestoreDeliveries(db),
        notifications=FirestoreNotifications(db),
        oauth_states=later(oauth_states),
        secrets=secrets,
        providers=_LaterMapping(providers),
        oauth=_LaterMapping(oauth),
        relay=relay,
        queue=queue,
        recipients=FirestoreRecipients(db, cache_s=settings.route_cache_s),
        webhooks=later(webhooks),
        routes=routes,
        mx=later(dns),
        contacts=later(contacts),
        correspondence=later(correspondence),
        sync_states=later(sync_states),
        ticket_key=_ticket_key(settings, secrets),
    )


def _ticket_key(settings: Settings, secrets: Secrets) -> TicketKey | None:
    if settings.tasks is None or settings.tasks.ticket_key is None:
        return None
    from sendvia.adapters.ticket_key import TicketKey

    return TicketKey(secrets, settings.tasks.ticket_key)


@functools.cache
def current() -> Runtime:
    """This instance's runtime, built on first use and kept for the instance's life."""
    return build(config.load())
