"""A small per-instance cache of tenant data: entries live `ttl_s` seconds, the oldest go first
past `max_entries`, and a tenant's entries are dropped at once when this instance changes its
data. A value read while such a change happened is not kept (it may be older than the change):
callers take `generation()` before reading and hand it to `put`."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sendvia.domain.mailbox import MailboxRecord
from sendvia.domain.tenant import Tenant

V = TypeVar("V")

MAX_ENTRIES = 10_000


class TenantCache(Generic[V]):
    """Keys are tuples whose first item is the tenant id."""

    def __init__(
        self,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, ...], tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # moves on every forget

    def generation(self) -> int:
        with self._lock:
            return self._generation

    def get(self, key: tuple[str, ...]) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if self._clock() - found[0] >= self._ttl_s:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: tuple[str, ...], value: V, generation: int) -> None:
        """Keep `value`, read since `generation()` answered `generation`, unless something was
        forgotten meanwhile."""
        if self._ttl_s <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            self._entries[key] = (self._clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def forget_tenant(self, tenant_id: str) -> None:
        with self._lock:
            self._generation += 1
            for key in [k for k in self._entries if k[0] == tenant_id]:
                del self._entries[key]


@dataclass(frozen=True)
class RouteContext:
    """What choosing a sender's route needs: the tenant's settings and its mailboxes."""

    tenant: Tenant
    mailboxes: dict[str, MailboxRecord] = field(default_factory=dict)  # found ones, by id
    cached: bool = False  # came from this instance's cache rather than from Firestore just now


class RouteCache(TenantCache[RouteContext]):
    """(tenant, mailbox ids) → RouteContext, for `ttl_s` seconds, at most MAX_ENTRIES
    (services/routes.py)."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl_s, clock, max_entries=MAX_ENTRIES)
