"""Who is calling: a verified user of one tenant."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
