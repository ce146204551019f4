"""A delivery as `send` created it, carried in its task so that `deliver` need not read it back
(decision 0009).

`send` seals the document it wrote and the version Firestore gave that write; `deliver` opens
the seal and claims the delivery on the condition that it is still at that version, the same
fenced write as after a read. A version names one write, so a delivery still at it is exactly
what was sealed: anything written since (a cancel, a claim, a retry's outcome) fails the
condition, and `deliver` reads it as it always did.

The seal is an HMAC-SHA256 under a key only sendvia's functions can read (Secret Manager):
whoever may create tasks on the queue must still not choose what a tenant's mailbox sends. A
seal that does not verify (another key, a rotated one, a changed byte) is ignored, not refused:
the ids in the task are enough to deliver it the slow way. (A malformed one is refused, as any
malformed task body is: api/deliver.py.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

MAX_SEALED_CHARS = 64_000  # larger documents (attachments) travel as ids only
_CONTEXT = "sendvia-task-ticket-v1"


def _mac(key: bytes, tenant_id: str, delivery_id: str, version: str, doc: str) -> str:
    signed = json.dumps([_CONTEXT, tenant_id, delivery_id, version]) + "\n" + doc
    return hmac.new(key, signed.encode(), hashlib.sha256).hexdigest()


def seal(
    key: bytes, tenant_id: str, delivery_id: str, version: str, data: Mapping[str, Any]
) -> dict[str, str] | None:
    """The task's `as_created` for this document at this version; None when it cannot travel
    (too large, or a value JSON does not carry)."""
    plain: dict[str, Any] = {}
    times: dict[str, str] = {}
    for name, value in data.items():
        if isinstance(value, dt.datetime):
            if value.utcoffset() is None:
                return None  # naive: Firestore would take it for UTC
            try:
                times[name] = value.astimezone(dt.UTC).isoformat()  # as Firestore gives it back
            except OverflowError:
                return None  # before year 1 or after 9999 in UTC: no document holds it
        else:
            plain[name] = value
    try:
        doc = json.dumps([plain, times], separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None  # a nested datetime, bytes, NaN: the read path carries those
    if len(doc) > MAX_SEALED_CHARS:
        return None
    return {"version": version, "doc": doc, "mac": _mac(key, tenant_id, delivery_id, version, doc)}


def unseal(
    key: bytes, tenant_id: str, delivery_id: str, sealed: Mapping[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    """(the version, the document) when the seal verifies for this delivery; None otherwise."""
    version, doc, mac = sealed.get("version"), sealed.get("doc"), sealed.get("mac")
    if not (isinstance(version, str) and isinstance(doc, str) and isinstance(mac, str)):
        return None
    try:
        expected = _mac(key, tenant_id, delivery_id, version, doc)
        verified = hmac.compare_digest(mac.encode(), expected.encode())
    except UnicodeEncodeError:  # a lone surrogate: not a seal of ours
        return None
    if not verified:
        return None
    plain, times = json.loads(doc)
    data: dict[str, Any] = dict(plain)
    for name, value in times.items():
        data[name] = dt.datetime.fromisoformat(value)
    return version, data
