"""ports.OAuthStates on Firestore: `oauth_states/{hash of the state}`, each used once, in a
transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sendvia.adapters import paths
from sendvia.metering import METER

if TYPE_CHECKING:
    from google.cloud import firestore


class FirestoreOAuthStates:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def create(self, state_hash: str, record: Mapping[str, Any]) -> None:
        METER.writes()
        self._db.document(paths.oauth_state(state_hash)).create(dict(record))

    def claim(self, state_hash: str, browser_hash: str, now: dt.datetime) -> dict[str, Any] | None:
        from google.cloud import firestore

        ref = self._db.document(paths.oauth_state(state_hash))

        @firestore.transactional
        def bind(transaction: firestore.Transaction) -> dict[str, Any] | None:
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            record = snapshot.to_dict() if snapshot.exists else None
            if record is None or record["expires_at"] <= now:
                return None
            if record.get("browser_hash") not in (None, browser_hash):
                return None
            METER.writes()
            transaction.update(ref, {"browser_hash": browser_hash})
            return record

        claimed: dict[str, Any] | None = bind(self._db.transaction())
        return claimed

    def consume(
        self, state_hash: str, now: dt.datetime, browser_hash: str
    ) -> dict[str, Any] | None:
        from google.cloud import firestore

        ref = self._db.document(paths.oauth_state(state_hash))

        @firestore.transactional
        def use_once(transaction: firestore.Transaction) -> dict[str, Any] | None:
            METER.reads()
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            if (snapshot.to_dict() or {}).get("browser_hash") != browser_hash:
                return None  # not this browser's: left for the one it is bound to
            METER.writes()
            transaction.delete(ref)
            record = snapshot.to_dict() or {}
            return record if record.get("expires_at") and record["expires_at"] > now else None

        consumed: dict[str, Any] | None = use_once(self._db.transaction())
        return consumed
