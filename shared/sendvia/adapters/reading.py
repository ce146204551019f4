"""What the mailbox readers (ports.MailReader) have in common, unless they say otherwise: nothing
to open or close (an API over HTTP), and credentials that using them does not change."""

from __future__ import annotations

from typing import Self


class Reader:
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def rotated_secret(self) -> bytes | None:
        return None
