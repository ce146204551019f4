"""Reading an SMTP/IMAP mailbox for sync (ports.MailReader), with IMAPClient.

The cursor of a folder is (UIDVALIDITY, last UID seen), and its HIGHESTMODSEQ where the server has
CONDSTORE (RFC 7162): a folder whose mod-sequence has not moved since it was caught up is not
searched at all. A new UIDVALIDITY invalidates every UID: the folder is read again from its
start, and what was stored before is recognised by its Message-ID. Headers come first (the few
that decide whether a message concerns a contact or is a bounce report); whole messages only for
those.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from email import message_from_bytes, policy
from typing import Any

from sendvia.adapters.mail_steps import Steps
from sendvia.adapters.reading import Reader
from sendvia.adapters.smtp_imap import MailServers
from sendvia.domain.failures import ProviderFailure
from sendvia.domain.mailbox import Server
from sendvia.ports.receiving import Listed, Listing

HEADERS = (
    "FROM TO CC MESSAGE-ID CONTENT-TYPE AUTO-SUBMITTED RETURN-PATH X-FAILED-RECIPIENTS "
    "X-MS-EXCHANGE-MESSAGE-IS-NDR"
)
_HEADER_ITEM = f"BODY.PEEK[HEADER.FIELDS ({HEADERS})]"
SEARCH_CHUNK = 1000  # UIDs fetched per FETCH command


def any_of(keys: list[list[str]]) -> list[Any]:
    """One IMAP search key true when any of `keys` is: a balanced tree of ORs (prefix notation,
    nested lists parenthesised by IMAPClient)."""
    if len(keys) == 1:
        return keys[0]
    middle = len(keys) // 2
    return ["OR", any_of(keys[:middle]), any_of(keys[middle:])]


class ImapReader(Reader):
    def __init__(
        self, mail: MailServers, server: Server, password: str, sent_folder: str, lane: str
    ) -> None:
        self._mail = mail
        self._lane = lane
        self._server = server
        self._password = password
        self._folders = {"inbox": "INBOX", "sent": sent_folder}
        self._client: Any = None
        self._condstore = False

    # -- the connection ---------------------------------------------------------------------

    def __enter__(self) -> ImapReader:
        steps = Steps(lane=self._lane)
        self._client = steps.run(
            "imap_login", lambda: self._mail.open_imap(self._server, self._password)
        )
        failed = next((s for s in steps.results if not s["ok"]), None)
        if self._client is None or failed is not None:
            raise ProviderFailure.of(
                failed["cause"] if failed else "imap_error",
                failed["reply"] if failed else "IMAP login failed.",
            )
        if b"CONDSTORE" in self._client.capabilities():
            self._run(lambda: self._client.enable("CONDSTORE"))
            self._condstore = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            try:
                self._client.logout()
            except Exception:
                self._client.shutdown()
            self._client = None

    def _run(self, work: Any) -> Any:
        """One IMAP command; what the server or the network did, as a ProviderFailure."""
        steps = Steps(lane=self._lane)
        result = steps.run("imap", work)
        failed = next((s for s in steps.results if not s["ok"]), None)
        if failed is not None:
            raise ProviderFailure.of(failed["cause"], failed["reply"])
        return result

    def _select(self, folder: str) -> dict[bytes, Any]:
        name = self._folders[folder]
        if not self._run(lambda: self._client.folder_exists(name)):
            raise ProviderFailure.of("folder_missing", f"There is no folder {name!r}.")
        selected: dict[bytes, Any] = self._run(
            lambda: self._client.select_folder(name, readonly=True)
        )
        return selected

    # -- reading ----------------------------------------------------------------------------

    def changes(self, cursor: Mapping[str, Any] | None, limit: int) -> Listing:
        folders: dict[str, Any] = {k: dict(v) for k, v in (cursor or {}).get("folders", {}).items()}
        listing = Listing(items=[], cursor={"folders": folders}, more=False)
        for folder in self._folders:
            selected = self._select(folder)
            validity = int(selected[b"UIDVALIDITY"])
            top = int(selected.get(b"UIDNEXT", 1)) - 1
            modseq = selected.get(b"HIGHESTMODSEQ")
            state = folders.get(folder)
            if cursor is None or state is None:
                folders[folder] = {"uidvalidity": validity, "last_uid": top, "modseq": modseq}
                continue
            if int(state["uidvalidity"]) != validity:
                state = {"uidvalidity": validity, "last_uid": 0, "modseq": None}
                listing.restarted.append(folder)
            elif modseq is not None and state.get("modseq") == modseq:
                continue  # CONDSTORE: nothing changed in the folder since it was caught up
            room = limit - len(listing.items)
            last = int(state["last_uid"])
            uids = [] if room <= 0 else self._new_uids(last)
            taken = uids[:room]
            listing.items += self._headers(folder, validity, taken)
            done = len(taken) == len(uids)
            state["last_uid"] = taken[-1] if taken else last
            state["modseq"] = modseq if done and room > 0 else None
            listing.more = listing.more or not done or room <= 0
            folders[folder] = state
        return listing

    def _new_uids(self, last: int) -> list[int]:
        found = self._run(lambda: self._client.search(["UID", f"{last + 1}:*"]))
        return sorted(u for u in found if u > last)  # `n:*` answers the top UID even below n

    def _headers(self, folder: str, validity: int, uids: list[int]) -> list[Listed]:
        listed = []
        for start in range(0, len(uids), SEARCH_CHUNK):
            chunk = uids[start : start + SEARCH_CHUNK]
            fetched = self._run(lambda c=chunk: self._client.fetch(c, [_HEADER_ITEM]))
            for uid in chunk:
                data = fetched.get(uid) or {}
                raw = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), None)
                headers = message_from_bytes(raw, policy=policy.compat32) if raw else None
                listed.append(Listed(f"{folder}:{validity}:{uid}", folder, headers))
        return listed

    def search(
        self,
        addresses: list[str],
        since: dt.datetime | None,
        cursor: Mapping[str, Any] | None,
        limit: int,
    ) -> Listing:
        folders: dict[str, Any] = {k: dict(v) for k, v in (cursor or {}).get("folders", {}).items()}
        listing = Listing(items=[], cursor={"folders": folders}, more=False, total=0)
        who = any_of([[field, a] for a in addresses for field in ("FROM", "TO", "CC")])
        for folder in self._folders:
            state = folders.get(folder) or {}
            if state.get("done"):
                continue
            validity = int(self._select(folder)[b"UIDVALIDITY"])
            if state.get("uidvalidity") not in (None, validity):
                state = {}
                listing.restarted.append(folder)
            criteria: list[Any] = [who]
            if since is not None:
                criteria += ["SINCE", since.date()]
            if state.get("below"):
                criteria += ["UID", f"1:{int(state['below']) - 1}"]
            found = sorted(self._run(lambda c=criteria: self._client.search(c)), reverse=True)
            if state.get("below"):
                found = [u for u in found if u < int(state["below"])]
            if "total" not in state:
                state["total"] = len(found)
            listing.total = (listing.total or 0) + int(state["total"])
            room = max(0, limit - len(listing.items))
            taken = found[:room]
            listing.items += self._headers(folder, validity, taken)
            state.update(uidvalidity=validity, below=taken[-1] if taken else state.get("below"))
            state["done"] = len(taken) == len(found)
            listing.more = listing.more or not state["done"]
            folders[folder] = state
        return listing

    def fetch(self, items: list[Listed]) -> list[tuple[Listed, bytes]]:
        by_folder: dict[str, list[tuple[Listed, int, int]]] = {}
        for item in items:
            folder, listed_validity, uid = item.key.split(":")
            by_folder.setdefault(folder, []).append((item, int(listed_validity), int(uid)))
        found: dict[str, bytes] = {}
        for folder, wanted in by_folder.items():
            validity = int(self._select(folder)[b"UIDVALIDITY"])
            uids = [uid for _, v, uid in wanted if v == validity]  # else: renumbered meanwhile
            for start in range(0, len(uids), 50):
                chunk = uids[start : start + 50]
                fetched = self._run(lambda c=chunk: self._client.fetch(c, ["BODY.PEEK[]"]))
                for uid, data in fetched.items():
                    raw = data.get(b"BODY[]")
                    if isinstance(raw, bytes):
                        found[f"{folder}:{validity}:{uid}"] = raw
        return [(item, found[item.key]) for item in items if item.key in found]
