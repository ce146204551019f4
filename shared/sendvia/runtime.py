"""The composition root: the adapters of one function instance, built once from Settings.

Emulators are chosen here and only here, by the environment variables in Settings; tests may
build a Runtime of their own. Nothing is built at import: the first request builds what it needs.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sendvia import config
from sendvia.config import Settings
from sendvia.domain.mailbox import Provider
from sendvia.ports import Identity, MailboxProvider, OAuthProvider, Relay, Secrets, Store
from sendvia.services.members import MemberTracker
from sendvia.services.routes import RouteCache

if TYPE_CHECKING:
    from sendvia.adapters.cloud_tasks import CloudTasksQueue
    from sendvia.adapters.firestore_mailboxes import FirestoreActivity, FirestoreMailboxes
    from sendvia.adapters.firestore_recipients import FirestoreRecipients
    from sendvia.adapters.webhook_signatures import SnsVerifier


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    identity: Identity
    store: Store
    members: MemberTracker
    mailboxes: FirestoreMailboxes
    activity: FirestoreActivity
    secrets: Secrets
    providers: Mapping[Provider, MailboxProvider]  # the ones this deployment configured
    oauth: Mapping[str, OAuthProvider]  # "Sign in with …" by the name callers use: "google"
    relay: Relay | None  # None when the platform's own sender is not configured
    queue: CloudTasksQueue | None  # None when triggered emails are not configured
    recipients: FirestoreRecipients
    events: SnsVerifier  # checks SNS signatures; its signing certificates kept per instance
    clock: Callable[[], dt.datetime] = utc_now
    routes: RouteCache = field(default_factory=lambda: RouteCache(0))  # see services/routes.py


def build(settings: Settings) -> Runtime:
    from sendvia.adapters.cloud_tasks import CloudTasksQueue
    from sendvia.adapters.firebase_identity import FirebaseIdentity
    from sendvia.adapters.firestore_mailboxes import FirestoreActivity, FirestoreMailboxes
    from sendvia.adapters.firestore_recipients import FirestoreRecipients
    from sendvia.adapters.firestore_store import FirestoreStore
    from sendvia.adapters.gmail import Gmail
    from sendvia.adapters.google_clients import (
        cloud_tasks_client,
        firestore_client,
        secret_manager_client,
    )
    from sendvia.adapters.google_oauth import GoogleOAuth
    from sendvia.adapters.providers.gmail import GmailProvider
    from sendvia.adapters.providers.relay import SmtpRelay
    from sendvia.adapters.providers.smtp import SmtpProvider
    from sendvia.adapters.secret_manager import SecretManagerSecrets
    from sendvia.adapters.smtp_imap import MailServers
    from sendvia.adapters.webhook_signatures import SnsVerifier

    db = firestore_client(settings.project)
    routes = RouteCache(settings.route_cache_s)
    store = FirestoreStore(db, on_change=routes.forget_tenant)
    secrets = SecretManagerSecrets(settings.project, secret_manager_client)
    mail = MailServers(ca_file=settings.tls_ca_file, allow_loopback=settings.mail_allow_loopback)
    providers: dict[Provider, MailboxProvider] = {Provider.SMTP: SmtpProvider(mail, secrets)}
    oauth: dict[str, OAuthProvider] = {}
    if settings.google:
        google = GoogleOAuth(settings.google, secrets)
        gmail = Gmail(google, settings.google.gmail_endpoint)
        providers[Provider.GMAIL] = GmailProvider(google, gmail, secrets)
        oauth["google"] = google
    relay = (
        SmtpRelay(settings.relay, settings.default_sender_address, mail, secrets)
        if settings.relay
        else None
    )
    return Runtime(
        settings=settings,
        identity=FirebaseIdentity(settings.project),
        store=store,
        members=MemberTracker(store, utc_now),
        mailboxes=FirestoreMailboxes(db, on_change=routes.forget_tenant),
        activity=FirestoreActivity(db),
        secrets=secrets,
        providers=providers,
        oauth=oauth,
        relay=relay,
        queue=CloudTasksQueue(settings.tasks, settings.project, cloud_tasks_client)
        if settings.tasks
        else None,
        recipients=FirestoreRecipients(db, cache_s=settings.route_cache_s),
        events=SnsVerifier(settings.events.sns_cert_url_prefixes),
        routes=routes,
    )


@functools.cache
def current() -> Runtime:
    """This instance's runtime, built on first use and kept for the instance's life."""
    return build(config.load())
