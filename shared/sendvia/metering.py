"""What an instance spends: Firestore document reads and writes, Secret Manager accesses, OAuth
token refreshes. The adapters count at the point they call the service, the way the service
bills it (a document read, found or not; a written document), so a benchmark can say what one
delivered email costs on a warm instance (`bench/pipeline.py`, through the local functions host's
`/_dev/meter`).

Counting is an add under a lock: cheap enough to leave on in production.
"""

from __future__ import annotations

import threading
import time
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


class WritePaths:
    """Firestore writes per document path in one-second buckets, once switched on: where a busy
    tenant concentrates writes (Firestore sustains about one write a second per document).
    Counted where every write of the client library passes, as it is added to a batch or a
    transaction (a retried transaction's writes count again: each is an attempt on the
    document)."""

    def __init__(self) -> None:
        self._buckets: Counter[tuple[str, int]] = Counter()
        self._lock = threading.Lock()
        self.on = False

    def switch_on(self) -> None:
        from google.cloud.firestore_v1.base_batch import BaseWriteBatch

        if self.on:
            return
        self.on = True
        add = BaseWriteBatch._add_write_pbs

        def counted(batch: BaseWriteBatch, write_pbs: list) -> None:  # type: ignore[type-arg]
            self.add([_path_of(w) for w in write_pbs])
            add(batch, write_pbs)

        BaseWriteBatch._add_write_pbs = counted  # type: ignore[method-assign,assignment]

    def add(self, paths: list[str], at: float | None = None) -> None:
        second = int(time.time() if at is None else at)
        with self._lock:
            for path in paths:
                self._buckets[(path, second)] += 1

    def snapshot(self, top: int = 20, reset: bool = False) -> list[dict[str, object]]:
        """The `top` documents by their busiest second: path, writes, busiest second's writes,
        and the seconds between their first and last write."""
        with self._lock:
            buckets = dict(self._buckets)
            if reset:
                self._buckets.clear()
        per_path: dict[str, list[int]] = {}
        for path, second in buckets:
            per_path.setdefault(path, []).append(second)
        rows = []
        for path, seconds in per_path.items():
            counts = [buckets[(path, s)] for s in seconds]
            rows.append(
                {
                    "path": path,
                    "writes": sum(counts),
                    "peak_per_s": max(counts),
                    "span_s": max(seconds) - min(seconds) + 1,
                }
            )
        rows.sort(key=lambda r: (-int(r["peak_per_s"]), -int(r["writes"])))  # type: ignore[call-overload]
        return rows[:top]


def _path_of(write: object) -> str:
    """The document a Write protobuf changes, from `…/documents/` on."""
    pb = getattr(write, "_pb", write)
    kind = pb.WhichOneof("operation")  # type: ignore[attr-defined]
    if kind == "update":
        name = pb.update.name  # type: ignore[attr-defined]
    elif kind == "delete":
        name = pb.delete  # type: ignore[attr-defined]
    else:
        name = pb.transform.document  # type: ignore[attr-defined]
    return str(name).split("/documents/", 1)[-1]


WRITE_PATHS = WritePaths()
"""This process's writes per document, when the deployment asks for them (local benchmarks)."""
