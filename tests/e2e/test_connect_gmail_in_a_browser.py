"""A person connects Gmail in a real browser: the link from `sendvia dev connect-gmail`, the fake
consent page, Allow, and back to the settings page with `connected`."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tests.integration.api import call, token
from tests.integration.google_flow import fake


def link_from_the_cli(tenant: str, uid: str) -> str:
    """What a developer gets from `sendvia dev connect-gmail`: its last line is the link."""
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "sendvia.cli",
            "dev",
            "connect-gmail",
            "--tenant",
            tenant,
            "--uid",
            uid,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    link = printed.strip().splitlines()[-1]
    assert "/oauth_callback/begin?state=" in link
    return link


def landed(page: Any, result: str) -> str:
    """Wait for the redirects after a click to end on the return page; its URL."""
    page.wait_for_url(lambda url: "sendvia_result=" in url)
    url: str = page.url
    assert f"sendvia_result={result}" in url
    return url


def test_a_person_connects_gmail_and_lands_back_connected(new_page, unique_id):
    tenant, admin = f"person-{unique_id}", f"admin-{unique_id}"
    page = new_page()
    page.goto(link_from_the_cli(tenant, admin))
    assert "Sign in with Google" in page.title()
    account = f"front.desk-{unique_id}@riverside.example"
    page.locator("input[name=email]").fill(account)
    page.locator("button[value=allow]").click()

    landed(page, "connected")
    assert page.locator("h1").inner_text() == "sendvia_result=connected"
    bearer = token(tenant, admin, "admin")
    assert call("GET", "settings", bearer=bearer).json()["mailboxes"]["tenant"]["address"] == (
        account
    )
    assert (
        call("POST", "test_connection", bearer=bearer, body={"mailbox": "tenant"}).json()["ok"]
        is True
    )
    assert len(fake(f"/_fake/accounts/{account}/sent").json()["messages"]) == 1


def test_cancel_in_the_browser_lands_back_denied(new_page, unique_id):
    page = new_page()
    page.goto(link_from_the_cli(f"cancel-{unique_id}", f"admin-{unique_id}"))
    page.locator("button[value=cancel]").click()
    landed(page, "denied")
