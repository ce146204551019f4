"""What an instance spends: Firestore document reads and writes, Secret Manager accesses, OAuth
token refreshes. The adapters count at the point they call the service, the way the service
bills it (a document read, found or not; a written document), so a benchmark can say what one
delivered email costs on a warm instance (`bench/pipeline.py`, through the local functions host's
`/_dev/meter`).

Counting is an add under a lock: cheap enough to leave on in production.
"""

from __future__ import annotations

import threading
from collections import Counter

FIRESTORE_READS = "firestore_reads"
FIRESTORE_WRITES = "firestore_writes"
SECRET_ACCESSES = "secret_accesses"  # noqa: S105 - a counter's name
TOKEN_REFRESHES = "token_refreshes"  # noqa: S105 - a counter's name


class Meter:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, what: str, n: int = 1) -> None:
        with self._lock:
            self._counts[what] += n

    def reads(self, n: int = 1) -> None:
        self.add(FIRESTORE_READS, n)

    def writes(self, n: int = 1) -> None:
        self.add(FIRESTORE_WRITES, n)

    def snapshot(self, reset: bool = False) -> dict[str, int]:
        with self._lock:
            counts = {
                k: self._counts[k]
                for k in (FIRESTORE_READS, FIRESTORE_WRITES, SECRET_ACCESSES, TOKEN_REFRESHES)
            }
            if reset:
                self._counts.clear()
        return counts


METER = Meter()
"""This process's meter (one function instance)."""
