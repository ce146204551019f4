"""An `oauth_start` body that is plainly valid, read without pydantic (as domain.plain_request
reads `send`'s): anything else goes to the model (api.start_request), which judges it and
words its errors. tests/unit/test_plain_request.py holds the two to the same reading."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sendvia.domain.plain_request import is_unicode
from sendvia.domain.providers import sign_in_names

MAX_RETURN_TO = 2000
_FIELDS = frozenset({"provider", "mailbox", "receive", "return_to"})


def one_line(value: str) -> bool:
    """No spaces or control characters."""
    return not any(ord(c) < 0x21 or ord(c) == 0x7F for c in value)


@dataclass(frozen=True)
class PlainStart:
    mailbox: str
    return_to: str
    provider: str = "google"
    receive: bool = False


def plain_start(body: Any) -> PlainStart | None:
    if type(body) is not dict or not body.keys() <= _FIELDS:
        return None
    provider = body.get("provider", "google")
    mailbox, receive, return_to = (
        body.get("mailbox"),
        body.get("receive", False),
        body.get("return_to"),
    )
    if (
        not is_unicode(provider)
        or provider not in sign_in_names()
        or mailbox not in ("tenant", "me")
        or type(mailbox) is not str
        or type(receive) is not bool
        or not is_unicode(return_to)
        or not 0 < len(return_to) <= MAX_RETURN_TO
        or not one_line(return_to)
    ):
        return None
    return PlainStart(mailbox, return_to, provider, receive)
