"""Structured logs: Cloud Logging fields, request context, and no credentials."""

from __future__ import annotations

import json
import logging

from sendvia import logs


def render(message: str, *args: object) -> dict[str, object]:
    record = logging.LogRecord("sendvia.test", logging.WARNING, __file__, 1, message, args, None)
    return json.loads(logs.JsonFormatter().format(record))


def test_a_record_is_one_json_line_with_severity_and_context():
    token = logs.bind(function="settings", tenant_id="t1", uid="u1", trace="projects/p/traces/abc")
    try:
        entry = render("PATCH %s → %d", "/", 400)
    finally:
        logs.reset(token)
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "PATCH / → 400"
    assert entry["logging.googleapis.com/trace"] == "projects/p/traces/abc"
    assert (entry["function"], entry["tenant_id"], entry["uid"]) == ("settings", "t1", "u1")


def test_credentials_that_slip_into_a_message_are_masked():
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    entry = render(
        "header was Bearer %s and token %s and %s", "abc.def", jwt_like, "ya29.a0AfH6SMBx"
    )
    assert "abc.def" not in entry["message"]
    assert jwt_like not in entry["message"]
    assert "ya29." not in entry["message"]


def test_trace_header_becomes_the_cloud_logging_trace():
    header = "105445aa7843bc8bf206b12000100000/1;o=1"
    assert (
        logs.trace_from_header(header, "p") == "projects/p/traces/105445aa7843bc8bf206b12000100000"
    )
    assert logs.trace_from_header("not a trace!", "p") is None
    assert logs.trace_from_header(None, "p") is None
