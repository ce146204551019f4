"""An HTTP server in the test process that plays a Cloud Tasks target and records every request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hit:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Target:
    """Answers with `statuses` in turn (the last one repeats), after `delay_s`."""

    statuses: list[int] = field(default_factory=lambda: [200])
    delay_s: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    url: str = ""
    active: int = 0
    max_active: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def answer(self, hit: Hit) -> int:
        with self._lock:
            index = len(self.hits)
            self.hits.append(hit)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        with self._arrived:
            self._arrived.notify_all()
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            self.active -= 1
        return self.statuses[min(index, len(self.statuses) - 1)]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Hit]:
        deadline = time.time() + timeout
        with self._arrived:
            while len(self.hits) < count:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.hits)}")
                self._arrived.wait(left)
        return list(self.hits)


@contextmanager
def serve_target(**options: Any) -> Iterator[Target]:
    target = Target(**options)

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            hit = Hit(
                time.time(), self.command, self.path, dict(self.headers), self.rfile.read(length)
            )
            status = target.answer(hit)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    target.url = f"http://127.0.0.1:{server.server_port}/task"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()
