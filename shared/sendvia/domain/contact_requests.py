"""What the host product sends about its contacts (PUT /contacts/{id}, POST /contacts:batch),
validated at the boundary (pydantic). Kept apart from `domain.contacts`, which every function
loads through the ports, so that a function that never takes a contact does not load pydantic at
its cold start."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from sendvia.domain.contacts import CONTACT_ID, MAX_ADDRESSES, MAX_BATCH, normal_address
from sendvia.domain.message import check_header_value


def _name(value: str) -> str:
    check_header_value("name", value)
    return value.strip()


def _addresses(values: list[str]) -> list[str]:
    return list(dict.fromkeys(normal_address(v) for v in values))


Addresses = Annotated[
    list[Annotated[StrictStr, Field(max_length=320)]],
    Field(max_length=MAX_ADDRESSES),
    AfterValidator(_addresses),
]
Name = Annotated[StrictStr, Field(max_length=200), AfterValidator(_name)]


class ContactIn(BaseModel):
    """PUT /contacts/{contact_id}: the contact's name and every address the host knows."""

    model_config = ConfigDict(extra="forbid")

    name: Name = ""
    addresses: Addresses = Field(default_factory=list)


class BatchContact(ContactIn):
    id: Annotated[StrictStr, Field(pattern=CONTACT_ID)]


class ContactBatch(BaseModel):
    """POST /contacts:batch."""

    model_config = ConfigDict(extra="forbid")

    contacts: Annotated[list[BatchContact], Field(min_length=1, max_length=MAX_BATCH)]
