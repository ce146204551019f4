"""The key that seals a delivery into its task (services/tickets.py), read from Secret Manager
through the Secrets port, which keeps its value in memory and resolves `latest` again every few
minutes (a rotation is picked up; tasks sealed before it are read instead)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sendvia.ports import Secrets

log = logging.getLogger("sendvia.tickets")

RETRY_KEY_AFTER_S = 300.0  # an unreadable key is not asked for on every send
MIN_KEY_BYTES = 32


class TicketKey:
    """The sealing key; None while it cannot be read, asked for again RETRY_KEY_AFTER_S
    later."""

    def __init__(
        self,
        secrets: Secrets,
        version_name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secrets, self._version_name, self._clock = secrets, version_name, clock
        self._failed_at: float | None = None

    def get(self) -> bytes | None:
        """The key, or None while it cannot be read (then tasks carry ids only)."""
        failed_at = self._failed_at
        if failed_at is not None and self._clock() - failed_at < RETRY_KEY_AFTER_S:
            return None
        try:
            key = self._secrets.access(self._version_name)
        except Exception as exc:  # any failure: sending goes on without tickets
            self._failed_at = self._clock()
            log.warning(
                "the task ticket key %s cannot be read (%s): tasks carry ids only",
                self._version_name,
                type(exc).__name__,
            )
            return None
        if len(key) < MIN_KEY_BYTES:
            self._failed_at = self._clock()
            log.warning(
                "the task ticket key %s is shorter than %d bytes: not used",
                self._version_name,
                MIN_KEY_BYTES,
            )
            return None
        self._failed_at = None
        return key
