"""Mail a test makes arrive in a fake provider's mailbox: `POST /_fake/accounts/{email}/inbox`
with one message (`raw`) or many (`raws`), each base64url RFC 5322."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import flask


def arrive(file: Callable[[bytes], str]) -> Any:
    """File each message of the request with `file` (its id back): {"id"} for one, {"ids"} for
    many; 400 for one that is not base64url or is empty."""
    body = flask.request.get_json(silent=True) or {}
    ids = []
    for encoded in body.get("raws") or [body.get("raw", "")]:
        try:
            raw = base64.urlsafe_b64decode(str(encoded) + "==")
        except (binascii.Error, ValueError):
            raw = b""
        if not raw.strip():
            return {"error": "give raw: a base64url RFC 5322 message"}, 400
        ids.append(file(raw))
    return {"id": ids[0]} if len(ids) == 1 else {"ids": ids}
