"""One table says which kind each provider cause is, for sending, testing and resuming alike."""

from __future__ import annotations

import json

import pytest
from sendvia.adapters.gmail import classify_http_error
from sendvia.adapters.google_oauth import classify_refresh_error
from sendvia.domain.failures import FailureKind, ProviderFailure, kind_of
from sendvia.domain.smtp_replies import HINTS


@pytest.mark.parametrize(
    ("cause", "kind"),
    [
        ("wrong_password", FailureKind.AUTH),
        ("app_password_required", FailureKind.AUTH),
        ("basic_auth_disabled", FailureKind.AUTH),
        ("auth_not_offered", FailureKind.AUTH),
        ("token_revoked", FailureKind.AUTH),
        ("quota_exceeded", FailureKind.QUOTA),
        ("timeout", FailureKind.TRANSIENT),
        ("connection_dropped", FailureKind.TRANSIENT),
        ("server_busy", FailureKind.TRANSIENT),
        ("rejected", FailureKind.PERMANENT),
        ("folder_missing", FailureKind.PERMANENT),
        ("host_not_allowed", FailureKind.PERMANENT),
        ("never-heard-of-it", FailureKind.PERMANENT),
    ],
)
def test_each_cause_has_one_kind(cause, kind):
    assert kind_of(cause) is kind
    assert ProviderFailure.of(cause, "words").kind is kind


def test_every_smtp_cause_with_a_hint_is_classified_on_purpose():
    """A new SMTP cause must be placed in the table, not fall to `permanent` by accident."""
    deliberately_permanent = {
        "host_not_allowed",
        "tls_mismatch",
        "certificate_untrusted",
        "rejected",
        "folder_missing",
        "no_imap",
        "unexpected",
    }
    for cause in HINTS:
        assert kind_of(cause) is not FailureKind.PERMANENT or cause in deliberately_permanent


class _Response(dict):  # httplib2's response: a dict of headers with a status
    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status


class _HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.resp = _Response(status)
        body = {"error": {"message": "m", "errors": [{"reason": reason}] if reason else []}}
        self.content = json.dumps(body).encode()


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, ""),
        (403, "insufficientPermissions"),
        (429, ""),
        (403, "dailyLimitExceeded"),
        (403, "userRateLimitExceeded"),
    ],
)
def test_the_causes_gmail_names_itself_have_the_tables_kind(status, reason):
    failure = classify_http_error(_HttpError(status, reason))
    assert failure.kind is kind_of(failure.code), failure.code


@pytest.mark.parametrize("text", ["invalid_grant: Token has been revoked", "unauthorized_client"])
def test_googles_refusals_to_refresh_have_the_tables_kind(text):
    failure = classify_refresh_error(Exception(text))
    assert failure.kind is kind_of(failure.code)
