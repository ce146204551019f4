"""Structured JSON logs for Cloud Logging: one line per record, on stdout.

Cloud Logging reads `severity`, `message` and `logging.googleapis.com/trace` from JSON lines
(cloud.google.com/logging/docs/structured-logging). Request context (function, trace, tenant, uid)
is attached from a context variable. Values that look like credentials are masked as a last line
of defence; the code never passes tokens or passwords to a log call in the first place.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
from typing import Any

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "sendvia_log_context", default=None
)
_SECRETISH = re.compile(
    r"(Bearer\s+\S+|ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*|ya29\.[\w-]+|1//[\w-]+)"
)
_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


def mask(text: str) -> str:
    return _SECRETISH.sub("[redacted]", text)


def bind(**fields: str) -> contextvars.Token[dict[str, str] | None]:
    """Add fields to every log line of the current request."""
    return _context.set({**(_context.get() or {}), **fields})


def reset(token: contextvars.Token[dict[str, str] | None]) -> None:
    _context.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": mask(record.getMessage()),
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "logger": record.name,
        }
        context = dict(_context.get() or {})
        trace = context.pop("trace", None)
        if trace:
            entry["logging.googleapis.com/trace"] = trace
        entry.update(context)
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update({k: mask(str(v)) for k, v in extra.items()})
        if record.exc_info:
            entry["stack_trace"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure() -> None:
    """Send sendvia's records to stdout as JSON lines (idempotent)."""
    root = logging.getLogger("sendvia")
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


def trace_from_header(header: str | None, project: str) -> str | None:
    """`X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1` → `projects/P/traces/TRACE_ID`."""
    if not header:
        return None
    trace_id = header.split("/", 1)[0].strip()
    if not re.fullmatch(r"[0-9a-fA-F]{1,32}", trace_id):
        return None
    return f"projects/{project}/traces/{trace_id}"
