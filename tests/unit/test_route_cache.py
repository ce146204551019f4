"""The per-instance cache of what a route depends on (services/routes.py): entries expire, this
instance's own changes drop them at once, and a read that overlapped a change is not kept."""

from __future__ import annotations

from sendvia import cache as cache_module
from sendvia.cache import RouteCache, RouteContext
from sendvia.domain.mailbox import MailboxRecord
from sendvia.domain.tenant import Tenant


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def context(tenant_id: str = "acme") -> RouteContext:
    mailbox = MailboxRecord.from_doc(tenant_id, "tenant", {"provider": "smtp", "state": "active"})
    return RouteContext(Tenant.defaults(tenant_id, "Riverside"), {"tenant": mailbox})


def test_an_entry_lives_for_its_lifetime():
    clock = Clock()
    cache = RouteCache(30, clock)
    cache.put(("acme", "user-u1"), context(), cache.generation())
    clock.now += 29.9
    assert cache.get(("acme", "user-u1")) == context()
    clock.now += 0.1
    assert cache.get(("acme", "user-u1")) is None


def test_a_change_of_the_tenant_drops_its_entries_only():
    cache = RouteCache(30, Clock())
    for key in [("acme", "user-u1"), ("acme", "user-u2"), ("other", "user-u1")]:
        cache.put(key, context(key[0]), cache.generation())
    cache.forget_tenant("acme")
    assert cache.get(("acme", "user-u1")) is None
    assert cache.get(("acme", "user-u2")) is None
    assert cache.get(("other", "user-u1")) == context("other")


def test_a_read_that_overlapped_a_change_is_not_kept():
    cache = RouteCache(30, Clock())
    generation = cache.generation()  # the read starts…
    cache.forget_tenant("acme")  # …a write lands meanwhile…
    cache.put(("acme", "user-u1"), context(), generation)  # …so what was read may be old
    assert cache.get(("acme", "user-u1")) is None


def test_a_lifetime_of_zero_keeps_nothing():
    cache = RouteCache(0, Clock())
    cache.put(("acme", "user-u1"), context(), cache.generation())
    assert cache.get(("acme", "user-u1")) is None


def test_the_oldest_entries_go_first_when_full(monkeypatch):
    monkeypatch.setattr(cache_module, "MAX_ENTRIES", 2)
    cache = RouteCache(30, Clock())
    for uid in ("u1", "u2"):
        cache.put(("acme", uid), context(), cache.generation())
    assert cache.get(("acme", "u1")) is not None  # used: now the newest
    cache.put(("acme", "u3"), context(), cache.generation())
    assert cache.get(("acme", "u2")) is None
    assert cache.get(("acme", "u1")) is not None
