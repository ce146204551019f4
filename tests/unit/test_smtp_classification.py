"""SMTP replies and what they mean for the person and for retries (a pure table)."""

from __future__ import annotations

import pytest
from sendvia.domain.smtp_replies import HINTS, classify_reply


@pytest.mark.parametrize(
    ("code", "text", "at_login", "cause"),
    [
        (535, "535 5.7.8 Username and Password not accepted", True, "wrong_password"),
        (534, "534 5.7.9 Application-specific password required", True, "app_password_required"),
        (
            535,
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled",
            True,
            "basic_auth_disabled",
        ),
        (
            550,
            "550 5.7.30 Basic authentication is not supported for Client Submission",
            False,
            "basic_auth_disabled",
        ),
        (550, "550 5.4.5 Daily user sending limit exceeded", False, "quota_exceeded"),
        (452, "452 4.3.2 Temporary server error, throttled", False, "quota_exceeded"),
        (421, "421 4.3.2 Service not available", False, "quota_exceeded"),
        (421, "421 Service not available", False, "server_unavailable"),
        (451, "451 4.3.0 Temporary system problem", False, "temporary_failure"),
        (550, "550 5.1.1 The email account does not exist", False, "rejected"),
    ],
)
def test_classify_reply(code, text, at_login, cause):
    assert classify_reply(code, text, at_login=at_login) == cause
    assert cause in HINTS
