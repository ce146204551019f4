"""Contacts: who the host product's clients are, so that mail with them can be placed on their
page (DESIGN §8). The host product tells sendvia (`activity`'s contacts routes), and an email sent
with a `contact_id` teaches that contact its recipients' addresses.

An address belongs to at most one contact of a tenant. What the host product says wins over what
a delivery taught: an address the host gives one contact is taken from the contact a delivery
taught it to; an address the host gave another contact is a conflict (409, nothing changed).
Addresses are compared lower-cased; nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from enum import StrEnum

from sendvia.domain.message import check_header_value

MAX_ADDRESSES = 20  # per contact, as the host gives them
MAX_BATCH = 500
CONTACT_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:]+$")


class Source(StrEnum):
    HOST = "host"  # the host product said so (PUT, batch)
    DELIVERY = "delivery"  # an email sent with the contact's id went to it


def normal_address(value: str) -> str:
    """A bare address, lower-cased; ValueError naming what is wrong."""
    check_header_value("address", value)
    _, address = parseaddr(value)
    address = address.strip().lower()
    if not _ADDRESS.match(address) or len(address) > 320:
        raise ValueError(f"{value!r} is not an email address")
    return address


def added_mark(at: dt.datetime, address: str = "") -> str:
    """When an address joined the tenant's index, as text that sorts in time order (ties broken
    by the address's digest): a backfill walks addresses by it, and resumes after one."""
    stamp = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    digest = hashlib.sha256(address.lower().encode()).hexdigest()[:16] if address else "~"
    return f"{stamp}|{digest}"


def valid_contact_id(value: str) -> bool:
    return bool(re.match(CONTACT_ID, value))


@dataclass(frozen=True)
class Contact:
    id: str
    name: str = ""
    addresses: tuple[str, ...] = ()  # given by the host
    learned: tuple[str, ...] = ()  # taught by deliveries
    updated_at: str | None = None

    @property
    def every_address(self) -> tuple[str, ...]:
        return (*self.addresses, *self.learned)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "addresses": list(self.addresses),
            "learned_addresses": list(self.learned),
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Owner:
    """Who an address belongs to, as the tenant's index of addresses says."""

    contact_id: str
    source: Source


class AddressTaken(Exception):  # noqa: N818 - a refusal, carried to the API as a 409
    """The host gave another contact this address."""

    def __init__(self, address: str, index: int, owner: str) -> None:
        super().__init__(address)
        self.address, self.index, self.owner = address, index, owner


@dataclass
class Claims:
    """What putting a contact does to the index: addresses it takes (from nobody, or from a
    contact a delivery taught them to), and the ones it gives up."""

    take: list[str] = field(default_factory=list)
    release: list[str] = field(default_factory=list)


def claims(
    contact_id: str, wanted: list[str], owners: dict[str, Owner], held: dict[str, Source]
) -> Claims:
    """The index changes for giving `contact_id` exactly the host addresses `wanted`, given the
    current owners of those addresses and the addresses the contact holds now (`held`). Raises
    AddressTaken for an address the host gave another contact. Learned addresses the host does
    not list are kept: a reply from a client's old address still belongs on the client's page."""
    result = Claims()
    for index, address in enumerate(wanted):
        owner = owners.get(address)
        if owner is None or owner.contact_id != contact_id or owner.source is not Source.HOST:
            if owner and owner.contact_id != contact_id and owner.source is Source.HOST:
                raise AddressTaken(address, index, owner.contact_id)
            result.take.append(address)
    result.release = [a for a, s in held.items() if s is Source.HOST and a not in wanted]
    return result
