"""The APPEND sent in one write fails as imaplib's own commands fail: a connection that breaks
while the message is written is imaplib's `abort` (the connection is gone), not a refusal."""

from __future__ import annotations

import imaplib
from typing import Any

import pytest
from sendvia.adapters import imap_append


class Broken(imaplib.IMAP4):
    """An imaplib connection whose socket breaks on the next write (no server involved)."""

    def __init__(self) -> None:  # no connection: only what APPEND uses
        self.tagpre = b"T"
        self.tagnum = 0
        self.tagged_commands: dict[bytes, Any] = {}
        self.untagged_responses: dict[str, list[Any]] = {"APPENDUID": [b"1 1"]}
        self._encoding = "ascii"

    def send(self, data: bytes) -> None:
        raise BrokenPipeError(32, "Broken pipe")


class Client:
    """As much of IMAPClient as APPEND uses, over a Broken connection, with LITERAL+."""

    def __init__(self) -> None:
        self._imap = Broken()

    def has_capability(self, name: str) -> bool:
        return name == "LITERAL+"

    def select_folder(self, folder: str, readonly: bool = False) -> None:
        pass

    def _normalise_folder(self, folder: str) -> bytes:
        return b'"' + folder.encode() + b'"'


def test_a_write_that_breaks_is_an_abort_and_nothing_is_kept():
    client = Client()
    with pytest.raises(imaplib.IMAP4.abort, match="socket error"):
        imap_append.append(client, "Sent", b"Subject: x\r\n\r\nhi\r\n")
    assert client._imap.untagged_responses == {}
