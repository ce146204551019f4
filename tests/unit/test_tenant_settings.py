"""Tenant settings: defaults, PATCH validation naming the field, and deployment settings."""

from __future__ import annotations

import pytest
from sendvia import config
from sendvia.domain.tenant import MailboxPolicy, Tenant
from sendvia.domain.tenant_patch import TenantPatch
from sendvia.errors import BadRequest, ConfigError
from sendvia.validation import parse_model


def test_a_new_tenant_gets_safe_defaults():
    tenant = Tenant.defaults("t1", "WriteUpp")
    assert tenant.to_json() == {
        "id": "t1",
        "product_name": "WriteUpp",
        "integrations": {"gmail": False, "smtp_imap": False, "microsoft": False},
        "mailbox_policy": "tenant",
        "on_broken": "fail",
        "members_may_send": True,
        "return_origins": [],
        "correspondence": "practice",
        "backfill_days": 0,
    }


def test_patch_changes_only_what_it_names():
    tenant = Tenant.defaults("t1", "WriteUpp")
    patch = parse_model(
        TenantPatch,
        {
            "integrations": {"gmail": True},
            "mailbox_policy": "per_user",
            "return_origins": ["https://app.example.com/"],
        },
    )
    updated = patch.apply(tenant)
    assert updated.integrations.gmail is True
    assert updated.integrations.smtp_imap is False
    assert updated.mailbox_policy is MailboxPolicy.PER_USER
    assert updated.return_origins == ("https://app.example.com",)
    assert updated.product_name == "WriteUpp"


def test_product_name_is_trimmed():
    patch = parse_model(TenantPatch, {"product_name": "  My Clinic  "})
    assert patch.apply(Tenant.defaults("t1", "x")).product_name == "My Clinic"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"colour": "blue"}, "colour", "unknown_field"),
        ({"integrations": {"fax": True}}, "integrations.fax", "unknown_field"),
        ({"integrations": {"gmail": "yes"}}, "integrations.gmail", "invalid_value"),
        ({"integrations": {"gmail": 1}}, "integrations.gmail", "invalid_value"),
        ({"members_may_send": "true"}, "members_may_send", "invalid_value"),
        ({"mailbox_policy": "everyone"}, "mailbox_policy", "invalid_value"),
        ({"on_broken": 3}, "on_broken", "invalid_value"),
        ({"product_name": 42}, "product_name", "invalid_value"),
        ({"product_name": "   "}, "product_name", "invalid_value"),
        ({"product_name": "x" * 101}, "product_name", "invalid_value"),
        ({"product_name": "Clinic\r\nBcc: x@evil.test"}, "product_name", "invalid_value"),
        ({"product_name": "=?utf-8?q?hi?="}, "product_name", "invalid_value"),
        ({"return_origins": "https://a.example"}, "return_origins", "invalid_value"),
        ({"return_origins": ["https://a.example/path"]}, "return_origins", "invalid_value"),
        ({"return_origins": ["http://app.example.com"]}, "return_origins", "invalid_value"),
    ],
)
def test_bad_patches_name_the_field(body, field, code):
    with pytest.raises(BadRequest) as error:
        parse_model(TenantPatch, body)
    assert error.value.field == field
    assert error.value.code == code
    assert field in error.value.message


def test_an_enum_error_lists_the_allowed_values():
    with pytest.raises(BadRequest) as error:
        parse_model(TenantPatch, {"mailbox_policy": "everyone"})
    assert "'tenant'" in error.value.message
    assert "'per_user'" in error.value.message


@pytest.mark.parametrize("body", [[1], "x", 3, None])
def test_a_body_that_is_not_an_object_is_refused(body):
    with pytest.raises(BadRequest) as error:
        parse_model(TenantPatch, body)
    assert error.value.code == "invalid_body"


GOOD_ENV = {"GOOGLE_CLOUD_PROJECT": "demo-sendvia", "SENDVIA_PLATFORM_DOMAIN": "platform.test"}


def test_settings_load_from_the_environment():
    settings = config.load(
        {
            **GOOD_ENV,
            "SENDVIA_CORS_ORIGINS": "https://a.example, http://localhost:3000",
            "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080",
        }
    )
    assert settings.cors_origins == ("https://a.example", "http://localhost:3000")
    assert settings.default_sender_address == "noreply@platform.test"
    assert settings.firestore_emulator_host == "127.0.0.1:8080"
    assert settings.secret_manager_emulator_host is None


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "GOOGLE_CLOUD_PROJECT is not set"),
        ({"GOOGLE_CLOUD_PROJECT": "Bad_Project"}, "GOOGLE_CLOUD_PROJECT='Bad_Project'"),
        ({"GOOGLE_CLOUD_PROJECT": "demo-sendvia"}, "SENDVIA_PLATFORM_DOMAIN is not set"),
        ({**GOOD_ENV, "SENDVIA_PLATFORM_DOMAIN": "not a domain"}, "SENDVIA_PLATFORM_DOMAIN="),
        ({**GOOD_ENV, "SENDVIA_CORS_ORIGINS": "app.example.com"}, "SENDVIA_CORS_ORIGINS"),
        ({**GOOD_ENV, "CLOUD_TASKS_EMULATOR_HOST": "localhost"}, "CLOUD_TASKS_EMULATOR_HOST"),
        ({**GOOD_ENV, "SENDVIA_ROUTE_CACHE_SECONDS": "soon"}, "SENDVIA_ROUTE_CACHE_SECONDS='soon'"),
        ({**GOOD_ENV, "SENDVIA_ROUTE_CACHE_SECONDS": "3600"}, "from 0 to 300"),
    ],
)
def test_missing_or_malformed_settings_are_named(env, named):
    with pytest.raises(ConfigError) as error:
        config.load(env)
    assert named in str(error.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as error:
        config.load({"SENDVIA_CORS_ORIGINS": "nope"})
    message = str(error.value)
    assert "GOOGLE_CLOUD_PROJECT" in message
    assert "SENDVIA_PLATFORM_DOMAIN" in message
    assert "SENDVIA_CORS_ORIGINS" in message


def test_a_stored_document_missing_fields_takes_the_defaults():
    tenant = Tenant.from_stored("t1", {"integrations": {"gmail": True}}, "WriteUpp")
    assert tenant.product_name == "WriteUpp"
    assert tenant.integrations.gmail is True
    assert tenant.integrations.smtp_imap is False
    assert tenant.mailbox_policy is MailboxPolicy.TENANT


def test_stored_and_shown_forms_round_trip():
    tenant = Tenant.defaults("t1", "WriteUpp").replace(
        mailbox_policy=MailboxPolicy.PER_USER, return_origins=("https://a.example",)
    )
    assert Tenant.from_stored("t1", tenant.to_json(), "other") == tenant
