"""A change to a tenant's settings, validated at the boundary (imported only when one arrives).

Strict types, no unknown fields; every problem becomes a 400 naming its field
(`sendvia.validation`).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)

from sendvia.domain.network import is_origin
from sendvia.domain.tenant import MailboxPolicy, OnBroken, Tenant, Visibility

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
    correspondence: Visibility | None = None
    backfill_days: Annotated[StrictInt, Field(ge=0, le=3650)] | None = None

    def apply(self, tenant: Tenant) -> Tenant:
        changes = self.model_dump(exclude_none=True)
        if "integrations" in changes:
            changes["integrations"] = dataclasses.replace(
                tenant.integrations, **changes["integrations"]
            )
        if "return_origins" in changes:
            changes["return_origins"] = tuple(changes["return_origins"])
        return tenant.replace(**changes)
