"""Browser tests: headless Chromium (Debian's, from the Makefile) against the whole stack, driven
by Playwright (pointed at /usr/bin/chromium: no browser can be downloaded here)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.conftest import stack_env  # noqa: F401 - the same stack check

CHROMIUM_FLAGS = (
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
            executable_path=_chromium(), args=list(CHROMIUM_FLAGS)
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
