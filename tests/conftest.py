"""Fixtures shared by every test: an isolated environment and a fresh id per test."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def unique_id() -> str:
    """A short id no other test uses (tenants, queues, secrets)."""
    return uuid.uuid4().hex[:12]
