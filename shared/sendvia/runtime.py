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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

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
from sendvia.ports.receiving import Contacts, Correspondence, SyncStates


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


def build(settings: Settings) -> Runtime:
    from sendvia.adapters.cloud_tasks import CloudTasksQueue
    from sendvia.adapters.dns import DnsMailExchangers
    from sendvia.adapters.firebase_identity import FirebaseIdentity
    from sendvia.adapters.firestore.contacts import FirestoreContacts
    from sendvia.adapters.firestore.correspondence import FirestoreCorrespondence
    from sendvia.adapters.firestore.deliveries import FirestoreDeliveries
    from sendvia.adapters.firestore.mailboxes import FirestoreMailboxes
    from sendvia.adapters.firestore.notifications import FirestoreNotifications
    from sendvia.adapters.firestore.oauth_states import FirestoreOAuthStates
    from sendvia.adapters.firestore.recipients import FirestoreRecipients
    from sendvia.adapters.firestore.store import FirestoreStore
    from sendvia.adapters.firestore.sync_states import FirestoreSyncStates
    from sendvia.adapters.gmail import Gmail
    from sendvia.adapters.google_clients import (
        cloud_tasks_client,
        firestore_client,
        secret_manager_client,
    )
    from sendvia.adapters.google_oauth import GoogleOAuth
    from sendvia.adapters.member_tracker import MemberTracker
    from sendvia.adapters.oidc import GoogleOidc
    from sendvia.adapters.providers.gmail import GmailProvider
    from sendvia.adapters.providers.relay import SmtpRelay
    from sendvia.adapters.providers.smtp import SmtpProvider
    from sendvia.adapters.secret_manager import SecretManagerSecrets
    from sendvia.adapters.smtp_imap import MailServers
    from sendvia.adapters.webhook_signatures import WebhookVerifier

    db = firestore_client(settings.project, settings.firestore_emulator_host)
    routes = RouteCache(settings.route_cache_s)
    store = FirestoreStore(db, on_change=routes.forget_tenant)
    secrets = SecretManagerSecrets(
        settings.project, lambda: secret_manager_client(settings.secret_manager_emulator_host)
    )
    mail = MailServers(
        ca_file=settings.tls_ca_file,
        allow_loopback=settings.mail_allow_loopback,
        reply_limit_s=settings.mail_reply_limit_s,
    )
    providers: dict[Provider, MailboxProvider] = {Provider.SMTP: SmtpProvider(mail, secrets)}
    oauth: dict[str, OAuthProvider] = {}
    if settings.google:
        # Google may grant fewer scopes than asked (granular consent); oauthlib would raise a
        # bare Warning unless told to relax, and we check the granted scopes ourselves.
        os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
        google = GoogleOAuth(settings.google, secrets)
        providers[Provider.GMAIL] = GmailProvider(
            google, Gmail(google, settings.google.gmail_endpoint), secrets
        )
        oauth["google"] = google
    if settings.microsoft:
        from sendvia.adapters.graph import Graph
        from sendvia.adapters.microsoft_oauth import MicrosoftOAuth
        from sendvia.adapters.providers.microsoft import MicrosoftProvider

        microsoft = MicrosoftOAuth(settings.microsoft, secrets)
        providers[Provider.MICROSOFT] = MicrosoftProvider(
            microsoft, Graph(microsoft), secrets, utc_now
        )
        oauth["microsoft"] = microsoft
    relay = (
        SmtpRelay(settings.relay, settings.default_sender_address, mail, secrets)
        if settings.relay
        else None
    )
    queue = (
        CloudTasksQueue(
            settings.tasks,
            settings.project,
            lambda: cloud_tasks_client(settings.cloud_tasks_emulator_host),
            sync_url=settings.sync.url if settings.sync else None,
            sync_queue=settings.sync.queue if settings.sync else None,
        )
        if settings.tasks
        else None
    )
    return Runtime(
        settings=settings,
        identity=FirebaseIdentity(settings.project, settings.auth_emulator_host),
        callers=GoogleOidc(),
        store=store,
        members=MemberTracker(store, utc_now),
        mailboxes=FirestoreMailboxes(db, on_change=routes.forget_tenant),
        deliveries=FirestoreDeliveries(db),
        notifications=FirestoreNotifications(db),
        oauth_states=FirestoreOAuthStates(db),
        secrets=secrets,
        providers=providers,
        oauth=oauth,
        relay=relay,
        queue=queue,
        recipients=FirestoreRecipients(db, cache_s=settings.route_cache_s),
        webhooks=WebhookVerifier(settings.events.sns_cert_url_prefixes),
        routes=routes,
        mx=DnsMailExchangers(settings.dns_resolver),
        contacts=FirestoreContacts(db),
        correspondence=FirestoreCorrespondence(db),
        sync_states=FirestoreSyncStates(db),
    )


@functools.cache
def current() -> Runtime:
    """This instance's runtime, built on first use and kept for the instance's life."""
    return build(config.load())
