"""Reading a Microsoft 365 / Outlook.com mailbox for sync (ports.MailReader), with Graph's delta
queries (learn.microsoft.com/graph/delta-query-messages).

- Changes: one delta per folder (Inbox, Sent Items), following `@odata.nextLink` to
  `@odata.deltaLink`, whose URL is the folder's cursor. The start of receiving is a delta with
  `$filter=receivedDateTime ge <now>` (nothing to page through, a delta link at the present).
  Graph may send empty pages and the same message twice: both are harmless (stored once, by its
  Message-ID). A delta token Graph no longer honours (410, `syncStateNotFound`,
  `resyncRequired`) restarts the folder from a day before its last good round.
- The delta's own fields (from, to, cc, internetMessageId, subject) stand for the headers, so
  deciding what to fetch costs nothing more; the MIME (`$value`) is read only for contacts' mail
  and possible reports.
- Backfill: `/me/messages?$search="participants:a OR …"` (with `received>=` for a tenant's limit
  in days), every folder, paged by `@odata.nextLink`.
- Limits: Graph allows 4 concurrent requests per mailbox (the Graph adapter keeps to them) and
  10,000 requests per 10 minutes; a 429 is a quota failure with its Retry-After (the sync is
  `behind`, resumed later).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from email.message import Message
from email.utils import formataddr
from typing import Any

from sendvia.adapters.graph import Graph
from sendvia.adapters.microsoft_oauth import MicrosoftCredentials
from sendvia.adapters.reading import Reader
from sendvia.domain.failures import ProviderFailure
from sendvia.ports.receiving import Listed, Listing

FOLDERS = {"inbox": "inbox", "sent": "sentitems"}
SELECT = "id,internetMessageId,subject,from,toRecipients,ccRecipients,receivedDateTime"
RESTART_MARGIN_S = 86_400
SEARCH_CAP = 1000  # Graph's $search answers at most this many messages
_GONE = {"syncStateNotFound", "SyncStateNotFound", "resyncRequired", "http_410"}


class GraphReader(Reader):
    def __init__(self, graph: Graph, key: str, credentials: MicrosoftCredentials) -> None:
        self._graph = graph
        self._key = key
        self._credentials = credentials

    def _delta_from(self, folder: str, since: float) -> tuple[str, dict[str, str]]:
        stamp = dt.datetime.fromtimestamp(since, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        url = f"/v1.0/me/mailFolders/{FOLDERS[folder]}/messages/delta"
        return url, {"$select": SELECT, "$filter": f"receivedDateTime ge {stamp}"}

    def changes(self, cursor: Mapping[str, Any] | None, limit: int) -> Listing:
        folders = {k: dict(v) for k, v in (cursor or {}).get("folders", {}).items()}
        listing = Listing(items=[], cursor={"folders": folders}, more=False)
        for folder in FOLDERS:
            if len(listing.items) >= limit:
                listing.more = True  # this folder waits, its cursor as it was
                continue
            state = dict(folders.get(folder) or {})
            params: dict[str, str]
            if state.get("next") or state.get("delta"):
                url, params = state.get("next") or state["delta"], {}
            else:  # a folder not started: at the present (earlier mail is the backfill's)
                started = time.time()
                url, params = self._delta_from(folder, started)
                state = {"good_at": started}
            while len(listing.items) < limit:
                try:
                    page = self._graph.read(
                        self._key, self._credentials, url, params or None, page_size=limit
                    )
                except ProviderFailure as failure:
                    if failure.code not in _GONE:
                        raise
                    since = float(state.get("good_at") or time.time()) - RESTART_MARGIN_S
                    url, params = self._delta_from(folder, since)
                    state.pop("next", None)
                    listing.restarted.append(folder)
                    continue
                params = {}
                listing.items += [
                    Listed(m["id"], folder, _headers(m))
                    for m in page.get("value", [])
                    if "@removed" not in m
                ]
                if "@odata.nextLink" in page:
                    url = state["next"] = page["@odata.nextLink"]
                    continue
                state = {"delta": page["@odata.deltaLink"], "good_at": time.time()}
                break
            else:
                listing.more = True
            folders[folder] = state
        return listing

    def search(
        self,
        addresses: list[str],
        since: dt.datetime | None,
        cursor: Mapping[str, Any] | None,
        limit: int,
    ) -> Listing:
        """Inbox, then Sent Items (as IMAP's backfill: not Drafts, Junk or Deleted Items)."""
        state = dict(cursor or {"folder": "inbox"})
        folder = state["folder"]
        if state.get("next"):
            url, params = state["next"], None
        else:
            terms = " OR ".join(f"participants:{a}" for a in addresses)
            if since is not None:
                terms = f"({terms}) AND received>={since:%Y-%m-%d}"
            url = f"/v1.0/me/mailFolders/{FOLDERS[folder]}/messages"
            params = {
                "$search": f'"{terms}"',
                "$select": f"{SELECT},isDraft",
                "$top": str(min(limit, 250)),
            }
        page = self._graph.read(self._key, self._credentials, url, params)
        found = [m for m in page.get("value", []) if "@removed" not in m]
        seen = int(state.get("seen", 0)) + len(found)
        listing = Listing(
            items=[Listed(m["id"], folder, _headers(m)) for m in found if not m.get("isDraft")],
            cursor=state,
            more=True,
            total=seen + (len(found) if page.get("@odata.nextLink") else 0),
        )
        if page.get("@odata.nextLink"):
            state.update(next=page["@odata.nextLink"], seen=seen)
        else:
            listing.capped = seen >= SEARCH_CAP
            nxt = list(FOLDERS)[list(FOLDERS).index(folder) + 1 :]
            listing.more = bool(nxt)
            state.clear()
            state.update(folder=nxt[0] if nxt else folder, seen=0, done=not nxt)
        return listing

    def rotated_secret(self) -> bytes | None:
        """Microsoft issues a new refresh token whenever one is used: the one to store."""
        rotated = self._graph.rotated(self._credentials)
        return rotated.encode() if rotated else None

    def fetch(self, items: list[Listed]) -> list[tuple[Listed, bytes]]:
        found = []
        for item in items:
            try:
                found.append((item, self._graph.mime(self._key, self._credentials, item.key)))
            except ProviderFailure as failure:
                if failure.code in ("ErrorItemNotFound", "http_404"):
                    continue  # deleted since it was listed
                raise
        return found


def _headers(message: Mapping[str, Any]) -> Message:
    """A delta's or a search's fields as the headers intake decides by."""

    def people(items: Any) -> str:
        found = [p.get("emailAddress") or {} for p in (items or []) if p]
        return ", ".join(
            formataddr((str(p.get("name") or ""), str(p["address"])))
            for p in found
            if p.get("address")
        )

    headers = Message()
    if message.get("from"):
        headers["From"] = people([message["from"]])
    headers["To"] = people(message.get("toRecipients"))
    headers["Cc"] = people(message.get("ccRecipients"))
    headers["Message-ID"] = str(message.get("internetMessageId") or "")
    return headers
