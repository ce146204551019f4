"""Seed the local Secret Manager emulator with the deployment's own secrets (the OAuth client)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "shared") not in sys.path:
    sys.path.insert(0, str(ROOT / "shared"))


def store_secret(secret_id: str, data: bytes, *, project: str, errors: Any, sm: Any) -> None:
    from sendvia.adapters.google_clients import secret_manager_client

    client = secret_manager_client()
    parent = f"projects/{project}"
    with contextlib.suppress(errors.AlreadyExists):
        client.create_secret(
            parent=parent,
            secret_id=secret_id,
            secret=sm.Secret(replication={"automatic": {}}, labels={"kind": "oauth-client"}),
        )
    client.add_secret_version(
        parent=f"{parent}/secrets/{secret_id}", payload=sm.SecretPayload(data=data)
    )
