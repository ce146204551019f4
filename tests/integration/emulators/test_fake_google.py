"""The fake Google, driven by the official libraries (google-auth-oauthlib, google-auth,
google-api-python-client): PKCE, single-use codes, revocation, scopes, and quotas answered with
Google's reasons."""

from __future__ import annotations

import base64
import os
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from oauthlib.oauth2 import InvalidGrantError
from sendvia.adapters.gmail import classify_http_error
from sendvia.adapters.google_clients import secret_manager_client
from sendvia.domain.failures import FailureKind

from tests.integration.google_flow import GMAIL_READ, GMAIL_SEND, Browser, fake

REDIRECT = "http://127.0.0.1:9/callback"  # never visited: the test reads the redirect itself
PROFILE = ["openid", "https://www.googleapis.com/auth/userinfo.email"]


@pytest.fixture(scope="module")
def client_config() -> dict:
    secret = (
        secret_manager_client()
        .access_secret_version(name=os.environ["SENDVIA_GOOGLE_CLIENT_SECRET"])
        .payload.data.decode()
    )
    base = os.environ["FAKE_GOOGLE_URL"]
    return {
        "web": {
            "client_id": os.environ["SENDVIA_GOOGLE_CLIENT_ID"],
            "client_secret": secret,
            "auth_uri": f"{base}/o/oauth2/v2/auth",
            "token_uri": f"{base}/token",
        }
    }


@pytest.fixture
def account() -> str:
    return f"fake-{uuid.uuid4().hex[:10]}@gmail.example"


def authorize(config: dict, email: str, scopes: list[str]) -> tuple[Flow, str]:
    """Consent as `email`; returns the flow (holding the PKCE verifier) and the code."""
    flow = Flow.from_client_config(config, scopes=scopes, redirect_uri=REDIRECT)
    url, _ = flow.authorization_url(access_type="offline", prompt="consent")
    location = Browser().consent(url, email)
    return flow, parse_qs(urlsplit(location).query)["code"][0]


def gmail(config: dict, refresh_token: str, scopes: list[str]):
    credentials = Credentials(
        None,
        refresh_token=refresh_token,
        token_uri=config["web"]["token_uri"],
        client_id=config["web"]["client_id"],
        client_secret=config["web"]["client_secret"],
        scopes=scopes,
    )
    return build(
        "gmail",
        "v1",
        credentials=credentials,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": os.environ["FAKE_GOOGLE_URL"] + "/"},
    )


def raw_message(sender: str, to: list[str]) -> dict[str, str]:
    text = f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: hi\r\n\r\nhello\r\n"
    return {"raw": base64.urlsafe_b64encode(text.encode()).decode()}


def connected(config: dict, email: str, scopes: list[str]) -> str:
    flow, code = authorize(config, email, scopes)
    return flow.fetch_token(code=code)["refresh_token"]


def test_pkce_is_required(client_config):
    base = os.environ["FAKE_GOOGLE_URL"]
    page = requests.get(
        f"{base}/o/oauth2/v2/auth",
        timeout=10,
        params={
            "client_id": client_config["web"]["client_id"],
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": GMAIL_SEND,
        },
    )
    assert page.status_code == 400
    assert "PKCE" in page.text


def test_a_code_works_once_and_only_with_its_verifier(client_config, account):
    flow, code = authorize(client_config, account, [*PROFILE, GMAIL_SEND])
    other = Flow.from_client_config(
        client_config,
        scopes=[GMAIL_SEND],
        redirect_uri=REDIRECT,
        code_verifier="x" * 64,
        autogenerate_code_verifier=False,
    )
    with pytest.raises(InvalidGrantError):
        other.fetch_token(code=code)  # wrong verifier
    token = flow.fetch_token(code=code)
    assert token["refresh_token"].startswith("1//")
    assert set(token["scope"]) == {*PROFILE, GMAIL_SEND}
    with pytest.raises(InvalidGrantError):
        flow.fetch_token(code=code)  # used


def test_a_revoked_refresh_token_gives_invalid_grant(client_config, account):
    refresh_token = connected(client_config, account, [*PROFILE, GMAIL_SEND])
    base = os.environ["FAKE_GOOGLE_URL"]
    assert requests.post(f"{base}/revoke", data={"token": refresh_token}, timeout=10).ok
    credentials = Credentials(
        None,
        refresh_token=refresh_token,
        token_uri=client_config["web"]["token_uri"],
        client_id=client_config["web"]["client_id"],
        client_secret=client_config["web"]["client_secret"],
    )
    with pytest.raises(RefreshError, match="invalid_grant") as error:
        credentials.refresh(Request())
    assert error.value.retryable is False
    again = requests.post(f"{base}/revoke", data={"token": refresh_token}, timeout=10)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_token")


def test_send_is_kept_and_listed(client_config, account):
    scopes = [*PROFILE, GMAIL_SEND]
    service = gmail(client_config, connected(client_config, account, scopes), scopes)
    sent = (
        service.users()
        .messages()
        .send(userId="me", body=raw_message(account, ["ann@example.com"]))
        .execute()
    )
    assert sent["labelIds"] == ["SENT"]
    listed = fake(f"/_fake/accounts/{account}/sent").json()["messages"]
    assert [m["id"] for m in listed] == [sent["id"]]
    assert listed[0]["to"] == ["ann@example.com"]
    assert "hello" in listed[0]["raw"]


def test_reading_the_profile_needs_a_read_scope(client_config, account):
    scopes = [*PROFILE, GMAIL_SEND]
    service = gmail(client_config, connected(client_config, account, scopes), scopes)
    with pytest.raises(HttpError) as error:
        service.users().getProfile(userId="me").execute()
    assert error.value.resp.status == 403
    assert error.value.error_details[0]["reason"] == "insufficientPermissions"
    reader_scopes = [*PROFILE, GMAIL_READ]
    reader = gmail(client_config, connected(client_config, account, reader_scopes), reader_scopes)
    assert reader.users().getProfile(userId="me").execute()["emailAddress"] == account


def test_more_than_100_recipients_is_refused(client_config, account):
    scopes = [*PROFILE, GMAIL_SEND]
    service = gmail(client_config, connected(client_config, account, scopes), scopes)
    many = [f"r{i}@example.com" for i in range(101)]
    with pytest.raises(HttpError) as error:
        service.users().messages().send(userId="me", body=raw_message(account, many)).execute()
    assert error.value.resp.status == 400


def second_send_over(client_config: dict, account: str, limits: dict[str, int]) -> HttpError:
    """Set the account's quotas, send once, and return the error of the second send."""
    scopes = [*PROFILE, GMAIL_SEND]
    service = gmail(client_config, connected(client_config, account, scopes), scopes)
    fake(f"/_fake/accounts/{account}:limits", "POST", json=limits)
    message = raw_message(account, ["a@x.example"])
    service.users().messages().send(userId="me", body=message).execute()
    with pytest.raises(HttpError) as error:
        service.users().messages().send(userId="me", body=message).execute(num_retries=0)
    return error.value


def test_the_daily_sending_limit_answers_like_gmail(client_config, account):
    error = second_send_over(client_config, account, {"daily_limit": 1})
    assert error.resp.status == 429
    assert error.error_details[0]["reason"] == "rateLimitExceeded"
    assert "(Mail sending)" in str(error)
    failure = classify_http_error(error)
    assert failure.kind is FailureKind.QUOTA
    assert failure.retry_after_s and failure.retry_after_s > 3600


def test_the_per_minute_rate_answers_user_rate_limit_exceeded(client_config, account):
    error = second_send_over(client_config, account, {"per_minute": 1})
    assert error.resp.status == 403
    assert error.error_details[0]["reason"] == "userRateLimitExceeded"
    assert classify_http_error(error).kind is FailureKind.QUOTA


def test_bad_limits_are_refused(account):
    response = fake(f"/_fake/accounts/{account}:limits", "POST", json={"daily_limit": -1})
    assert response.status_code == 400


def test_userinfo_needs_a_valid_token():
    response = fake("/oauth2/v3/userinfo", headers={"Authorization": "Bearer ya29.nope"})
    assert response.status_code == 401
