"""Reading a Gmail mailbox for sync (ports.MailReader), as Google's sync guide describes it
(developers.google.com/gmail/api/guides/sync).

- Changes: `users.history.list` of `messageAdded` from the stored history id (2 units a page of
  up to 500), keeping what was added to INBOX or SENT; the start of receiving is the profile's
  history id (1 unit). A history id Gmail no longer keeps answers 404: the Inbox and Sent are then
  listed (`messages.list`, 5 units a page) from a day before the last good sync, with the new
  history id taken first, so nothing is lost in between and what was seen before is stored once
  (by its Message-ID).
- Each new message's headers first (`messages.get` metadata, 5 units), the whole message only
  for those the service keeps (`format=raw`, 5 units).
- Backfill: `messages.list` with `q={from:a to:a cc:a …}` per group of contact addresses (and
  `after:` for a tenant's limit in days): only contacts' mail is ever listed, and every listed
  message is fetched whole at once.
- Quota: Gmail allows 15,000 units per user per minute. The reader spends at most BUDGET_UNITS in
  any minute of its own and, past them, stops with `more` (the sync continues in its next task);
  a 429 from Gmail is a quota failure (the sync is `behind`, resumed later).
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from email import message_from_bytes, policy
from typing import Any

from sendvia.adapters.gmail import Gmail
from sendvia.adapters.reading import Reader
from sendvia.domain.failures import ProviderFailure
from sendvia.ports.receiving import Listed, Listing

UNITS = {"profile": 1, "history": 2, "list": 5, "get": 5}
BUDGET_UNITS = 12_000  # of Gmail's 15,000 per user per minute: room for sending
RELIST_MARGIN_S = 86_400
HEADERS = [
    "From",
    "To",
    "Cc",
    "Message-ID",
    "Content-Type",
    "Auto-Submitted",
    "Return-Path",
    "X-Failed-Recipients",
]
FOLDERS = {"INBOX": "inbox", "SENT": "sent"}


class OverBudget(Exception):  # noqa: N818 - a pause, not a failure
    """This minute's units are spent: stop here, resume in a task after `wait_s`."""

    def __init__(self, wait_s: float) -> None:
        super().__init__("over budget")
        self.wait_s = wait_s


class GmailReader(Reader):
    def __init__(self, gmail: Gmail, key: str, credentials: Any) -> None:
        self._gmail = gmail
        self._key = key
        self._credentials = credentials
        self._spent: collections.deque[tuple[float, int]] = collections.deque()
        self.units = 0

    def _call(
        self, kind: str, request: Callable[[Any], Any], reserve: int = 0, *, enforce: bool = True
    ) -> dict[str, Any]:
        """One call, within this minute's budget (keeping `reserve` units for what it leads to:
        a listed message's fetch); OverBudget instead of a call past it."""
        now = time.monotonic()
        while self._spent and self._spent[0][0] < now - 60:
            self._spent.popleft()
        if enforce and sum(u for _, u in self._spent) + UNITS[kind] + reserve > BUDGET_UNITS:
            oldest = self._spent[0][0] if self._spent else now
            raise OverBudget(max(1.0, oldest + 60 - now))
        self._spent.append((now, UNITS[kind]))
        self.units += UNITS[kind]
        return self._gmail.read(self._key, self._credentials, request)

    # -- changes ----------------------------------------------------------------------------

    def changes(self, cursor: Mapping[str, Any] | None, limit: int) -> Listing:
        started = self.units
        state = dict(cursor or {})
        listing = Listing(items=[], cursor=state, more=False)
        try:
            if not state.get("history_id"):
                profile = self._call("profile", lambda u: u.getProfile(userId="me"))
                state.update(history_id=profile["historyId"], good_at=time.time())
            elif state.get("relist"):
                self._relist(state, listing, limit)
            else:
                self._history(state, listing, limit)
        except OverBudget as pause:
            listing.more, listing.pause_s = True, pause.wait_s
        listing.units = self.units - started
        return listing

    def _history(self, state: dict[str, Any], listing: Listing, limit: int) -> None:
        try:
            page = self._call(
                "history",
                lambda u: u.history().list(
                    userId="me",
                    startHistoryId=state["history_id"],
                    historyTypes="messageAdded",
                    maxResults=min(limit, 500),
                    **({"pageToken": state["page"]} if state.get("page") else {}),
                ),
            )
        except ProviderFailure as failure:
            if failure.code not in ("notFound", "http_404"):
                raise
            # Too old: list Inbox and Sent since a day before the last good sync instead.
            profile = self._call("profile", lambda u: u.getProfile(userId="me"))
            after = int(float(state.get("good_at") or time.time()) - RELIST_MARGIN_S)
            state.update(relist={"after": after, "page": None}, next_id=profile["historyId"])
            state.pop("page", None)
            listing.restarted += ["inbox", "sent"]
            self._relist(state, listing, limit)
            return
        added = [
            m["message"]
            for record in page.get("history", [])
            for m in record.get("messagesAdded", [])
        ]
        wanted = [(m["id"], _folder(m.get("labelIds", []))) for m in added]
        listing.items += self._headers([(i, f) for i, f in wanted if f is not None])
        if page.get("nextPageToken"):
            state["page"] = page["nextPageToken"]
            listing.more = True
        else:
            state.pop("page", None)
            state.update(history_id=page["historyId"], good_at=time.time())

    def _relist(self, state: dict[str, Any], listing: Listing, limit: int) -> None:
        relist = dict(state["relist"])
        page = self._call(
            "list",
            lambda u: u.messages().list(
                userId="me",
                q=f"{{in:inbox in:sent}} after:{relist['after']}",
                maxResults=min(limit, 500),
                **({"pageToken": relist["page"]} if relist.get("page") else {}),
            ),
        )
        found: list[tuple[str, str | None]] = [(m["id"], None) for m in page.get("messages", [])]
        listing.items += self._headers(found)
        if page.get("nextPageToken"):
            state["relist"] = {**relist, "page": page["nextPageToken"]}
            listing.more = True
        else:
            state.pop("relist", None)
            state.update(history_id=state.pop("next_id"), good_at=time.time())

    def _headers(self, wanted: Sequence[tuple[str, str | None]]) -> list[Listed]:
        listed = []
        for gmail_id, folder in wanted:
            try:
                found = self._call(
                    "get",
                    _get(gmail_id, format="metadata", metadataHeaders=HEADERS),
                    reserve=UNITS["get"],  # its fetch, should it concern a contact
                )
            except ProviderFailure as failure:
                if failure.code in ("notFound", "http_404"):
                    continue  # deleted since it was added
                raise
            lines = "".join(
                f"{h['name']}: {h['value']}\r\n"
                for h in found.get("payload", {}).get("headers", [])
            )
            headers = message_from_bytes(lines.encode() + b"\r\n", policy=policy.compat32)
            place = folder or _folder(found.get("labelIds", []))
            if place is not None:
                listed.append(Listed(gmail_id, place, headers))
        return listed

    # -- backfill ---------------------------------------------------------------------------

    def search(
        self,
        addresses: list[str],
        since: dt.datetime | None,
        cursor: Mapping[str, Any] | None,
        limit: int,
    ) -> Listing:
        started = self.units
        who = " ".join(f"{field}:{a}" for a in addresses for field in ("from", "to", "cc"))
        query = f"{{{who}}} -in:drafts" + (f" after:{int(since.timestamp())}" if since else "")
        state = dict(cursor or {})
        listing = Listing(items=[], cursor=state, more=False)
        try:
            page = self._call(
                "list",
                lambda u: u.messages().list(
                    userId="me",
                    q=query,
                    maxResults=min(limit, 500),
                    **({"pageToken": state["page"]} if state.get("page") else {}),
                ),
                reserve=UNITS["get"] * min(limit, 500),  # the page's fetches
            )
        except OverBudget as pause:
            listing.more, listing.pause_s = True, pause.wait_s
            return listing
        state.setdefault("total", int(page.get("resultSizeEstimate", 0)))
        listing.total = state["total"]
        # Every one concerns a contact: no headers first, the whole message at once.
        listing.items = [Listed(m["id"], "inbox", None) for m in page.get("messages", [])]
        state["page"] = page.get("nextPageToken")
        listing.more = bool(state["page"])
        listing.units = self.units - started
        return listing

    def fetch(self, items: list[Listed]) -> list[tuple[Listed, bytes]]:
        """Reserved when they were listed: never stopped by this reader's budget (a 429 from
        Gmail still fails the page, whose cursor is then not saved)."""
        found = []
        for item in items:
            try:
                message = self._call(
                    "get",
                    _get(item.key, format="raw"),
                    enforce=False,
                )
            except ProviderFailure as failure:
                if failure.code in ("notFound", "http_404"):
                    continue
                raise
            found.append((item, base64.urlsafe_b64decode(message["raw"] + "==")))
        return found


def _get(message_id: str, **params: Any) -> Callable[[Any], Any]:
    return lambda users: users.messages().get(userId="me", id=message_id, **params)


def _folder(labels: list[str]) -> str | None:
    for label, folder in FOLDERS.items():
        if label in labels:
            return folder
    return None
