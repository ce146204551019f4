"""An attempt's hold on its delivery: the hand-over mark before the provider is asked, and the
outcome after, each written only while the attempt holds the delivery (domain/delivery)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sendvia.domain.mailbox import MailboxRecord
from sendvia.domain.routing import Route
from sendvia.runtime import Runtime
from sendvia.services import routes


class Superseded(Exception):  # noqa: N818 - what an attempt learns
    """The attempt no longer holds its delivery (its lease passed and another attempt claimed
    it): it must neither send nor record anything."""


class Handover:
    """Marks the delivery as handed to the provider by this attempt, and records what the
    attempt came to, each only while the attempt holds the delivery.

    Claimed beforehand (a manual send, a takeover), the mark and the outcome are writes fenced
    by the attempt's number. With a `ticket` (the version `deliver` read), nothing was written
    yet: the mark claims the delivery in the same write, and an outcome reached before any
    hand-over is written on the condition that the delivery is still as read. Either way one
    write before the provider is asked, and one after."""

    def __init__(
        self, rt: Runtime, tenant_id: str, delivery_id: str, attempt: int, ticket: Any = None
    ) -> None:
        self._rt, self._tenant_id, self._delivery_id = rt, tenant_id, delivery_id
        self._attempt, self._ticket = attempt, ticket
        self._marked: tuple[str | None, str] | None = None

    @property
    def untaken(self) -> bool:
        """Nothing written yet: the delivery is as `deliver` read it."""
        return self._ticket is not None and self._marked is None

    def mark(self, route: Route, mailbox: MailboxRecord | None = None) -> None:
        """Mark it handed over through `route` (to `mailbox`, or the relay). A fallback to the
        relay after the mailbox refused marks it again: a search of the mailbox would not find
        what the relay took."""
        target = (mailbox.id if mailbox else None, route.via.value)
        if self._marked == target:
            return
        to = {
            "mailbox": mailbox.id if mailbox else None,
            "address": mailbox.address if mailbox else None,
            "route": route.to_json(),
            "at": self._rt.clock(),
        }
        deliveries = self._rt.deliveries
        if self.untaken:
            lease_until = self._rt.clock() + routes.lease_of(self._rt)
            held = deliveries.take_and_hand_over(
                self._tenant_id,
                self._delivery_id,
                self._ticket,
                self._attempt,
                lease_until=lease_until,
                to=to,
            )
        else:
            held = deliveries.hand_over(self._tenant_id, self._delivery_id, self._attempt, to)
        if not held:
            raise Superseded(self._delivery_id)
        self._marked = target

    def finish(
        self, changes: Mapping[str, Any], attempt_log: Mapping[str, Any] | None = None
    ) -> bool:
        """Record the outcome; False when another attempt holds the delivery now."""
        deliveries = self._rt.deliveries
        if self.untaken:
            counted = {**changes, "attempts": self._attempt}
            return deliveries.finish_untaken(
                self._tenant_id, self._delivery_id, self._ticket, counted, attempt_log
            )
        return deliveries.finish(
            self._tenant_id, self._delivery_id, self._attempt, changes, attempt_log
        )

    @property
    def delivery_id(self) -> str:
        return self._delivery_id

    @property
    def attempt(self) -> int:
        return self._attempt
