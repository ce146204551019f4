"""The fake Microsoft's mailboxes for reading, as Graph's documentation describes them
(learn.microsoft.com/graph/delta-query-messages, /api/message-get#get-mime-content):

- `GET /v1.0/me/mailFolders/{inbox|sentitems}/messages/delta` pages through the folder's changes
  (`Prefer: odata.maxpagesize`), each page ending with `@odata.nextLink` and the last with
  `@odata.deltaLink`, whose token returns only what was added since; the first round may carry
  `$filter=receivedDateTime ge …`. A delta token from before `:expire_delta` answers 410 Gone
  with `syncStateNotFound`. With `:delta_quirks`, every round starts with an empty page and
  replays the last message of the round before (Graph does both).
- `GET /v1.0/me/[mailFolders/{inbox|sentitems}/]messages?$search="participants:a OR …"` (with
  `received>=DATE`), `$top`, paging by `@odata.nextLink`, at most 1,000 results; `GET /v1.0/me/messages/{id}/$value` the MIME.
- `POST /_fake/accounts/{email}/inbox {"raw": base64url}` makes mail arrive; after
  `:undeliverable {"addresses": [...]}`, what is sent to them bounces into the Inbox as Exchange
  Online's NDR (emulators/bounces/exchange_ndr.eml). `:limits {"reads_per_window"}` answers 429
  past that many reads in the window (Graph: 10,000 requests per 10 minutes per mailbox);
  `GET /_fake/accounts/{email}/reads` counts them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import threading
import time
import uuid
from email import message_from_bytes, policy
from email.utils import getaddresses
from typing import Any

import flask

from emulators import arrivals

BOUNCE_AFTER_S = 0.5
SEARCH_CAP = 1000  # $search answers at most this many
READS_PER_WINDOW = 10_000
READ_WINDOW_S = 600.0
FOLDERS = {"inbox": "inbox", "sentitems": "sent"}
_PARTICIPANT = re.compile(r"participants:([^\s\"]+)", re.IGNORECASE)
_RECEIVED = re.compile(r"received>=(\d{4}-\d{2}-\d{2})", re.IGNORECASE)


def _stamp(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _people(parsed: Any, header: str) -> list[dict[str, Any]]:
    values = [str(v) for v in parsed.get_all(header, [])]
    return [{"emailAddress": {"name": n, "address": a}} for n, a in getaddresses(values) if a]


def file_message(state: Any, account: Any, raw: bytes, folder: str) -> dict[str, Any]:
    """A message in the account's Inbox or Sent Items, with its change's sequence number."""
    parsed = message_from_bytes(raw, policy=policy.compat32)
    senders = _people(parsed, "From")
    with state.lock:
        account.seq = getattr(account, "seq", 0) + 1
        message = {
            "id": "AAMk" + uuid.uuid4().hex,
            "seq": account.seq,
            "folder": folder,
            "received": time.time(),
            "internetMessageId": str(parsed.get("Message-ID") or f"<{uuid.uuid4().hex}@fake>"),
            "subject": str(parsed.get("Subject", "")),
            "from": senders[0] if senders else None,
            "toRecipients": _people(parsed, "To"),
            "ccRecipients": _people(parsed, "Cc"),
            "mime": raw.decode("utf-8", errors="replace"),
        }
        account.mail_items.append(message)
    return message


def filed_sent(state: Any, account: Any, message: dict[str, Any]) -> None:
    """A message Graph sent, in Sent Items for reading; and its bounces, if undeliverable."""
    raw = str(message.get("mime") or "").encode() or _mime_of(message)
    file_message(state, account, raw, "sent")
    recipients = [
        str(p["emailAddress"]["address"]).lower()
        for p in [*message.get("toRecipients", []), *message.get("ccRecipients", [])]
    ]
    failed = [a for a in recipients if a in account.undeliverable]
    if failed:
        from emulators.bounces import render

        def deliver() -> None:
            for address in failed:
                report = render(
                    "exchange_ndr",
                    original_id=str(message["internetMessageId"]),
                    recipient=address,
                    receiver=account.email,
                )
                file_message(state, account, report, "inbox")

        threading.Timer(BOUNCE_AFTER_S, deliver).start()


def _mime_of(message: dict[str, Any]) -> bytes:
    def people(items: list[dict[str, Any]]) -> str:
        return ", ".join(str(p["emailAddress"]["address"]) for p in items)

    body = (message.get("body") or {}).get("content", "")
    return (
        f"To: {people(message.get('toRecipients', []))}\r\n"
        f"Subject: {message.get('subject', '')}\r\n"
        f"Message-ID: {message['internetMessageId']}\r\n\r\n{body}\r\n"
    ).encode()


def _token(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _untoken(text: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return found


def _shown(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.message",
        "id": message["id"],
        "internetMessageId": message["internetMessageId"],
        "subject": message["subject"],
        "from": message["from"],
        "toRecipients": message["toRecipients"],
        "ccRecipients": message["ccRecipients"],
        "receivedDateTime": _stamp(message["received"]),
    }


def register(
    app: flask.Flask, state: Any, mailbox: Any, error: Any, read_scopes: tuple[str, ...]
) -> None:
    def admit(account: Any) -> None:
        now = time.time()
        with state.lock:
            times = account.read_times
            while times and times[0] < now - READ_WINDOW_S:
                times.popleft()
            if len(times) >= account.reads_per_window:
                account.throttled += 1
                response, status = error(429, "ApplicationThrottled", "Too many requests.")
                response.headers["Retry-After"] = "30"
                raise _Stop((response, status))
            times.append(now)
            account.reads_total += 1

    @app.get("/v1.0/me/mailFolders/<folder>/messages/delta")
    def delta(folder: str) -> Any:
        if folder.lower() not in FOLDERS:
            return error(404, "ErrorInvalidIdMalformed", "The folder id is malformed.")
        with mailbox(read_scopes) as account:
            admit(account)
            args = flask.request.args
            given = _untoken(args.get("$deltatoken") or args.get("$skiptoken") or "")
            if (args.get("$deltatoken") or args.get("$skiptoken")) and (
                not given or given.get("epoch") != account.delta_epoch
            ):
                return error(410, "syncStateNotFound", "The sync state generation is not found.")
            size = _page_size()
            base = flask.request.base_url
            with state.lock:
                after = int(given.get("after", 0))
                since = given.get("since") or _since(args.get("$filter", ""))
                items = [
                    m
                    for m in account.mail_items
                    if m["folder"] == FOLDERS[folder.lower()]
                    and m["seq"] > after
                    and (since is None or m["received"] >= since)
                ]
                top = account.seq
            offset = int(given.get("offset", 0))
            # A new round from a delta token, with the quirks on: an empty page first, then the
            # last message of the round before again.
            quirky = account.delta_quirks and given.get("replay") is not None
            if quirky and not given.get("emptied"):
                nxt = {**given, "emptied": True, "offset": 0}
                return {"value": [], "@odata.nextLink": f"{base}?$skiptoken={_token(nxt)}"}
            chunk = items[offset : offset + size]
            if quirky and offset == 0:
                chunk = [*[m for m in account.mail_items if m["id"] == given["replay"]], *chunk]
            common = {"epoch": account.delta_epoch, "after": after, "since": since}
            if offset + size < len(items):
                nxt = {**common, "offset": offset + size, "emptied": True, "top": top}
                return {
                    "value": [_shown(m) for m in chunk],
                    "@odata.nextLink": f"{base}?$skiptoken={_token(nxt)}",
                }
            last = items[-1]["id"] if items else None
            end = {"epoch": account.delta_epoch, "after": given.get("top", top), "replay": last}
            return {
                "value": [_shown(m) for m in chunk],
                "@odata.deltaLink": f"{base}?$deltatoken={_token(end)}",
            }

    @app.get("/v1.0/me/messages/<message_id>/$value")
    def mime(message_id: str) -> Any:
        with mailbox(read_scopes) as account:
            admit(account)
            with state.lock:
                found = next((m for m in account.mail_items if m["id"] == message_id), None)
            if found is None:
                return error(404, "ErrorItemNotFound", "The specified object was not found.")
            return flask.Response(found["mime"], mimetype="text/plain")

    @app.errorhandler(_Stop)
    def stopped(exc: _Stop) -> Any:
        return exc.response


def search(state: Any, account: Any) -> dict[str, Any] | None:
    """/v1.0/me/messages?$search=…: None when the request is no search (the caller's other
    listing answers it)."""
    args = flask.request.args
    query = args.get("$search", "")
    if not query and not args.get("$skiptoken"):
        return None
    given = _untoken(args.get("$skiptoken", "")) if args.get("$skiptoken") else {}
    query = given.get("q", query)
    wanted = {a.lower() for a in _PARTICIPANT.findall(query)}
    since_text = _RECEIVED.search(query)
    since = (
        dt.datetime.fromisoformat(since_text.group(1)).replace(tzinfo=dt.UTC).timestamp()
        if since_text
        else None
    )
    path = flask.request.path
    folder = "inbox" if "/inbox/" in path else "sent" if "/sentitems/" in path else None
    with state.lock:
        found = [
            m
            for m in reversed(account.mail_items)
            if wanted & _participants(m)
            and (since is None or m["received"] >= since)
            and (folder is None or m["folder"] == folder)
        ][:SEARCH_CAP]
    top = min(int(args.get("$top", given.get("top", 25))), 1000)
    offset = int(given.get("offset", 0))
    answer: dict[str, Any] = {
        "value": [{**_shown(m), "isDraft": False} for m in found[offset : offset + top]]
    }
    if offset + top < len(found):
        nxt = {"q": query, "top": top, "offset": offset + top}
        answer["@odata.nextLink"] = f"{flask.request.base_url}?$skiptoken={_token(nxt)}"
    return answer


def _participants(message: dict[str, Any]) -> set[str]:
    people = [message["from"], *message["toRecipients"], *message["ccRecipients"]]
    return {str(p["emailAddress"]["address"]).lower() for p in people if p}


def _page_size() -> int:
    prefer = flask.request.headers.get("Prefer", "")
    found = re.search(r"odata\.maxpagesize=(\d+)", prefer)
    return max(1, min(int(found.group(1)), 1000)) if found else 10


def _since(text: str) -> float | None:
    found = re.search(r"receivedDateTime ge (\S+)", text)
    if not found:
        return None
    try:
        return dt.datetime.fromisoformat(found.group(1).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def reads(state: Any, account: Any) -> Any:
    with state.lock:
        return {"reads": account.reads_total, "messages": len(account.mail_items)}


def arrive(state: Any, account: Any) -> Any:
    """One message (`raw`), or many at once (`raws`, for a benchmark's mailbox)."""
    return arrivals.arrive(lambda raw: str(file_message(state, account, raw, "inbox")["id"]))


def account_action(state: Any, account: Any, verb: str) -> Any:
    """The mailbox's verbs of POST /_fake/accounts/{email}:{verb}; None for another verb."""
    body = flask.request.get_json(silent=True) or {}
    with state.lock:
        if verb == "expire_delta":
            account.delta_epoch += 1
            return {"delta_epoch": account.delta_epoch}
        if verb == "delta_quirks":
            account.delta_quirks = bool(body.get("on", True))
            return {"delta_quirks": account.delta_quirks}
        if verb == "undeliverable":
            account.undeliverable |= {str(a).lower() for a in body.get("addresses", [])}
            return {"undeliverable": sorted(account.undeliverable)}
        if verb == "read_limits":
            account.reads_per_window = int(body.get("reads_per_window", READS_PER_WINDOW))
            return {"reads_per_window": account.reads_per_window}
    return None


class _Stop(Exception):  # noqa: N818 - a response to give, raised from a helper
    def __init__(self, response: Any) -> None:
        super().__init__("stop")
        self.response = response
