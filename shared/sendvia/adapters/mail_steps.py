"""Named steps with time limits: connecting, TLS, logging in, sending, each given up on at its
limit so a stalled server cannot hang a function, and each failure classified into a cause
(domain/smtp_replies) and the server's own words.

A step runs on a shared pool of threads, so that the request's thread can walk away from it; or,
when the caller says how to cut it short (shutting its connection's socket down, which wakes a
thread blocked on it with an error), on the request's own thread, cut at its limit by a
watchdog. That is the case of every email — a send, a copy in Sent, on a connection kept from an
earlier one — and it saves the hand-overs between threads a pool costs: a third of the
context switches of an email on an SMTP mailbox, and 0.3 ms of its CPU (bench/pipeline.py).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sendvia.domain.smtp_replies import HINTS, classify_reply

STEP_LIMIT_S = 10.0


class StepFailed(Exception):  # noqa: N818 - a step's outcome
    def __init__(self, cause: str, reply: str) -> None:
        super().__init__(f"{cause}: {reply}")
        self.cause = cause
        self.reply = reply


PLATFORM = "platform"  # the lane of the platform's own relay
# Threads a tenant's steps may hold at once, stuck ones included: a tenant whose server stalls
# (a tar pit answering a byte every few seconds) ties up its own lane, not the instance.
LANE_THREADS = 16
_TENANT_WORKERS = 512
_PLATFORM_WORKERS = 64
MAX_LANES = 10_000
GRACE_S = 1.0  # a step's socket times out at its limit; the step is given up on this later


@dataclass
class Steps:
    """Runs named steps in order, each within its limit, and keeps their outcomes.

    `lane` says whose steps they are — `tenant:{id}` or PLATFORM — and so which threads they
    may use: each tenant at most LANE_THREADS of the tenants' pool, the platform's relay a pool
    of its own. A lane's thread is given back when its step's thread ends, not when the step is
    given up on, so a tenant's stuck steps keep counting against that tenant only."""

    results: list[dict[str, Any]] = field(default_factory=list)
    lane: str = PLATFORM
    cut: bool = False  # a step's socket was shut down at its limit: its connection is spent

    @property
    def ok(self) -> bool:
        return all(r["ok"] for r in self.results)

    def run(
        self,
        name: str,
        action: Callable[[], Any],
        limit_s: float = STEP_LIMIT_S,
        describe: Callable[[Any], str] = lambda _: "OK",
        cancel: Callable[[], None] | None = None,
    ) -> Any:
        """The action's result, or None when it failed (its outcome in `results`). With
        `cancel`, the action runs on this thread and is cancelled at its limit."""
        if not self.ok:
            return None
        if cancel is not None:
            _WATCHDOG.start()  # before a lane is taken: a thread that cannot start takes none
        started = time.monotonic()
        lane = _lane(self.lane)
        # A burst of one account's emails waits its turn, up to the step's own limit, instead of
        # failing at once and coming back as a retry (each retry costs the delivery a claim and
        # an outcome: bench/cost_per_email.py). The wait holds the request's thread, never one
        # of the pool's, so a tar pit still ties up only its own lane.
        if not lane.acquire(timeout=limit_s):
            self.results.append(
                {
                    "name": name,
                    **failed_step(
                        "server_busy",
                        f"{LANE_THREADS} earlier steps of this account are still waiting on its "
                        "mail servers.",
                    ),
                    "elapsed_ms": round((time.monotonic() - started) * 1000),
                }
            )
            return None

        def step() -> Any:
            try:
                return action()
            finally:
                lane.release()

        gave_up = failed_step("timeout", f"No answer within {limit_s:g} s during '{name}'.")
        watch: _Watch | None = None
        try:
            if cancel is None:
                future = _pool_of(self.lane).submit(step)
                result = future.result(timeout=limit_s + GRACE_S)  # sockets time out first
            else:
                # The limit counts from the lane's thread, as the pool's wait does.
                deadline = time.monotonic() + limit_s + GRACE_S
                with _WATCHDOG.watching(deadline, cancel) as watch:
                    result = step()
            outcome = {"ok": True, "reply": describe(result), "cause": None, "hint": None}
        except concurrent.futures.TimeoutError:
            result, outcome = None, gave_up
        except StepFailed as failure:
            result, outcome = None, failed_step(failure.cause, failure.reply)
        except Exception as exc:
            result = None
            # Cut at its limit, the step fails as whatever its dead socket raised: a timeout,
            # unless the server's own reply had been read.
            answered = isinstance(exc, _REPLIES)
            outcome = (
                gave_up
                if watch is not None and watch.fired and not answered
                else failed_step(*classify(name, exc, limit_s))
            )
        if watch is not None and watch.fired:
            self.cut = True  # an answer read as it was cut stands; the connection does not
        elapsed = round((time.monotonic() - started) * 1000)
        self.results.append({"name": name, **outcome, "elapsed_ms": elapsed})
        return result


@dataclass(eq=False)
class _Watch:
    deadline: float
    cancel: Callable[[], None]
    fired: bool = False


class _Watchdog:
    """Cancels the steps still running past their deadlines. It looks every TICK_S while steps
    run, and sleeps once none has for IDLE_S: a step costs an entry in a set, and the thread
    wakes a few times a second however many emails go, never once per step."""

    TICK_S = 0.2
    IDLE_S = 5.0

    def __init__(self) -> None:
        self._watches: set[_Watch] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._asleep = False

    def start(self) -> None:
        """Make sure the thread runs (RuntimeError when no thread can be started)."""
        running = self._thread
        if running is not None and running.is_alive():
            return  # every step asks: no lock for the common answer
        with self._changed:
            if self._thread is None or not self._thread.is_alive():
                thread = threading.Thread(target=self._run, name="mail-step-watchdog", daemon=True)
                thread.start()
                self._thread = thread

    @contextlib.contextmanager
    def watching(self, deadline: float, cancel: Callable[[], None]) -> Iterator[_Watch]:
        watch = _Watch(deadline, cancel)
        with self._changed:
            self._watches.add(watch)
            if self._asleep:
                self._asleep = False
                self._changed.notify()
        try:
            yield watch
        finally:
            with self._changed:
                self._watches.discard(watch)

    def _run(self) -> None:
        quiet_since = time.monotonic()
        while True:
            with self._changed:
                now = time.monotonic()
                if self._watches:
                    quiet_since = now
                elif now - quiet_since >= self.IDLE_S:
                    self._asleep = True
                    while self._asleep:
                        self._changed.wait()
                    continue
                for watch in [w for w in self._watches if w.deadline <= now]:
                    self._watches.discard(watch)
                    watch.fired = True
                    # Under the lock: the step's thread, leaving `watching`, waits for it, so
                    # its connection is not closed (and its descriptor reused) mid-cut.
                    with contextlib.suppress(Exception):
                        watch.cancel()
            time.sleep(self.TICK_S)


_WATCHDOG = _Watchdog()
# Exceptions that carry the server's own reply: a refusal read before a cut is still a refusal.
_REPLIES = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)
_pools: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
_lanes: dict[str, threading.BoundedSemaphore] = {}
_pool_lock = threading.Lock()


def tenant_lane(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


def _pool_of(lane: str) -> concurrent.futures.ThreadPoolExecutor:
    """The threads steps run on, so that a step can be given up on at its limit: one pool for
    the platform's relay, one for the tenants (a thread per step would cost more than a send on
    a reused connection)."""
    kind = PLATFORM if lane == PLATFORM else "tenants"
    with _pool_lock:
        pool = _pools.get(kind)
        if pool is None:
            workers = _PLATFORM_WORKERS if kind == PLATFORM else _TENANT_WORKERS
            pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix=f"mail-step-{kind}"
            )
            _pools[kind] = pool
        return pool


def _lane(lane: str) -> threading.BoundedSemaphore:
    with _pool_lock:
        found = _lanes.get(lane)
        if found is None:
            if len(_lanes) >= MAX_LANES:
                _forget_idle_lanes()
            limit = _PLATFORM_WORKERS if lane == PLATFORM else LANE_THREADS
            found = _lanes[lane] = threading.BoundedSemaphore(limit)
        return found


def _forget_idle_lanes() -> None:
    """Drop lanes with no thread in use (under the lock)."""
    for name, semaphore in list(_lanes.items()):
        if semaphore._value == (_PLATFORM_WORKERS if name == PLATFORM else LANE_THREADS):
            del _lanes[name]


def failed_step(cause: str, reply: str) -> dict[str, Any]:
    return {"ok": False, "reply": reply, "cause": cause, "hint": HINTS.get(cause)}


# Exceptions that carry no reply of the server, by the first class that matches.
_EXCEPTION_CAUSES: tuple[tuple[type[BaseException], str], ...] = (
    (smtplib.SMTPNotSupportedError, "auth_not_offered"),
    (ssl.SSLCertVerificationError, "certificate_untrusted"),
    (ssl.SSLError, "tls_mismatch"),
    (ConnectionRefusedError, "unreachable"),
    (OSError, "unreachable"),
)


def classify(step: str, exc: BaseException, limit_s: float) -> tuple[str, str]:
    """A cause (a key of HINTS) and the server's own words for a failed step."""
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = f"{exc.smtp_code} {text_of(exc.smtp_error)}"
        at_login = isinstance(exc, smtplib.SMTPAuthenticationError)
        return classify_reply(exc.smtp_code, reply, at_login=at_login), reply
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, words = next(iter(exc.recipients.values()))
        reply = f"{code} {text_of(words)}"
        return classify_reply(code, reply), reply
    if timed_out(exc):  # smtplib reports a read timeout as a disconnection
        return "timeout", f"No answer within {limit_s:g} s during '{step}'."
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "connection_dropped", str(exc) or "The server closed the connection."
    for kind, cause in _EXCEPTION_CAUSES:
        if isinstance(exc, kind):
            return cause, _describe(exc)
    return _classify_imap(exc)


def _classify_imap(exc: BaseException) -> tuple[str, str]:
    text = text_of(exc.args[0]) if exc.args else str(exc)
    if type(exc).__name__ == "LoginError":  # IMAPClient's; the text is the server's
        return classify_reply(0, text, at_login=True), text
    if type(exc).__module__.startswith(("imapclient", "imaplib")):
        return "imap_error", text[:300]
    # Anything else is ours or the input's (an address smtplib cannot encode, say): retrying
    # would fail the same way, so it is not a temporary failure.
    return "unexpected", f"The step failed ({type(exc).__name__})."


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "The server refused the connection (nothing listens on that port)."
    if isinstance(exc, OSError):
        return f"Could not connect: {exc.strerror or exc}"
    return str(exc)


def timed_out(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or "timed out" in str(exc)


def text_of(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
