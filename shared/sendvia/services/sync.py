"""Syncing receiving mailboxes (DESIGN §8; docs/receiving.md).

Cloud Scheduler calls `sync` every 10 minutes: `fan_out` gives each receiving mailbox a task
named for the window, so a second call in the same window adds nothing. Each task runs
`sync_mailbox` for one mailbox, holding its sync state's lease (two syncs of one mailbox never
run at once) within a time budget: first what arrived since the cursor, then the backfill of
earlier mail with the tenant's contacts, a page at a time, saving the cursor after every page so
that a killed sync resumes where it stopped. What the budget did not reach gets a task of its
own right away.

A provider's refusal of the credentials breaks the mailbox once, as at send time; a quota or a
transient failure leaves the mailbox `behind` (or `failing` with the cause, after the first
failure in a row), to be resumed by the next task.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sendvia.domain.contacts import added_mark
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import MailboxRecord, MailboxState, as_json
from sendvia.errors import Unavailable
from sendvia.ports import SecretUnavailable
from sendvia.ports.receiving import Listing, MailReader
from sendvia.runtime import Runtime
from sendvia.services import intake, mailboxes
from sendvia.services.settings import load_tenant

log = logging.getLogger("sendvia.sync")

PAGE = 100  # messages listed per call
GROUP = 25  # contact addresses per backfill search (IMAP's OR tree, Gmail's q=)
LEASE_MARGIN = dt.timedelta(seconds=60)


@dataclass
class Run:
    """What one sync of one mailbox did, as `sync` answers it (and logs it)."""

    mailbox: str
    taken: intake.Taken = field(default_factory=intake.Taken)
    backfilled: int = 0
    restarted: list[str] = field(default_factory=list)
    more: bool = False
    state: str = "ok"
    cause: str | None = None
    resume_after_s: float | None = None  # the provider asked for a pause this long

    def to_json(self) -> dict[str, Any]:
        return {
            "mailbox": self.mailbox,
            "listed": self.taken.listed,
            "fetched": self.taken.fetched,
            "stored": self.taken.stored,
            "reports": self.taken.reports,
            "backfilled": self.backfilled,
            "restarted": self.restarted,
            "more": self.more,
            "resume_after_s": self.resume_after_s,
            "unreadable": self.taken.unreadable,
            "state": self.state,
            "cause": self.cause,
        }


def fan_out(rt: Runtime) -> dict[str, Any]:
    queue, settings = rt.queue, rt.settings.sync
    if queue is None or settings is None:
        raise Unavailable(
            "Mailbox sync is not configured.",
            code="no_sync",
            hint="Set SENDVIA_SYNC_URL (and SENDVIA_DELIVER_URL for its queue).",
        )
    window = int(rt.clock().timestamp() // settings.interval_s)
    created = [
        queue.enqueue_sync(tenant_id, mailbox_id, f"w{window}")
        for tenant_id, mailbox_id in rt.mailboxes.receiving()
    ]
    return {"enqueued": sum(created), "already_queued": len(created) - sum(created)}


def identity_of(mailbox: MailboxRecord) -> str:
    """What the cursors are cursors of: the provider, the account (its immutable id where the
    provider has one) and, for IMAP, the server and user."""
    account = str(mailbox.raw.get("account_id") or mailbox.address).lower()
    server = (
        f"{mailbox.imap.host}:{mailbox.imap.port}/{mailbox.imap.username}" if mailbox.imap else ""
    )
    return f"{mailbox.provider.value}|{account}|{server.lower()}"


def sync_mailbox(rt: Runtime, tenant_id: str, mailbox_id: str) -> dict[str, Any]:
    run = Run(mailbox_id)
    mailbox = rt.mailboxes.get(tenant_id, mailbox_id)
    if mailbox is None or not mailbox.receive or mailbox.state is not MailboxState.ACTIVE:
        run.state = "not_receiving"
        return run.to_json()
    settings = rt.settings.sync
    budget_s = settings.budget_s if settings else 60.0
    holder = uuid.uuid4().hex
    now = rt.clock()
    state = rt.sync_states.take(
        tenant_id, mailbox_id, holder, now, now + dt.timedelta(seconds=budget_s) + LEASE_MARGIN
    )
    taken_at = rt.clock()
    if state is None:
        run.state = "busy"  # another sync of this mailbox holds it: this task has nothing to do
        return run.to_json()
    deadline = time.monotonic() + budget_s
    changes: dict[str, Any] = {}
    if state.get("identity") != identity_of(mailbox):
        # Another account or server behind the same mailbox id (reconnected, re-aimed): its
        # cursors mean nothing here; it starts, and backfills, afresh.
        state = {"identity": identity_of(mailbox)}
        fresh = {"identity": state["identity"], "cursor": None, "backfill": None}
        rt.sync_states.save(tenant_id, mailbox_id, holder, fresh)
    try:
        provider = rt.providers.get(mailbox.provider)
        if provider is None:
            raise ProviderFailure(
                FailureKind.PERMANENT, "provider_off", "This deployment does not offer it."
            )
        with provider.reader(mailbox) as reader:
            session = _Session(rt, mailbox, reader, state, holder, deadline, run)
            try:
                lost = session.incremental() or session.backfill()
            finally:
                rotated = reader.rotated_secret()
                if rotated is not None:
                    mailboxes.store_rotated(rt, mailbox, rotated)
        if lost:
            run.state = "lost_lease"
            return run.to_json()
        run.state = "behind" if run.more else "ok"
        changes = {"status": run.state, "cause": None, "failures": 0, "last_synced_at": now}
    except (ProviderFailure, SecretUnavailable) as exc:
        failure = (
            exc
            if isinstance(exc, ProviderFailure)
            else ProviderFailure(FailureKind.TRANSIENT, "secret_unavailable", str(exc))
        )
        changes = _failed(rt, mailbox, failure, state, run)
    finally:
        changes["lease_until"] = rt.clock()  # released
        changes["last_run"] = {
            **run.to_json(),
            "id": holder,
            "started_at": taken_at,  # when it took the lease
            "finished_at": rt.clock(),  # just before it gives it back
        }
        rt.sync_states.save(tenant_id, mailbox_id, holder, changes)
    if run.more and rt.queue is not None:
        at = (
            rt.clock() + dt.timedelta(seconds=run.resume_after_s)
            if run.resume_after_s is not None
            else None
        )
        rt.queue.enqueue_sync(tenant_id, mailbox_id, f"more-{holder}", at)
    fields = {
        "event": "mailbox_synced",
        "tenant_id": tenant_id,
        "mailbox": mailbox_id,
        **changes["last_run"],
    }
    log.info("synced mailbox %s: %s", mailbox_id, run.state, extra={"fields": as_json(fields)})
    return run.to_json()


@dataclass
class _Session:
    """One sync of one mailbox, holding its lease until `deadline` (time.monotonic)."""

    rt: Runtime
    mailbox: MailboxRecord
    reader: MailReader
    state: dict[str, Any]
    holder: str
    deadline: float
    run: Run

    def _save(self, changes: dict[str, Any]) -> bool:
        return self.rt.sync_states.save(
            self.mailbox.tenant_id, self.mailbox.id, self.holder, changes
        )

    def _paused(self, listing: Listing) -> bool:
        """The provider's quota share is spent: stop, and go on in a task after the pause."""
        if listing.pause_s is None:
            return False
        self.run.more = True
        self.run.resume_after_s = listing.pause_s
        return True

    def incremental(self) -> bool:
        """What arrived since the cursor; True when the lease was lost (stop at once)."""
        cursor = self.state.get("cursor")
        while True:
            listing = self.reader.changes(cursor, PAGE)
            self.run.taken.add(intake.take_in(self.rt, self.mailbox, self.reader, listing.items))
            self.run.restarted += listing.restarted
            cursor = self.state["cursor"] = listing.cursor
            if not self._save({"cursor": cursor}):
                return True
            if not listing.more or self._paused(listing):
                return False
            if time.monotonic() >= self.deadline:
                self.run.more = True
                return False

    def backfill(self) -> bool:
        """Earlier mail with the tenant's contacts, a group of addresses at a time, newest
        first; True when the lease was lost. Addresses are walked in the order they joined the
        index, so a contact added after the backfill finished starts a backfill of its own."""
        if self.run.resume_after_s is not None:
            return False  # the provider asked for a pause
        backfill = self._round()
        if backfill is None:
            return False
        while backfill["state"] == "running":
            if time.monotonic() >= self.deadline:
                self.run.more = True
                break
            if not self._group(backfill):
                break
            listing = self.reader.search(
                backfill["group"], backfill.get("since"), backfill.get("cursor"), PAGE
            )
            if self._paused(listing):
                break  # nothing was read: the cursor stays
            if listing.capped and len(backfill["group"]) > 1:
                # The provider answers this search only so far: halves, each searched anew.
                half = len(backfill["group"]) // 2
                halves = [backfill["group"][:half], backfill["group"][half:]]
                backfill.update(group=None, pending=[*halves, *(backfill.get("pending") or [])])
                continue
            self._take(backfill, listing)
            self.state["backfill"] = backfill
            if not self._save({"backfill": backfill}):
                return True
        self.state["backfill"] = backfill
        return not self._save({"backfill": backfill})

    def _round(self) -> dict[str, Any] | None:
        """The backfill to go on with: a first one, the one running, or a round for addresses
        that joined since the last finished; None when there is nothing to do."""
        rt, tenant_id = self.rt, self.mailbox.tenant_id
        now = rt.clock()
        backfill = dict(self.state.get("backfill") or {})
        # Addresses that joined the index a moment ago may belong to a request still
        # committing others with earlier marks: they wait for the next round.
        settle = rt.settings.sync.settle_s if rt.settings.sync else 0.0
        through = added_mark(now - dt.timedelta(seconds=settle))
        if not backfill:
            days = load_tenant(rt, tenant_id).backfill_days
            return {
                "state": "running",
                "done": 0,
                "estimated_total": 0,
                "since": now - dt.timedelta(days=days) if days else None,
                "started_at": now,
                "after": None,
                "through": through,
            }
        if backfill.get("state") == "done":
            if not rt.contacts.addresses_added(tenant_id, backfill["through"], through, 1):
                return None
            backfill.update(state="running", after=backfill["through"], through=through)
        return backfill

    def _group(self, backfill: dict[str, Any]) -> bool:
        """The group of addresses to search next (False: none left, the backfill is done)."""
        if backfill.get("group"):
            return True
        if backfill.get("pending"):
            backfill.update(group=backfill["pending"][0], pending=backfill["pending"][1:])
            return True
        group = self.rt.contacts.addresses_added(
            self.mailbox.tenant_id, backfill["after"], backfill["through"], GROUP
        )
        if not group:
            backfill.update(state="done", finished_at=self.rt.clock(), group=None, cursor=None)
            return False
        backfill.update(group=[a for a, _ in group], group_end=group[-1][1], cursor=None)
        return True

    def _take(self, backfill: dict[str, Any], listing: Listing) -> None:
        if backfill.get("cursor") is None:
            backfill["estimated_total"] += listing.total or 0
        taken = intake.take_in(self.rt, self.mailbox, self.reader, listing.items)
        self.run.taken.add(taken)
        self.run.backfilled += taken.stored
        backfill["done"] += taken.stored
        # A search that could not count ahead (Graph's) gives a floor: never below done.
        backfill["estimated_total"] = max(backfill["estimated_total"], backfill["done"])
        backfill["cursor"] = listing.cursor
        if not listing.more:
            backfill.update(group=None, cursor=None)
            if not backfill.get("pending"):
                backfill["after"] = backfill["group_end"]


def _failed(
    rt: Runtime,
    mailbox: MailboxRecord,
    failure: ProviderFailure,
    state: dict[str, Any],
    run: Run,
) -> dict[str, Any]:
    """A sync that failed: auth breaks the mailbox once (as at send time); a quota leaves it
    behind, going on in a task after the provider's Retry-After; anything else leaves it
    behind, and `failing` with its cause once it failed twice in a row."""
    failures = int(state.get("failures") or 0) + 1
    run.cause = failure.code
    if failure.kind is FailureKind.AUTH:
        mailboxes.mark_broken(rt, mailbox, failure)
        run.state = "failing"
    elif failure.kind is FailureKind.QUOTA:
        # Deferred, not failing: the sync goes on when the provider says it may.
        run.state, run.more = "behind", True
        run.resume_after_s = float(failure.retry_after_s or 60)
    else:
        run.state = "failing" if failures > 1 or failure.kind is FailureKind.PERMANENT else "behind"
    log.warning("sync of mailbox %s failed: %s", mailbox.id, failure.code)
    return {
        "status": run.state,
        "cause": {"code": failure.code, "message": failure.reply[:300]},
        "failures": failures,
    }
