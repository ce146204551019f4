"""The credentials of an SMTP/IMAP mailbox as one Secret Manager value: the SMTP and the IMAP
(app) password, usually the same. Only the settings service (which keeps a stored password when
the form sends back the 14 dots) and the SMTP provider read or write it, through this one format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class SmtpPasswords:
    smtp: str
    imap: str  # the same app password, unless the person gave IMAP its own

    def encode(self) -> bytes:
        return json.dumps({"smtp": self.smtp, "imap": self.imap}).encode()

    @classmethod
    def decode(cls, value: bytes) -> SmtpPasswords:
        stored = json.loads(value)
        return cls(smtp=str(stored["smtp"]), imap=str(stored.get("imap") or stored["smtp"]))

    def __repr__(self) -> str:  # never in a log line or a traceback
        return "SmtpPasswords(…)"
