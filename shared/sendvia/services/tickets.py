"""Tasks that carry their delivery as `send` created it (domain/ticket.py, decision 0009):
`send`'s side and `deliver`'s (the key: adapters/ticket_key.py).

The key is optional. Unset, unreadable or rotated, tasks carry their ids only, or carry a seal
that no longer verifies, and `deliver` reads each delivery as it did before tickets: a sending
path never fails for want of the key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sendvia.domain import ticket
from sendvia.domain.delivery import Delivery

if TYPE_CHECKING:
    from sendvia.runtime import Runtime

log = logging.getLogger("sendvia.tickets")


def sealed(
    rt: Runtime, tenant_id: str, created: Mapping[str, tuple[str, Mapping[str, Any]]]
) -> dict[str, dict[str, str]]:
    """`send`'s side: for each delivery it has just created (id → its version and document),
    the seal its task carries; none without a key."""
    key = rt.ticket_key.get() if rt.ticket_key is not None and created else None
    if key is None:
        return {}
    seals = {}
    for delivery_id, (version, data) in created.items():
        seal = ticket.seal(key, tenant_id, delivery_id, version, data)
        if seal is not None:
            seals[delivery_id] = seal
    return seals


def opened(
    rt: Runtime, tenant_id: str, delivery_id: str, seal: Mapping[str, Any]
) -> tuple[Delivery, str] | None:
    """`deliver`'s side: the delivery as created and its version, when the seal verifies under
    this deployment's key; None otherwise (the delivery is read instead)."""
    key = rt.ticket_key.get() if rt.ticket_key is not None else None
    if key is None:
        return None
    found = ticket.unseal(key, tenant_id, delivery_id, seal)
    if found is None:
        log.warning("a task's ticket for delivery %s does not verify: read instead", delivery_id)
        return None
    version, data = found
    try:
        return Delivery.from_doc(delivery_id, data), version
    except (KeyError, ValueError, TypeError):  # sealed by this key, so written by us: unlikely
        return None
