"""Integration tests run against the real local stack that `make test` starts."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from emulators.mail.tls import Certificates
from tests.integration.clinic import Clinic, make_clinic

REQUIRED = (
    "GOOGLE_CLOUD_PROJECT",
    "FIRESTORE_EMULATOR_HOST",
    "FIREBASE_AUTH_EMULATOR_HOST",
    "SECRET_MANAGER_EMULATOR_HOST",
    "CLOUD_TASKS_EMULATOR_HOST",
    "CLOUD_TASKS_OIDC_CERTS_URL",
    "SENDVIA_FUNCTIONS_URL",
)


@pytest.fixture(scope="session", autouse=True)
def stack_env() -> dict[str, str]:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"The local stack is not configured ({', '.join(missing)} unset). Run the tests with "
            "`make test`, or `make up` and `source .stack/env` first.",
            pytrace=False,
        )
    return {name: os.environ[name] for name in REQUIRED}


@pytest.fixture(scope="session")
def project() -> str:
    return os.environ["GOOGLE_CLOUD_PROJECT"]


@pytest.fixture
def clinic(unique_id: str) -> Clinic:
    """A tenant with Gmail on and https://app.clinic.example allowed, with an admin and a member."""
    return make_clinic(unique_id)


@pytest.fixture
def recipient() -> str:
    """An address at example.com no other test writes to."""
    return f"pat-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture(scope="session")
def certs() -> Certificates:
    """The stack's local CA, its server certificate, and one nobody trusts."""
    folder = Path(os.environ["SENDVIA_TLS_CA_FILE"]).parent
    return Certificates(
        folder / "ca.pem",
        folder / "server.pem",
        folder / "server.key",
        folder / "untrusted.pem",
        folder / "untrusted.key",
    )


@pytest.fixture(scope="session")
def tasks() -> Any:
    """The Cloud Tasks emulator, through the official client."""
    from sendvia.adapters.google_clients import cloud_tasks_client

    return cloud_tasks_client()
