"""Calling sendvia's functions over HTTP as a frontend does, with tokens from the Auth emulator."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import requests
from sendvia import devtools

from emulators import stack


def url(function: str, path: str = "") -> str:
    return f"{os.environ['SENDVIA_FUNCTIONS_URL']}/{function}{path}"


def token(tenant: str, uid: str, role: str = "admin", **options: Any) -> str:
    return devtools.id_token(tenant=tenant, uid=uid, role=role, **options)


def call(
    method: str,
    function: str,
    path: str = "",
    *,
    bearer: str | None = None,
    body: Any = None,
    data: str | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> requests.Response:
    sent = dict(headers or {})
    if bearer is not None:
        sent["Authorization"] = f"Bearer {bearer}"
    return requests.request(
        method, url(function, path), json=body, data=data, headers=sent, timeout=timeout_s
    )


def rewrite_claims(id_token: str, **changes: Any) -> str:
    """The same (unsigned, emulator) token with some claims changed: a forgery."""
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def stack_logs() -> Path:
    """The log folder of the stack these tests run against."""
    for profile in ("test", "dev", "scratch"):
        env_file = stack.state_dir(profile) / "env"
        if env_file.exists() and os.environ["SENDVIA_FUNCTIONS_URL"] in env_file.read_text():
            return stack.state_dir(profile) / "logs"
    raise AssertionError("cannot find the running stack's logs")
