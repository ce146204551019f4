"""Input a hostile or careless caller controls is refused with a reason, never a 5xx (security
review M5, L1, L3, L7)."""

from __future__ import annotations

import datetime as dt

import pytest
from sendvia.adapters.firebase_identity import principal_from_claims
from sendvia.adapters.webhook_signatures import verify_sendgrid
from sendvia.domain.provider_events import EventError, SignatureError, sendgrid_events, ses_events
from sendvia.errors import Forbidden, Unauthenticated

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("timestamp", ["999999999999", "0", "99999999999999999999"])
def test_a_sendgrid_timestamp_out_of_range_is_a_refused_signature(timestamp):
    with pytest.raises(SignatureError):
        verify_sendgrid("key", b"[]", "c2ln", timestamp, NOW)


def test_deeply_nested_event_bodies_are_refused_as_events():
    with pytest.raises(EventError):
        sendgrid_events(NESTED)
    with pytest.raises(EventError):
        ses_events("m1", NESTED.decode())


@pytest.mark.parametrize(
    "name",
    ["Ann\r\nBcc: victim@evil.test", "=?utf-8?q?Ann=0D=0ABcc=3A_x?=", "Ann\x00Admin"],
)
def test_a_display_name_from_a_token_is_made_safe_for_a_from_header(name):
    principal = principal_from_claims({"tenant_id": "t1", "uid": "u1", "name": name})
    assert "\r" not in principal.name and "\n" not in principal.name
    assert "=?" not in principal.name and "\x00" not in principal.name


@pytest.mark.parametrize("tenant", ["a/b", "../other", "", "x" * 129, "tenant with spaces"])
def test_a_tenant_id_must_be_one_path_segment(tenant):
    with pytest.raises(Forbidden):
        principal_from_claims({"tenant_id": tenant, "uid": "u1"})


@pytest.mark.parametrize("uid", ["a/b", "..", ""])
def test_a_uid_must_be_one_path_segment(uid):
    with pytest.raises((Unauthenticated, Forbidden)):
        principal_from_claims({"tenant_id": "t1", "uid": uid})


PRODUCTION = {
    "GOOGLE_CLOUD_PROJECT": "acme-prod",
    "SENDVIA_PLATFORM_DOMAIN": "acme.example",
    "K_SERVICE": "send",
    "SENDVIA_DELIVER_URL": "https://deliver-abc-uc.a.run.app",
    "SENDVIA_TASKS_SERVICE_ACCOUNT": "sendvia-tasks@acme-prod.iam.gserviceaccount.com",
    "SENDVIA_SCHEDULER_SERVICE_ACCOUNT": "sendvia-scheduler@acme-prod.iam.gserviceaccount.com",
    "SENDVIA_REMINDERS_URL": "https://reminders-abc-uc.a.run.app",
}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"),
        ("FIRESTORE_EMULATOR_HOST", "127.0.0.1:8080"),
        ("SENDVIA_MAIL_HOSTS_ALLOW", "loopback"),
        ("OAUTHLIB_INSECURE_TRANSPORT", "1"),
        ("SENDVIA_SNS_CERT_URL_PREFIXES", "https://signer.example/"),
        ("SENDVIA_SCHEDULER_AUTH", "off"),
    ],
)
def test_settings_that_weaken_checks_are_refused_in_production(name, value):
    """On Cloud Run (K_SERVICE set) a leftover local setting stops the function at cold start,
    naming it, unless the deployment says it is a test one (security review L9)."""
    from sendvia.config import load
    from sendvia.errors import ConfigError

    with pytest.raises(ConfigError, match=name):
        load({**PRODUCTION, name: value})
    load({**PRODUCTION, name: value, "SENDVIA_ALLOW_LOCAL_SETTINGS": "1"})
    load({k: v for k, v in {**PRODUCTION, name: value}.items() if k != "K_SERVICE"})


def test_an_sns_prefix_without_its_slash_admits_no_other_host():
    from sendvia.adapters.webhook_signatures import cert_url_allowed

    prefixes = ("https://signer.test",)
    assert cert_url_allowed("https://signer.test/cert.pem", prefixes)
    assert not cert_url_allowed("https://signer.test.evil.net/cert.pem", prefixes)


@pytest.mark.parametrize(
    "missing",
    [
        "SENDVIA_SCHEDULER_SERVICE_ACCOUNT",
        "SENDVIA_REMINDERS_URL",
        "SENDVIA_DELIVER_URL",
        "SENDVIA_TASKS_SERVICE_ACCOUNT",
    ],
)
def test_a_deployment_without_an_internal_callers_identity_does_not_start(missing):
    """The internal functions fail closed: `reminders` and `deliver` each need the one caller
    they accept and the audience it signs for, and config.load() names what is missing."""
    from sendvia.config import load
    from sendvia.errors import ConfigError

    load(PRODUCTION)
    with pytest.raises(ConfigError, match=missing):
        load({k: v for k, v in PRODUCTION.items() if k != missing})


def test_only_a_local_stack_turns_the_schedulers_check_off_and_says_so():
    from sendvia.config import load
    from sendvia.errors import ConfigError

    local = {k: v for k, v in PRODUCTION.items() if k != "K_SERVICE"}
    without = {k: v for k, v in local.items() if not k.startswith("SENDVIA_SCHEDULER")}
    without.pop("SENDVIA_REMINDERS_URL")
    with pytest.raises(ConfigError, match="SENDVIA_SCHEDULER_AUTH=off"):
        load(without)  # silence is not "off"
    assert load({**without, "SENDVIA_SCHEDULER_AUTH": "off"}).scheduler_auth_off
    with pytest.raises(ConfigError, match="SENDVIA_SCHEDULER_AUTH"):
        load({**PRODUCTION, "SENDVIA_SCHEDULER_AUTH": "off"})
    with pytest.raises(ConfigError, match="SENDVIA_SCHEDULER_AUTH"):
        load({**without, "SENDVIA_SCHEDULER_AUTH": "maybe"})
