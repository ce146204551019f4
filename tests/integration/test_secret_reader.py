"""Reading secret versions without the Secret Manager library (adapters/secret_reader), against
the Secret Manager emulator: the value the library stored, `latest` resolved, a missing or
destroyed version refused as the library refuses it, and the library never loaded."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from google.api_core import exceptions
from sendvia.adapters.google_clients import secret_manager_client
from sendvia.adapters.secret_manager import SecretManagerSecrets
from sendvia.adapters.secret_reader import SecretReader
from sendvia.ports import SecretUnavailable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stored(project):
    """A secret whose first version is destroyed and second live: (its name, the first's)."""
    client = secret_manager_client()
    secret = client.create_secret(
        parent=f"projects/{project}",
        secret_id=f"reader-{uuid.uuid4().hex[:10]}",
        secret={"replication": {"automatic": {}}},
    )
    old = client.add_secret_version(parent=secret.name, payload={"data": b"old password"})
    client.add_secret_version(parent=secret.name, payload={"data": bytes(range(256)) * 20})
    client.destroy_secret_version(name=old.name)
    yield secret.name, old.name
    client.delete_secret(name=secret.name)


def test_a_version_reads_as_stored_and_latest_names_the_version_read(stored):
    secret, _ = stored
    reader = SecretReader(os.environ["SECRET_MANAGER_EMULATOR_HOST"])
    resolved, data = reader(f"{secret}/versions/latest")
    assert resolved == f"{secret}/versions/2"
    assert data == bytes(range(256)) * 20
    assert reader(f"{secret}/versions/2") == (resolved, data)


def test_a_destroyed_or_missing_version_is_refused_as_the_library_refuses_it(stored, project):
    _, destroyed = stored
    reader = SecretReader(os.environ["SECRET_MANAGER_EMULATOR_HOST"])
    library = secret_manager_client()
    for name in (destroyed, f"projects/{project}/secrets/no-such-{uuid.uuid4().hex}/versions/1"):
        with pytest.raises(exceptions.GoogleAPICallError) as ours:
            reader(name)
        with pytest.raises(exceptions.GoogleAPICallError) as theirs:
            library.access_secret_version(name=name)
        assert type(ours.value) is type(theirs.value)
        secrets = SecretManagerSecrets(project, lambda: library, reader)
        with pytest.raises(SecretUnavailable):
            secrets.access(name)


def test_reading_a_secret_loads_no_secret_manager_library(stored):
    """What a cold start that sends pays for: not the library's import (bench/cold_start.py)."""
    secret, _ = stored
    version = f"{secret}/versions/2"
    code = (
        "import os, sys\n"
        "from sendvia.adapters.secret_reader import SecretReader\n"
        f"_, data = SecretReader(os.environ['SECRET_MANAGER_EMULATOR_HOST'])({version!r})\n"
        "assert len(data) == 5120, len(data)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('google.cloud.secretmanager'))\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'shared'}{os.pathsep}{ROOT}"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
