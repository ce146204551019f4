"""Browser tests: headless Chromium (Debian's, from the Makefile) against the whole stack, driven
by Selenium (the sign-in link alone) and by Playwright (the reference settings app)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.conftest import stack_env  # noqa: F401 - the same stack check

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these, Chromium keeps trying to reach Google's hosts, which this network refuses.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _chromium() -> str:
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.fail(
            "Chromium is missing: `make test` installs it (apt-get install chromium).",
            pytrace=False,
        )
    return chromium


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright (no browser can be downloaded here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=_chromium(), args=[f for f in CHROMIUM_FLAGS if f != "--headless=new"]
        )
        yield launched
        launched.close()


@pytest.fixture
def new_page(chromium: Any) -> Iterator[Callable[[], Any]]:
    """Pages in browser contexts of their own (one per person: their own cookies and sign-in)."""
    contexts = []

    def make() -> Any:
        context = chromium.new_context(viewport={"width": 1200, "height": 900})
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail(
            "Chromium is missing: `make test` installs it (apt-get install chromium "
            "chromium-driver).",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tempfile.mkdtemp()}"):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    session.set_page_load_timeout(30)
    yield session
    session.quit()
