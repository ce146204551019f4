"""Which addresses a tenant's mail server may resolve to (no SSRF into the platform's network), and
what counts as a web origin (CORS, the allowed return_to addresses).

A tenant types any host name into its SMTP/IMAP settings, and the functions connect to it from
inside the platform's network. So a host that resolves to loopback, a private range, link-local
(including the metadata server at 169.254.169.254), a unique-local IPv6 range, or anything not
globally routable is refused. The local stack allows loopback, where its mail servers live.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

# Cloud metadata endpoints (GCE's and the IPv6 one some clouds use).
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# In order: the first that matches names the refusal.
_REFUSALS: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("metadata server", lambda a: a in _METADATA),
    ("link-local", lambda a: a.is_link_local),
    ("private network", lambda a: a.is_private),
    ("reserved", lambda a: a.is_multicast or a.is_unspecified or a.is_reserved),
    ("not globally routable", lambda a: not a.is_global),
)


def refusal(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why a connection to `address` is refused, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    return next((reason for reason, applies in _REFUSALS if applies(address)), None)


def is_origin(value: str) -> bool:
    """`https://host[:port]` (http only for localhost), with no path, query or credentials."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return False
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return False
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1"):
        return False
    return port is None or 0 < port < 65536
