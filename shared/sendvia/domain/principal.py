"""Who is calling: a verified user of one tenant."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def valid_id(value: str) -> bool:
    """A tenant id or uid that is one plain path segment (documents, secrets, task names)."""
    return bool(_ID.match(value))


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    uid: str
    email: str
    role: Role
    name: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def own_mailbox_id(self) -> str:
        return f"user-{self.uid}"
