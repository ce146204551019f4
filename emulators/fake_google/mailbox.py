"""The fake Google's mailboxes: what Gmail's read API shows, as its documentation describes it
(developers.google.com/gmail/api/guides/sync, /reference/quota).

- Every message has labels (INBOX, SENT), a thread, an internal date and the history id that
  added it; `users.history.list` answers the messages added after a history id, and a history id
  older than the account's floor answers 404 (Gmail keeps history about a week, sometimes hours:
  `POST /_fake/accounts/{email}:expire_history` moves the floor to now).
- `users.messages.list` searches with Gmail's syntax, the part sendvia uses: `from:`, `to:`, `cc:`,
  `rfc822msgid:`, `after:` (a date or Unix seconds), `in:inbox`, `in:sent`, `in:drafts`,
  `-term`, terms together (AND) and `{…}` groups (OR); `maxResults` ≤ 500 and `pageToken`; ids
  only, newest first.
- `users.messages.get` with `format=metadata` (+ `metadataHeaders`), `raw` or `full`.
- Quota units per user per minute (15,000; `:limits {"units_per_minute"}`): getProfile 1,
  history.list 2, messages.list 5, messages.get 5, messages.send 100; past them, 429
  `rateLimitExceeded` with Retry-After. `GET /_fake/accounts/{email}/units` says what was spent.
- Mail arrives with `POST /_fake/accounts/{email}/inbox {"raw": base64url}`; and after
  `POST /_fake/accounts/{email}:undeliverable {"addresses": [...]}`, a message sent to one of
  them bounces into the sender's Inbox in Gmail's format a moment later, as Gmail's does.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.utils import getaddresses
from typing import Any

import flask

from emulators import arrivals
from emulators.fake_google.state import Account, FakeGoogleState, QuotaExceeded

UNITS = {"profile": 1, "history": 2, "list": 5, "get": 5, "send": 100}
BOUNCE_AFTER_S = 0.5
_TERM = re.compile(r"\{[^}]*\}|\S+")

Auth = Callable[[FakeGoogleState, str, set[str]], tuple[Any, Any]]
ErrorOf = Callable[..., Any]


def spend(state: FakeGoogleState, account: Account, kind: str) -> None:
    """Count a call's units against the account's minute; QuotaExceeded past the limit."""
    cost, now = UNITS[kind], time.time()
    with state.lock:
        while account.units and account.units[0][0] < now - 60:
            account.units.popleft()
        used = sum(u for _, u in account.units)
        if used + cost > account.units_per_minute:
            wait = int(account.units[0][0] + 60 - now) + 1 if account.units else 60
            raise QuotaExceeded("rate", wait)
        account.units.append((now, cost))
        account.units_spent += cost


def file_message(state: FakeGoogleState, account: Account, raw: bytes, labels: list[str]) -> str:
    """Put a message in the account's mailbox (a new history id); its Gmail id."""
    parsed = message_from_bytes(raw, policy=policy.compat32)
    with state.lock:
        account.history_id += 1
        gmail_id = f"{int(time.time() * 1000):x}{len(account.messages):05x}"
        account.messages.append(
            {
                "id": gmail_id,
                "threadId": gmail_id,
                "labelIds": labels,
                "historyId": account.history_id,
                "internalDate": int(time.time() * 1000),
                "raw": raw,
                "headers": parsed,
                # Who it names, read once: searches match against these.
                "people": {
                    name.lower(): {
                        a.lower()
                        for _, a in getaddresses([str(v) for v in parsed.get_all(name, [])])
                        if a
                    }
                    for name in ("From", "To", "Cc")
                },
            }
        )
    return gmail_id


def bounce_later(state: FakeGoogleState, account: Account, raw: bytes) -> None:
    """After a send: recipients marked undeliverable bounce into the sender's Inbox, as
    Gmail's own mailer-daemon reports them (emulators/bounces/gmail_failure.eml)."""
    from emulators.bounces import render

    parsed = message_from_bytes(raw, policy=policy.compat32)
    recipients = [
        a.lower()
        for _, a in getaddresses([str(v) for h in ("To", "Cc") for v in parsed.get_all(h, [])])
    ]
    failed = [a for a in recipients if a in account.undeliverable]
    original = str(parsed.get("Message-ID", ""))

    def deliver() -> None:
        for address in failed:
            report = render(
                "gmail_failure", original_id=original, recipient=address, receiver=account.email
            )
            file_message(state, account, report, ["INBOX", "UNREAD"])

    if failed:
        threading.Timer(BOUNCE_AFTER_S, deliver).start()


def _header(message: dict[str, Any], name: str) -> str:
    return str(message["headers"].get(name, "") or "")


def _after(value: str) -> float:
    if value.isdigit():
        return float(value)
    try:
        year, month, day = (int(p) for p in value.split("/"))
    except ValueError:
        return 0.0
    return time.mktime((year, month, day, 0, 0, 0, 0, 0, 0)) - time.timezone


_TESTS: dict[str, Callable[[str, dict[str, Any]], bool]] = {
    "from": lambda v, m: v in m["people"]["from"],
    "to": lambda v, m: v in m["people"]["to"],
    "cc": lambda v, m: v in m["people"]["cc"],
    "rfc822msgid": lambda v, m: (
        _header(m, "Message-ID").strip().strip("<>").lower() == v.strip("<>")
    ),
    "after": lambda v, m: m["internalDate"] / 1000 > _after(v),
    "in": lambda v, m: {"drafts": "DRAFT"}.get(v, v.upper()) in m["labelIds"],
}


def _matches(term: str, message: dict[str, Any]) -> bool:
    if term.startswith("-"):
        return not _matches(term[1:], message)
    if term.startswith("{") and term.endswith("}"):
        return any(_matches(t, message) for t in _TERM.findall(term[1:-1]))
    name, _, value = term.partition(":")
    test = _TESTS.get(name)
    return bool(test and test(value.strip().strip('"').lower(), message))


def search(account: Account, query: str) -> list[dict[str, Any]]:
    terms = _TERM.findall(query)
    found = [m for m in account.messages if all(_matches(t, m) for t in terms)]
    return list(reversed(found))  # newest first


def _page(items: list[Any], default: int = 100) -> tuple[list[Any], str | None]:
    size = min(int(flask.request.args.get("maxResults", default)), 500)
    start = int(flask.request.args.get("pageToken") or 0)
    chunk = items[start : start + size]
    return chunk, (str(start + size) if start + size < len(items) else None)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def register(app: flask.Flask, state: FakeGoogleState, auth: Auth, error: ErrorOf) -> None:
    from emulators.fake_google.server import READ_SCOPES

    def begin(user_id: str, kind: str, scopes: set[str] = READ_SCOPES) -> tuple[Any, Any]:
        grant, problem = auth(state, user_id, scopes)
        if problem:
            return None, problem
        account = state.account(grant.email)
        try:
            spend(state, account, kind)
        except QuotaExceeded as exc:
            response = flask.jsonify(
                error(
                    429,
                    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per "
                    "user' of service 'gmail.googleapis.com'.",
                    "rateLimitExceeded",
                    "RESOURCE_EXHAUSTED",
                    "usageLimits",
                )[0]
            )
            response.status_code = 429
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return None, response
        return account, None

    @app.get("/gmail/v1/users/<user_id>/profile")
    def get_profile(user_id: str) -> Any:
        account, problem = begin(user_id, "profile")
        if problem:
            return problem
        return {
            "emailAddress": account.email,
            "messagesTotal": len(account.messages),
            "threadsTotal": len(account.messages),
            "historyId": str(account.history_id),
        }

    @app.get("/gmail/v1/users/<user_id>/history")
    def list_history(user_id: str) -> Any:
        account, problem = begin(user_id, "history")
        if problem:
            return problem
        start = flask.request.args.get("startHistoryId", "")
        if not start.isdigit():
            return error(400, "Invalid startHistoryId", "invalidArgument", "INVALID_ARGUMENT")
        if int(start) < account.history_floor:
            return error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        with state.lock:
            added = [m for m in account.messages if m["historyId"] > int(start)]
            current = account.history_id
        chunk, token = _page(added)
        history = [
            {
                "id": str(m["historyId"]),
                "messages": [{"id": m["id"], "threadId": m["threadId"]}],
                "messagesAdded": [
                    {
                        "message": {
                            "id": m["id"],
                            "threadId": m["threadId"],
                            "labelIds": m["labelIds"],
                        }
                    }
                ],
            }
            for m in chunk
        ]
        answer: dict[str, Any] = {"historyId": str(current)}
        if history:
            answer["history"] = history
        if token:
            answer["nextPageToken"] = token
        return answer

    _register_messages(app, state, begin, error)


Begin = Callable[..., tuple[Any, Any]]


def _register_messages(
    app: flask.Flask, state: FakeGoogleState, begin: Begin, error: ErrorOf
) -> None:
    from emulators.fake_google.server import READ_SCOPES

    full_read = READ_SCOPES - {"https://www.googleapis.com/auth/gmail.metadata"}

    @app.get("/gmail/v1/users/<user_id>/messages")
    def list_messages(user_id: str) -> Any:
        query = flask.request.args.get("q", "").strip()
        account, problem = begin(user_id, "list", full_read if query else READ_SCOPES)
        if problem:
            return problem
        with state.lock:
            found = search(account, query)
        chunk, token = _page(found)
        answer: dict[str, Any] = {"resultSizeEstimate": len(found)}
        if chunk:
            answer["messages"] = [{"id": m["id"], "threadId": m["threadId"]} for m in chunk]
        if token:
            answer["nextPageToken"] = token
        return answer

    @app.get("/gmail/v1/users/<user_id>/messages/<message_id>")
    def get_message(user_id: str, message_id: str) -> Any:
        form = flask.request.args.get("format", "full")
        account, problem = begin(user_id, "get", READ_SCOPES if form == "metadata" else full_read)
        if problem:
            return problem
        with state.lock:
            found = next((m for m in account.messages if m["id"] == message_id), None)
        if found is None:
            return error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        answer = {
            "id": found["id"],
            "threadId": found["threadId"],
            "labelIds": found["labelIds"],
            "historyId": str(found["historyId"]),
            "internalDate": str(found["internalDate"]),
            "sizeEstimate": len(found["raw"]),
        }
        if form == "raw":
            return {**answer, "raw": _b64(found["raw"])}
        wanted = {h.lower() for h in flask.request.args.getlist("metadataHeaders")}
        headers = [
            {"name": name, "value": str(value)}
            for name, value in found["headers"].items()
            if form == "full" or not wanted or name.lower() in wanted
        ]
        return {**answer, "payload": {"mimeType": found["headers"].get_content_type(),
                                      "headers": headers}}  # fmt: skip


def register_test_api(app: flask.Flask, state: FakeGoogleState) -> None:
    @app.post("/_fake/accounts/<email>/inbox")
    def arrive(email: str) -> Any:
        """One message (`raw`), or many at once (`raws`, for a benchmark's mailbox)."""
        body = flask.request.get_json(silent=True) or {}
        labels = [str(label) for label in body.get("labels", ["INBOX", "UNREAD"])]
        account = state.account(email)
        return arrivals.arrive(lambda raw: file_message(state, account, raw, labels))

    @app.get("/_fake/accounts/<email>/units")
    def units(email: str) -> Any:
        account = state.account(email)
        with state.lock:
            return {"units_spent": account.units_spent, "messages": len(account.messages)}


def account_action(state: FakeGoogleState, account: Account, verb: str) -> Any:
    """The mailbox's verbs of POST /_fake/accounts/{email}:{verb}; None for another verb."""
    body = flask.request.get_json(silent=True) or {}
    if verb == "expire_history":
        with state.lock:
            account.history_floor = account.history_id + 1
        return {"history_floor": account.history_floor}
    if verb == "undeliverable":
        with state.lock:
            account.undeliverable |= {str(a).lower() for a in body.get("addresses", [])}
            return {"undeliverable": sorted(account.undeliverable)}
    return None
