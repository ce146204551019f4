"""Driving the reference settings app (web/) in Chromium with Playwright, as a person would:
users who sign in with a password, the screens, axe-core's accessibility check, and a screenshot
of each test's final screen under the stack's folder (`.stack/test/screenshots/`)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sendvia import devtools

from tests.integration.api import stack_logs

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery"  # a test user of the Auth emulator


@dataclass(frozen=True)
class Person:
    tenant: str
    uid: str
    email: str
    role: str


def person(tenant: str, uid: str, role: str, name: str) -> Person:
    """A user of the Auth emulator with tenant and role claims, who signs in with PASSWORD."""
    email = f"{uid}@{tenant}.example"
    devtools.id_token(tenant=tenant, uid=uid, role=role, email=email, name=name, password=PASSWORD)
    return Person(tenant, uid, email, role)


def admin_of(unique_id: str) -> Person:
    """The practice admin of a test's own practice (tenant `web-<id>`)."""
    return person(f"web-{unique_id}", f"admin-{unique_id}", "admin", "Ann Admin")


def practitioner_of(unique_id: str) -> Person:
    """A practitioner of the same practice as admin_of(unique_id)."""
    return person(f"web-{unique_id}", f"pat-{unique_id}", "member", "Pat Practitioner")


def web_url(path: str = "/") -> str:
    return f"{os.environ['SENDVIA_WEB_URL']}{path}"


def sign_in(page: Any, who: Person) -> None:
    page.goto(web_url())
    page.get_by_label("Email").fill(who.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation").get_by_role("link", name="Mailbox").wait_for()


def signed_in(new_page: Any, who: Person) -> Any:
    """A page of a browser context of its own, signed in as `who`."""
    page = new_page()
    sign_in(page, who)
    return page


def go(page: Any, screen: str) -> None:
    """Open a screen by its navigation link and wait until it has loaded."""
    page.get_by_role("navigation").get_by_role("link", name=screen).click()
    page.locator("main h1", has_text=screen).wait_for()
    page.locator("main .loading").wait_for(state="detached")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )
    return found


def assert_accessible(page: Any) -> None:
    violations = serious_violations(page)
    assert violations == [], f"{page.url}: {violations}"


def screenshot(page: Any, name: str) -> Path:
    """The final screen of a test, for a person to look at."""
    folder = stack_logs().parent / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
