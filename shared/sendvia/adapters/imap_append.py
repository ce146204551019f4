"""APPEND of a message to a folder, in one write where the server takes a literal without
asking first, with the folder kept open.

A literal is sent after the server's "+" go-ahead (RFC 3501 §4.3): a round trip more than the
command needs. A server with LITERAL+ (RFC 7888; Dovecot, Cyrus) takes it unasked at any size,
one with LITERAL- (Gmail) up to 4096 bytes; for the copy in Sent, on every email of an SMTP
mailbox, that is a third to a half of the APPEND's CPU (bench/pipeline.py). imaplib has no way
to send one, so the command goes on its connection as imaplib's own would, with imaplib's tag
and reading.

A server appends to a mailbox it has open at about half the cost of one it must open for the
command (Dovecot: 0.6 ms of its CPU and 1.3 ms per copy, against 1.4 and 2.3), so a connection
kept for the copies EXAMINEs its folder once — read-only, so nothing the account's own mail apps
see changes.
"""

from __future__ import annotations

import imaplib
import weakref
from typing import Any

LITERAL_MINUS_MOST = 4096  # RFC 7888 §4
# client → the folder it has open, and its name as the commands carry it
_OPEN: weakref.WeakKeyDictionary[Any, tuple[str, bytes]] = weakref.WeakKeyDictionary()


def append(client: Any, folder: str, raw: bytes, flags: tuple[bytes, ...] = (b"\\Seen",)) -> None:
    """`client`: an IMAPClient. Raises imaplib.IMAP4.error when the server refuses."""
    imap: imaplib.IMAP4 = client._imap
    try:
        name = _open(client, folder)
        _append(client, imap, folder, name, raw, flags=flags)
    finally:
        # imaplib keeps every untagged response until it is read, and a connection kept for
        # the copies reads none: an APPENDUID an email, for as long as it is kept, otherwise.
        imap.untagged_responses.clear()


def _append(
    client: Any,
    imap: imaplib.IMAP4,
    folder: str,
    name: bytes,
    raw: bytes,
    *,
    flags: tuple[bytes, ...],
) -> None:
    if not _unasked(client, len(raw)):
        client.append(folder, raw, flags=list(flags))
        return
    tag = imap._new_tag()  # registered as awaited, as imaplib's own commands are
    try:
        imap.send(
            b"%s APPEND %s (%s) {%d+}\r\n%s\r\n" % (tag, name, b" ".join(flags), len(raw), raw)
        )
    except OSError as exc:
        raise imap.abort(f"socket error: {exc}") from exc  # as imaplib's own commands say it
    kind, data = imap._command_complete("APPEND", tag)
    if kind != "OK":
        raise imaplib.IMAP4.error(f"APPEND command error: {kind} {data}")


def _open(client: Any, folder: str) -> bytes:
    """EXAMINE the folder unless this connection has it open; a folder that cannot be opened
    is left to the APPEND to refuse. The folder's name as commands carry it: modified UTF-7,
    quoted, as IMAPClient sends it."""
    opened = _OPEN.get(client)
    if opened is not None and opened[0] == folder:
        return opened[1]
    name: bytes = client._normalise_folder(folder)
    try:
        client.select_folder(folder, readonly=True)
    except imaplib.IMAP4.abort:
        raise  # the connection is gone
    except imaplib.IMAP4.error:
        _OPEN.pop(client, None)
        return name
    _OPEN[client] = (folder, name)
    return name


def _unasked(client: Any, size: int) -> bool:
    """Whether the server takes a literal of `size` bytes without a go-ahead."""
    return bool(
        client.has_capability("LITERAL+")
        or (client.has_capability("LITERAL-") and size <= LITERAL_MINUS_MOST)
    )
