"""How to connect an address (`GET /settings/discover`): the rules of domain/discovery, with
one MX lookup when the domain is not a well-known one."""

from __future__ import annotations

from sendvia.domain import discovery
from sendvia.errors import BadRequest
from sendvia.runtime import Runtime


def discover(rt: Runtime, address: str) -> discovery.Discovery:
    domain = discovery.domain_of(address)
    if domain is None:
        raise BadRequest(
            f"{address!r} is not an email address.",
            field="address",
            hint="Send the address to connect, e.g. ?address=reception@clinic.example",
        )
    known = discovery.without_lookup(domain)
    if known is not None:
        return known
    hosts = rt.mx.lookup(domain) if rt.mx is not None else None
    return discovery.from_mx(hosts)
