"""SMTP/IMAP mailbox settings as a person types them, made right or refused (naming the field).

Presets fill the provider's servers (Senta's: Gmail imap.gmail.com 993 TLS and smtp.gmail.com 587
STARTTLS; Office 365 smtp.office365.com 587 and outlook.office365.com 993). User names and hosts
are trimmed, because "any white spaces and typos will prevent you from sending" (docs/sources.md:
003); what cannot be right is refused. A password of exactly 14 dots is the masked one read back:
it means "keep the stored password".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from sendvia.domain.mailbox import PASSWORD_DOTS
from sendvia.domain.message import check_header_value

_HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}"
    r"[a-z0-9])?)*$"
)
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "gmail": {
        "smtp": {"host": "smtp.gmail.com", "port": 587, "security": "starttls"},
        "imap": {"host": "imap.gmail.com", "port": 993, "security": "tls"},
    },
    "office365": {
        "smtp": {"host": "smtp.office365.com", "port": 587, "security": "starttls"},
        "imap": {"host": "outlook.office365.com", "port": 993, "security": "tls"},
    },
}
_MICROSOFT_HOSTS = ("office365.com", "outlook.com", "microsoft.com")
BASIC_AUTH_WARNING = {
    "code": "basic_auth_retiring",
    "message": "Microsoft is retiring basic authentication (app passwords) for SMTP: it is off by "
    "default for existing tenants from the end of December 2026, and then this "
    "mailbox stops sending. Switch it to Sign in with Microsoft (OAuth): it keeps its "
    "address and settings.",
}


def _trimmed_host(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if any(c.isspace() for c in value):
        raise ValueError("must not contain spaces")
    if not _HOST.match(value):
        raise ValueError(f"{value!r} is not a server name such as smtp.example.com")
    return value


def _trimmed_username(value: str) -> str:
    value = value.strip()
    if any(c.isspace() for c in value):
        raise ValueError("must not contain spaces (check for a stray space in the middle)")
    if not value:
        raise ValueError("must not be empty")
    return value


def _address(value: str) -> str:
    value = value.strip()
    if not _ADDRESS.match(value):
        raise ValueError(f"{value!r} is not an email address")
    check_header_value("address", value)
    return value


def _display_name(value: str) -> str:
    value = value.strip()
    check_header_value("display_name", value)
    return value


Host = Annotated[StrictStr, Field(max_length=253), AfterValidator(_trimmed_host)]
Username = Annotated[StrictStr, Field(max_length=254), AfterValidator(_trimmed_username)]


class ServerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: Host | None = None
    port: Annotated[StrictInt, Field(ge=1, le=65535)] | None = None
    security: Literal["starttls", "tls"] | None = None
    username: Username | None = None
    password: Annotated[StrictStr, Field(min_length=1, max_length=256)] | None = None


class MailboxSettingsIn(BaseModel):
    """PUT /settings/mailboxes/{id} for an SMTP/IMAP mailbox."""

    model_config = ConfigDict(extra="forbid")

    preset: Literal["gmail", "office365", "custom"] = "custom"
    address: Annotated[StrictStr, Field(max_length=254), AfterValidator(_address)]
    display_name: Annotated[StrictStr, Field(max_length=100), AfterValidator(_display_name)] = ""
    smtp: ServerIn
    imap: ServerIn | None = None
    sent_folder: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    receive: StrictBool = False


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str
    username: str

    def to_doc(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "username": self.username,
        }


@dataclass(frozen=True)
class Resolved:
    """Settings with presets applied; a password None means none was typed (the 14 dots or
    nothing): keep the stored one, where that is allowed (services/smtp_mailboxes)."""

    address: str
    display_name: str
    smtp: Server
    imap: Server | None
    smtp_password: str | None
    imap_password: str | None
    sent_folder: str | None
    receive: bool
    warnings: tuple[dict[str, str], ...]


class SettingsError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def resolve(settings: MailboxSettingsIn) -> Resolved:
    """Apply the preset, default user names to the address, and check nothing is missing."""
    preset = PRESETS.get(settings.preset, {})
    smtp = _server("smtp", settings.smtp, preset.get("smtp", {}), settings.address)
    imap = None
    if settings.imap is not None or "imap" in preset:
        imap = _server(
            "imap", settings.imap or ServerIn(), preset.get("imap", {}), settings.address
        )
    smtp_password = _password(settings.smtp.password)
    imap_password = _password(settings.imap.password if settings.imap else None)
    microsoft = settings.preset == "office365" or smtp.host.endswith(_MICROSOFT_HOSTS)
    return Resolved(
        address=settings.address,
        display_name=settings.display_name,
        smtp=smtp,
        imap=imap,
        smtp_password=smtp_password,
        imap_password=imap_password,
        sent_folder=settings.sent_folder.strip() if settings.sent_folder else None,
        receive=settings.receive,
        warnings=(BASIC_AUTH_WARNING,) if microsoft else (),
    )


def _server(name: str, given: ServerIn, preset: dict[str, Any], address: str) -> Server:
    values = {**preset, **given.model_dump(exclude_none=True, exclude={"password"})}
    for key in ("host", "port", "security"):
        if key not in values:
            raise SettingsError(
                f"{name}.{key}",
                f"{name}.{key} is required (or choose a preset: gmail or office365).",
            )
    return Server(
        values["host"], values["port"], values["security"], values.get("username") or address
    )


def _password(value: str | None) -> str | None:
    """None for the masked dots (keep what is stored) or a missing password."""
    if value is None or value == PASSWORD_DOTS:
        return None
    return value


class ReceiveChange(BaseModel):
    """POST /settings/mailboxes/{id}:receive."""

    model_config = ConfigDict(extra="forbid")

    receive: StrictBool
