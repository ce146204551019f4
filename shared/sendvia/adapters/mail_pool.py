"""Logged-in mail connections kept for the next email, per server and login: SMTP for sending,
IMAP for the copy in Sent. A TLS handshake and a login cost more CPU than the email itself
(bench/pipeline.py), and a busy mailbox sends many emails a minute.

Servers drop idle sessions (RFC 5321 §4.5.3.2.7 suggests 5 minutes for SMTP; IMAP's autologout
is at least 30 minutes, RFC 3501 §5.4; many providers use less), so only recently used
connections are tried: one parked less than CHECK_AFTER_S ago is taken as it is, an older one is
asked NOOP first, and one idle longer is closed (whenever the pool is used, at most every
REAP_EVERY_S: Cloud Run gives an instance CPU only while it serves, so a timer would not run
sooner). Providers cap the connections of one login (Gmail about 15, Dovecot 10 a user and
address by default) and the customer's own mail apps need some, so each pool says how many it
opens at once per server and login, and how many it keeps; a sender waits for one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

IDLE_LIMIT_S = 30.0
CHECK_AFTER_S = 1.0
REAP_EVERY_S = 5.0
MAX_CONNECTIONS_PER_SERVER = 10
MAX_SERVERS = 2000  # (server, login) pairs remembered per instance

C = TypeVar("C")


class Pool(Generic[C]):
    """`alive` asks a parked connection whether it still answers (NOOP); `close` ends one
    politely (QUIT, LOGOUT), for connections that are not kept."""

    def __init__(
        self,
        *,
        alive: Callable[[C], bool],
        close: Callable[[C], None],
        max_open: int = MAX_CONNECTIONS_PER_SERVER,
        max_idle: int = MAX_CONNECTIONS_PER_SERVER,
    ) -> None:
        self._alive = alive
        self._close = close
        self.max_open = max_open
        self._max_idle = max_idle
        self._idle: dict[Hashable, list[tuple[float, C]]] = {}
        self._slots: dict[Hashable, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()
        self._reaped_at = time.monotonic()

    def slot(self, key: Hashable, wait_s: float) -> threading.BoundedSemaphore | None:
        """One of the key's connections, to be released when done; None when all stayed busy
        for `wait_s`."""
        with self._lock:
            if len(self._slots) >= MAX_SERVERS and key not in self._slots:
                self._drop_unused()
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = threading.BoundedSemaphore(self.max_open)
        return slot if slot.acquire(timeout=wait_s) else None

    def take(self, key: Hashable) -> C | None:
        """A parked connection that still answers, or None."""
        for expired in self._reap():
            self._close(expired)
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                parked_at, client = idle.pop()
            idle_s = time.monotonic() - parked_at
            if idle_s < CHECK_AFTER_S or (idle_s < IDLE_LIMIT_S and self._alive(client)):
                return client
            self._close(client)

    def park(self, key: Hashable, client: C) -> bool:
        """Keep a connection that worked for the next email; False when enough are kept (the
        caller closes it)."""
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) >= self._max_idle:
                return False
            idle.append((time.monotonic(), client))
            return True

    def _reap(self) -> list[C]:
        """The connections idle past IDLE_LIMIT_S, taken out of the pool (looked for at most
        every REAP_EVERY_S)."""
        now = time.monotonic()
        expired: list[C] = []
        with self._lock:
            if now - self._reaped_at < REAP_EVERY_S:
                return expired
            self._reaped_at = now
            for idle in self._idle.values():
                expired += [client for parked_at, client in idle if now - parked_at >= IDLE_LIMIT_S]
                idle[:] = [(t, client) for t, client in idle if now - t < IDLE_LIMIT_S]
        return expired

    def close_idle(self) -> None:
        """Close every parked connection (an instance shutting down, a test ending)."""
        with self._lock:
            parked = [client for idle in self._idle.values() for _, client in idle]
            self._idle.clear()
        for client in parked:
            self._close(client)

    def _drop_unused(self) -> None:
        """Forget keys with no connection in use and none parked (under the lock): keys are per
        server and login, and a tenant can make new ones at will."""
        for key in [k for k in self._slots if not self._idle.get(k)]:
            slot = self._slots[key]
            taken = 0
            while taken < self.max_open and slot.acquire(blocking=False):
                taken += 1  # all free? take every permit to be sure
            if taken == self.max_open:
                del self._slots[key]
                self._idle.pop(key, None)
            else:
                for _ in range(taken):
                    slot.release()
