"""A tenant's settings: the admin's switches, with defaults for a tenant nobody has set up yet.

`TenantPatch` is the only way in: strict types, no unknown fields, every error names its field.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
)

from sendvia.config import is_origin

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class MailboxPolicy(StrEnum):
    TENANT = "tenant"  # one mailbox for the whole tenant (WriteUpp, sBizzl)
    PER_USER = "per_user"  # each user connects their own (Senta)


class OnBroken(StrEnum):
    FAIL = "fail"  # the send fails with a clear error until someone re-authorizes
    DEFAULT = "default"  # fall back to the platform's sender


class Integrations(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gmail: StrictBool = False
    smtp_imap: StrictBool = False
    microsoft: StrictBool = False


def _product_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if _CONTROL.search(value) or "=?" in value:
        raise ValueError("must not contain control characters or encoded words")
    return value


def _origins(values: list[str]) -> list[str]:
    cleaned = [v.strip().rstrip("/") for v in values]
    for value in cleaned:
        if not is_origin(value):
            raise ValueError(
                f"{value!r} is not an origin: use scheme://host[:port], e.g. https://app.example.com"
            )
    return list(dict.fromkeys(cleaned))


ProductName = Annotated[StrictStr, Field(max_length=100), AfterValidator(_product_name)]
Origins = Annotated[list[StrictStr], Field(max_length=20), AfterValidator(_origins)]


class Tenant(BaseModel):
    """The stored settings of a tenant (`tenants/{id}`), as the API shows them."""

    model_config = ConfigDict(extra="ignore")

    id: str
    product_name: str
    integrations: Integrations = Field(default_factory=Integrations)
    mailbox_policy: MailboxPolicy = MailboxPolicy.TENANT
    on_broken: OnBroken = OnBroken.FAIL
    members_may_send: bool = True
    return_origins: list[str] = Field(default_factory=list)

    @classmethod
    def defaults(cls, tenant_id: str, product_name: str) -> Tenant:
        """What a tenant with no document gets: everything off, the platform sender in use."""
        return cls(id=tenant_id, product_name=product_name)


class IntegrationsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gmail: StrictBool | None = None
    smtp_imap: StrictBool | None = None
    microsoft: StrictBool | None = None


class TenantPatch(BaseModel):
    """A PATCH of the tenant settings: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    product_name: ProductName | None = None
    integrations: IntegrationsPatch | None = None
    mailbox_policy: MailboxPolicy | None = None
    on_broken: OnBroken | None = None
    members_may_send: StrictBool | None = None
    return_origins: Origins | None = None

    def apply(self, tenant: Tenant) -> Tenant:
        changes = self.model_dump(exclude_none=True)
        integrations = changes.pop("integrations", None)
        updated = tenant.model_copy(update=changes)
        if integrations:
            updated.integrations = tenant.integrations.model_copy(update=integrations)
        return updated
