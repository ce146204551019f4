"""The storage ports: every method takes the tenant id (except the few that search across
tenants for the platform, named so), and raises nothing but what its docstring says; a store
that cannot be reached raises, and the request is a 5xx the caller retries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

from sendvia.domain import provider_events as pe
from sendvia.domain.delivery import Cancel, Claim, Delivery
from sendvia.domain.mailbox import MailboxRecord, MailboxSummary
from sendvia.domain.principal import Principal
from sendvia.domain.tenant import Tenant


class Store(Protocol):
    """Tenants' settings and who has used the product."""

    def get_tenant(self, tenant_id: str) -> Mapping[str, Any] | None: ...

    def save_tenant(self, tenant: Tenant) -> None: ...

    def record_member(self, principal: Principal, seen_at: str) -> None: ...

    def list_members(self, tenant_id: str) -> list[Mapping[str, Any]]: ...

    def get_mailboxes(
        self, tenant_id: str, mailbox_ids: list[str]
    ) -> dict[str, MailboxSummary]: ...


class Mailboxes(Protocol):
    """Mailbox documents: settings and state, with the name of their secret, never a
    credential. A write drops this instance's cached routes of the tenant."""

    def get(self, tenant_id: str, mailbox_id: str) -> MailboxRecord | None: ...

    def get_many(self, tenant_id: str, mailbox_ids: list[str]) -> dict[str, MailboxRecord]:
        """Several in one round trip; missing ones are left out."""
        ...

    def put(self, tenant_id: str, mailbox_id: str, data: Mapping[str, Any]) -> None: ...

    def update(self, tenant_id: str, mailbox_id: str, changes: Mapping[str, Any]) -> None: ...

    def delete(self, tenant_id: str, mailbox_id: str) -> None: ...

    def receiving(self) -> list[tuple[str, str]]:
        """(tenant, mailbox) of every active mailbox with receiving on, across tenants (the
        platform's sync fans out over them)."""
        ...

    def replace_secret(
        self, tenant_id: str, mailbox_id: str, old: str, new: str, now: dt.datetime
    ) -> bool:
        """Point the mailbox at credentials `new` (stored at `now`) if it still points at
        `old`; False, changing nothing, when another request replaced them first."""
        ...

    def spend_code_try(
        self, tenant_id: str, mailbox_id: str, max_tries: int
    ) -> Mapping[str, Any] | None:
        """Count one try at the mailbox's confirmation code, atomically (racing tries each
        count), unless `max_tries` were counted already; the pending confirmation as it was
        before this try (None when there is none)."""
        ...

    def mark_broken(
        self,
        tenant_id: str,
        mailbox_id: str,
        error: Mapping[str, Any],
        notification: Mapping[str, Any],
        now: dt.datetime,
        *,
        credentials: str | None,
    ) -> bool:
        """Turn the mailbox broken and add the notification, once per breakage, atomically.
        True when this call broke it; False when it was broken already (the error is updated)
        or no longer holds `credentials` (the secret version that failed)."""
        ...


class Notifications(Protocol):
    """In-app notifications, each for an audience: `admins` or `user:{uid}`."""

    def add(
        self,
        tenant_id: str,
        notice: Mapping[str, Any],
        now: dt.datetime,
        notice_id: str | None = None,
    ) -> None:
        """Add it; with `notice_id`, once: adding the same id again changes nothing (a retried
        failure tells nobody twice)."""
        ...

    def resolve(self, tenant_id: str, notification_id: str, now: dt.datetime) -> None:
        """Mark it resolved; a notification that is gone is fine."""
        ...

    def newest(
        self, tenant_id: str, audiences: list[str], limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest first, with `id`."""
        ...

    def get(self, tenant_id: str, notification_id: str) -> dict[str, Any] | None: ...

    def mark_read(self, tenant_id: str, notification_id: str, uid: str) -> None: ...


class OAuthStates(Protocol):
    """One-time sign-in states, by the hash of the state (platform-wide: the callback does not
    know the tenant until it has read the state)."""

    def create(self, state_hash: str, record: Mapping[str, Any]) -> None: ...

    def claim(self, state_hash: str, browser_hash: str, now: dt.datetime) -> dict[str, Any] | None:
        """Bind the state to the first browser that opens it; None if unknown, expired, or
        bound to another browser."""
        ...

    def consume(
        self, state_hash: str, now: dt.datetime, browser_hash: str
    ) -> dict[str, Any] | None:
        """Read and delete it at once: usable once, before it expires, by the browser it is
        bound to; None otherwise (and a foreign browser's try leaves it for the right one)."""
        ...


class Deliveries(Protocol):
    """The delivery log. State changes follow domain.delivery's rules."""

    def add(self, tenant_id: str, data: Mapping[str, Any]) -> str:
        """A new delivery with a fresh id (a test email's); the id."""
        ...

    def get(self, tenant_id: str, delivery_id: str) -> Delivery | None: ...

    def create(self, tenant_id: str, delivery_id: str, data: Mapping[str, Any]) -> str | None:
        """Create it unless it exists (an idempotent retry): its version, as text (a ticket
        `take_and_hand_over` and `finish_untaken` take, as they take `look`'s); None when it
        already existed."""
        ...

    def create_many(
        self, tenant_id: str, records: list[tuple[str, Mapping[str, Any]]]
    ) -> list[str | None]:
        """Create several; for each, its version as `create` gives it, or None when it
        already existed."""
        ...

    def claim(
        self, tenant_id: str, delivery_id: str, now: dt.datetime, lease: dt.timedelta
    ) -> tuple[Claim, Delivery | None]:
        """Take it for sending under a lease, for exactly one of racing callers (the delivery
        as claimed); DONE (with the delivery), BUSY or MISSING otherwise."""
        ...

    def update(
        self,
        tenant_id: str,
        delivery_id: str,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> None:
        """Change it; `attempt` is appended to its attempts log."""
        ...

    def look(
        self, tenant_id: str, delivery_id: str, now: dt.datetime, lease: dt.timedelta
    ) -> tuple[Claim, Delivery | None, Any]:
        """Read a delivery for an attempt without writing: CLAIMED with a ticket (the version
        read) when it may be sent, which `take_and_hand_over` or `finish_untaken` are then
        conditional on; CLAIMED without a ticket when an attempt died holding it (its lease
        passed): `claim` takes it over; else why not, as `claim` answers."""
        ...

    def take_and_hand_over(
        self,
        tenant_id: str,
        delivery_id: str,
        ticket: Any,
        attempt_number: int,
        *,
        lease_until: dt.datetime,
        to: Mapping[str, Any] | None = None,
    ) -> bool:
        """Claim and mark handed over in one write, if the delivery is still as `look` read it
        (`sending` under attempt `attempt_number`, its lease, the hand-over mark); False when
        another attempt changed it since: then this one must not send."""
        ...

    def finish_untaken(
        self,
        tenant_id: str,
        delivery_id: str,
        ticket: Any,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record what an attempt came to before it handed anything over (refused, deferred,
        failed), if the delivery is still as `look` read it."""
        ...

    def hand_over(
        self,
        tenant_id: str,
        delivery_id: str,
        attempt_number: int,
        to: Mapping[str, Any] | None = None,
    ) -> bool:
        """Mark that attempt `attempt_number` is handing the message to the provider (`to`:
        which mailbox, by which route, when — kept as `handed_to`), if that attempt still holds
        the delivery (`sending`, its number); False when it does not (its lease passed and
        another attempt claimed it): then it must not send."""
        ...

    def finish(
        self,
        tenant_id: str,
        delivery_id: str,
        attempt_number: int,
        changes: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record what attempt `attempt_number` came to (and clear its hand-over mark, unless
        `changes` keep it: an outcome still to be verified), if that attempt still holds the
        delivery; False, changing nothing, when another attempt claimed
        it since (an outcome can never overwrite a later attempt's)."""
        ...

    def page(
        self, tenant_id: str, filters: Mapping[str, str], page_size: int, after: str | None
    ) -> tuple[list[Delivery], str | None]:
        """Newest first, by equality filters, a page after the id `after`; and the next page's
        token (None on the last page)."""
        ...

    def due(
        self, until: dt.datetime, page_size: int, after: Any = None
    ) -> tuple[list[tuple[str, str, dt.datetime]], Any]:
        """(tenant, delivery, send_at) of scheduled deliveries due by `until`, across tenants,
        a page at a time, and the cursor of the next page (None on the last)."""
        ...

    def stranded(
        self,
        now: dt.datetime,
        older_than: dt.datetime,
        limit: int,
        overdue_before: dt.datetime | None = None,
    ) -> list[tuple[str, str, int]]:
        """(tenant, delivery, task generation) of deliveries nothing will run, across tenants:
        `queued` never dispatched (no attempt) since before `older_than` — its task was never
        created —; `queued` again and due (`due_at`) before `overdue_before` — its retries or
        its deferred task ran out without an attempt getting as far as writing —; and
        `sending` whose lease passed — its attempt died. At most `limit`."""
        ...

    def cancel(
        self, tenant_id: str, delivery_id: str, uid: str, is_admin: bool
    ) -> tuple[Cancel, Delivery | None]:
        """Cancel it if it is still cancellable and the caller's (or the caller is an admin):
        MISSING for another member's."""
        ...


class Recipients(Protocol):
    """Addresses' status with the email service, and its events."""

    def suppressed(self, tenant_id: str, addresses: list[str]) -> dict[str, pe.Recipient]:
        """The addresses among these that are suppressed or opted out of something."""
        ...

    def get(self, tenant_id: str, address: str) -> pe.Recipient: ...

    def find_delivery(
        self, message_id: str, tenant_id: str | None = None
    ) -> tuple[str, str] | None:
        """(tenant, delivery) of the email with our Message-ID: across tenants, or within
        `tenant_id`'s deliveries only (compared case-insensitively)."""
        ...

    def record(
        self, tenant_id: str, delivery_id: str | None, event: pe.ProviderEvent
    ) -> tuple[bool, bool, Delivery | None]:
        """Record one event with the address's status and the delivery's: (new,
        suppressed_now, the delivery as it was). A duplicate is not new and changes nothing."""
        ...

    def record_unmatched(self, event: pe.ProviderEvent) -> bool:
        """Keep an event nobody can place, once; False for a duplicate."""
        ...

    def change(
        self, tenant_id: str, address: str, change: Mapping[str, Any], now: dt.datetime
    ) -> pe.Recipient:
        """An admin's change of an address, in its history too."""
        ...
