"""One table says which kind each provider cause is, for sending, testing and resuming alike."""

from __future__ import annotations

import pytest
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
    }
    for cause in HINTS:
        assert kind_of(cause) is not FailureKind.PERMANENT or cause in deliberately_permanent
