"""Named steps with time limits: connecting, TLS, logging in, sending, each run on a shared pool
of threads so a stalled server cannot hang a function, and each failure classified into a cause
(domain/smtp_replies) and the server's own words.
"""

from __future__ import annotations

import concurrent.futures
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sendvia.domain.smtp_replies import HINTS, classify_reply

STEP_LIMIT_S = 10.0


class StepFailed(Exception):  # noqa: N818 - a step's outcome
    def __init__(self, cause: str, reply: str) -> None:
        super().__init__(f"{cause}: {reply}")
        self.cause = cause
        self.reply = reply


@dataclass
class Steps:
    """Runs named steps in order, each within its limit, and keeps their outcomes."""

    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r["ok"] for r in self.results)

    def run(
        self,
        name: str,
        action: Callable[[], Any],
        limit_s: float = STEP_LIMIT_S,
        describe: Callable[[Any], str] = lambda _: "OK",
    ) -> Any:
        if not self.ok:
            return None
        started = time.monotonic()
        future = _step_pool().submit(action)
        try:
            result = future.result(timeout=limit_s + 1.0)  # sockets time out first, normally
            outcome = {"ok": True, "reply": describe(result), "cause": None, "hint": None}
        except concurrent.futures.TimeoutError:
            result = None
            outcome = failed_step("timeout", f"No answer within {limit_s:g} s during '{name}'.")
        except StepFailed as failure:
            result = None
            outcome = failed_step(failure.cause, failure.reply)
        except Exception as exc:
            result = None
            outcome = failed_step(*classify(name, exc, limit_s))
        elapsed = round((time.monotonic() - started) * 1000)
        self.results.append({"name": name, **outcome, "elapsed_ms": elapsed})
        return result


_STEP_WORKERS = 256
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _step_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The threads steps run on, so that a step can be given up on at its limit; shared by the
    instance (a thread per step would cost more than a send on a reused connection)."""
    global _pool  # noqa: PLW0603 - one pool per process, made on first use
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=_STEP_WORKERS, thread_name_prefix="mail-step"
            )
        return _pool


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
