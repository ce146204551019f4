"""A person connects Gmail in a real browser: the link from `sendvia dev connect-gmail`, the fake
consent page, Allow, and back to the settings page with `connected`."""

from __future__ import annotations

import subprocess
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

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


def landed(browser: object, result: str) -> str:
    """Wait for the redirects after a click to end on the return page; its URL."""
    WebDriverWait(browser, 20).until(lambda b: "sendvia_result=" in b.current_url)
    url: str = browser.current_url  # type: ignore[attr-defined]
    assert f"sendvia_result={result}" in url
    return url


def test_a_person_connects_gmail_and_lands_back_connected(browser, unique_id):
    tenant, admin = f"person-{unique_id}", f"admin-{unique_id}"
    browser.get(link_from_the_cli(tenant, admin))
    assert "Sign in with Google" in browser.title
    account = f"front.desk-{unique_id}@riverside.example"
    browser.find_element(By.NAME, "email").send_keys(account)
    browser.find_element(By.CSS_SELECTOR, "button[value=allow]").click()

    landed(browser, "connected")
    assert browser.find_element(By.TAG_NAME, "h1").text == "sendvia_result=connected"
    bearer = token(tenant, admin, "admin")
    assert call("GET", "settings", bearer=bearer).json()["mailboxes"]["tenant"]["address"] == (
        account
    )
    assert (
        call("POST", "test_connection", bearer=bearer, body={"mailbox": "tenant"}).json()["ok"]
        is True
    )
    assert len(fake(f"/_fake/accounts/{account}/sent").json()["messages"]) == 1


def test_cancel_in_the_browser_lands_back_denied(browser, unique_id):
    browser.get(link_from_the_cli(f"cancel-{unique_id}", f"admin-{unique_id}"))
    browser.find_element(By.CSS_SELECTOR, "button[value=cancel]").click()
    landed(browser, "denied")
