"""The composition root: the adapters of one function instance, built once from Settings.

Emulators are chosen here and only here, by the environment variables in Settings; tests may
build a Runtime of their own. Nothing is built at import: the first request builds what it needs.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

from sendvia import config
from sendvia.config import Settings
from sendvia.ports import Identity, Store
from sendvia.services.members import MemberTracker


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    identity: Identity
    store: Store
    members: MemberTracker
    clock: Callable[[], dt.datetime] = utc_now


def build(settings: Settings) -> Runtime:
    from sendvia.adapters.firebase_identity import FirebaseIdentity
    from sendvia.adapters.firestore_store import FirestoreStore
    from sendvia.adapters.google_clients import firestore_client

    store = FirestoreStore(firestore_client(settings.project))
    return Runtime(
        settings=settings,
        identity=FirebaseIdentity(settings.project),
        store=store,
        members=MemberTracker(store, utc_now),
    )


@functools.cache
def current() -> Runtime:
    """This instance's runtime, built on first use and kept for the instance's life."""
    return build(config.load())
