"""Kept mail connections: taken newest first, closed once they have idled past the limit, and
each pool keeps no more than it says."""

from __future__ import annotations

from sendvia.adapters import mail_pool
from sendvia.adapters.mail_pool import Pool


class Connection:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False


def pool(**limits: int) -> Pool[Connection]:
    def close(connection: Connection) -> None:
        connection.closed = True

    return Pool(alive=lambda c: not c.closed, close=close, **limits)


def test_a_kept_connection_is_taken_again_and_the_newest_first():
    kept = pool()
    first, second = Connection("first"), Connection("second")
    assert kept.park("smtp", first) and kept.park("smtp", second)
    assert kept.take("smtp") is second
    assert kept.take("smtp") is first
    assert kept.take("smtp") is None


def test_connections_idle_past_the_limit_are_closed_when_the_pool_is_next_used(monkeypatch):
    kept = pool()
    stale = Connection("stale")
    kept.park("account-a", stale)
    monkeypatch.setattr(mail_pool, "IDLE_LIMIT_S", 0.0)
    monkeypatch.setattr(mail_pool, "REAP_EVERY_S", 0.0)
    assert kept.take("account-b") is None  # another account's email
    assert stale.closed
    assert kept.take("account-a") is None


def test_a_pool_keeps_and_opens_no_more_than_its_limits():
    kept = pool(max_open=2, max_idle=1)
    assert kept.park("imap", Connection("one"))
    assert not kept.park("imap", Connection("two"))  # the caller closes it
    first, second = kept.slot("imap", 0.01), kept.slot("imap", 0.01)
    assert first is not None and second is not None
    assert kept.slot("imap", 0.01) is None  # all busy: the step says server_busy
    first.release()
    assert kept.slot("imap", 0.01) is not None


def test_closing_the_idle_ones_closes_every_kept_connection():
    kept = pool()
    connections = [Connection(str(i)) for i in range(3)]
    for i, connection in enumerate(connections):
        kept.park(f"key-{i}", connection)
    kept.close_idle()
    assert all(c.closed for c in connections)
    assert kept.take("key-0") is None
