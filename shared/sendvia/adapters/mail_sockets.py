"""Sockets under the mail clients: IMAP pinned to the address that passed the SSRF check,
the DATA framing, and ending a connection another thread may still use."""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
from typing import Any


def pinned_imap_client(address: str) -> Any:
    """IMAPClient, connecting to `address` while TLS and STARTTLS verify the host name."""
    import imaplib

    from imapclient import IMAPClient, imap4, tls

    class PinnedTLS(tls.IMAP4_TLS):
        def _create_socket(self, timeout: float | None = None) -> socket.socket:
            sock = socket.create_connection((address, self.port), timeout=timeout)
            wrapped: socket.socket = tls.wrap_socket(sock, self.ssl_context, self.host)
            return wrapped

    class PinnedPlain(imap4.IMAP4WithTimeout):
        def _create_socket(self, timeout: float | None = None) -> socket.socket:
            limit = timeout if timeout is not None else self._timeout
            return socket.create_connection((address, self.port), limit)

    class PinnedIMAPClient(IMAPClient):
        def _create_IMAP4(self) -> imaplib.IMAP4:  # noqa: N802 - IMAPClient's name
            connect_timeout = getattr(self._timeout, "connect", None)
            if self.ssl:
                return PinnedTLS(self.host, self.port, self.ssl_context, connect_timeout)
            return PinnedPlain(self.host, self.port, connect_timeout)

    return PinnedIMAPClient


def dot_stuffed(raw: bytes) -> bytes:
    """The message as DATA carries it (RFC 5321 §4.5.2), lines ending in CRLF."""
    data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", raw)
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def abandon(client: smtplib.SMTP) -> None:
    """End a connection another thread may still be using, without writing to it (a QUIT could
    land inside that thread's DATA): shutting the socket down wakes that thread with an error."""
    sock = client.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
    client.sock = None
    client.file = None


def cut(sock: socket.socket | None) -> None:
    """Wake a thread blocked reading or writing `sock` with an error, from another thread: a
    step that ran past its limit (mail_steps). The plain socket's shutdown, not TLS's, which
    would change the TLS state under the reading thread."""
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def cut_smtp(client: smtplib.SMTP) -> None:
    cut(client.sock)


def cut_imap(client: Any) -> None:
    """`client`: an IMAPClient."""
    cut(getattr(client._imap, "sock", None))
