"""Who has used the product: the admin's members list is built from these records, written
through the Store at most every few minutes per member and instance."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from sendvia.domain.principal import Principal
from sendvia.ports import Store

# A member's record is rewritten at most this often per instance, unless their email, name or
# role changed: enough for a "last seen" column, without a Firestore write on every request.
REFRESH = dt.timedelta(minutes=10)
MAX_REMEMBERED = 10_000  # members remembered per instance; the oldest go first


class MemberTracker:
    def __init__(self, store: Store, clock: Callable[[], dt.datetime]) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._written: dict[tuple[str, str], tuple[dt.datetime, Principal]] = {}

    def touch(self, principal: Principal) -> None:
        key = (principal.tenant_id, principal.uid)
        now = self._clock()
        with self._lock:
            previous = self._written.get(key)
            if previous and previous[1] == principal and now - previous[0] < REFRESH:
                return
            if len(self._written) >= MAX_REMEMBERED and key not in self._written:
                self._written.pop(next(iter(self._written)))  # the oldest entry
            self._written[key] = (now, principal)
        self._store.record_member(principal, now.isoformat())
