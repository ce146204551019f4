"""A person's browser going through "Sign in with Microsoft" against the fake Microsoft: open
sendvia's link, fill in the account on the consent page, Accept or Cancel, follow the redirect
back to oauth_callback. The fake's test API puts accounts into Microsoft's failure states."""

from __future__ import annotations

import html
import os
import re
from typing import Any

import requests

from tests.integration.api import call
from tests.integration.google_flow import Browser, Outcome

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def start(token: str, mailbox: str = "tenant", *, receive: bool = False) -> str:
    response = call(
        "POST",
        "oauth_start",
        bearer=token,
        body={
            "provider": "microsoft",
            "mailbox": mailbox,
            "receive": receive,
            "return_to": "https://app.clinic.example/settings/email",
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["authorization_url"])


def connect(
    browser: Browser, authorization_url: str, email: str, *, accept: bool = True
) -> Outcome:
    microsoft_url = browser.google_url(authorization_url)  # sendvia's /begin redirects there
    page = browser.session.get(microsoft_url, timeout=30)
    assert page.status_code == 200, page.text
    fields = [(k, html.unescape(v)) for k, v in _HIDDEN.findall(page.text)]
    fields += [("email", email), ("decision", "accept" if accept else "cancel")]
    answer = browser.session.post(
        microsoft_url.split("?")[0], data=fields, allow_redirects=False, timeout=30
    )
    assert answer.status_code == 302, answer.text
    return browser.land(answer.headers["Location"])


def fake(path: str, method: str = "GET", **kwargs: Any) -> requests.Response:
    return requests.request(
        method, f"{os.environ['FAKE_MICROSOFT_URL']}{path}", timeout=30, **kwargs
    )


def sent_by(account: str) -> list[dict[str, Any]]:
    return list(fake(f"/_fake/accounts/{account}/sent").json()["messages"])
