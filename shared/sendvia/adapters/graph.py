"""Microsoft Graph mail with `requests`: a draft made from the composed MIME message, then its
send, so every email has a known `internetMessageId` (our Message-ID) and lands in Sent Items.

Graph allows 4 concurrent requests per app per mailbox: this instance keeps to 4 per mailbox
itself. requests sends each request once (no hidden retry), so a timeout or a dropped connection
after the send request is an unknown outcome, never a silent second email. Errors are
Microsoft's JSON bodies (`{"error": {"code", "message"}}`), classified by their code.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

from sendvia.adapters.microsoft_oauth import MicrosoftCredentials, MicrosoftOAuth
from sendvia.domain.failures import FailureKind, ProviderFailure

HTTP_TIMEOUT_S = 30
CONCURRENT_PER_MAILBOX = 4
MAX_MIME_BYTES = 4 * 1024 * 1024  # a Graph request's body; larger needs an upload session
DEFAULT_THROTTLE_S = 60
# Graph error codes by the cause they are (domain/failures.py gives each its kind).
_CAUSES = {
    "ErrorSendAsDenied": "send_as_denied",
    "MailboxNotEnabledForRESTAPI": "mailbox_not_enabled",
    "ErrorQuotaExceeded": "mailbox_full",
    "ErrorMessageSizeExceeded": "message_too_large",
    "ErrorInvalidRecipients": "invalid_recipients",
    "ErrorAccessDenied": "scope_missing",
}


class Graph:
    def __init__(self, oauth: MicrosoftOAuth) -> None:
        import requests

        self._oauth = oauth
        self._base = oauth.graph_base
        self._session = requests.Session()
        self._lanes: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def _lane(self, key: str) -> threading.BoundedSemaphore:
        with self._lock:
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = threading.BoundedSemaphore(CONCURRENT_PER_MAILBOX)
            return lane

    def send(self, key: str, credentials: MicrosoftCredentials, raw: bytes) -> str:
        """Draft, then send; the draft's id. Raises ProviderFailure: UNKNOWN only when the send
        request may have reached Graph."""
        if len(raw) * 4 // 3 > MAX_MIME_BYTES:
            raise ProviderFailure(
                FailureKind.PERMANENT,
                "message_too_large",
                "Attachments over 3 MB through Microsoft Graph are not supported yet.",
            )
        with self._lane(key):
            draft = self._call(
                credentials,
                lambda token: self._session.post(
                    f"{self._base}/v1.0/me/messages",
                    data=base64.b64encode(raw),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
                    timeout=HTTP_TIMEOUT_S,
                ),
                handed_over=False,
            )
            draft_id = str(draft["id"])
            self._call(
                credentials,
                lambda token: self._session.post(
                    f"{self._base}/v1.0/me/messages/{draft_id}/send",
                    headers={"Authorization": f"Bearer {token}", "Content-Length": "0"},
                    timeout=HTTP_TIMEOUT_S,
                ),
                handed_over=True,
            )
        return draft_id

    def find(self, key: str, credentials: MicrosoftCredentials, internet_message_id: str) -> bool:
        """Whether the mailbox holds a message with this internetMessageId (needs Mail.Read)."""
        quoted = internet_message_id.strip().replace("'", "''")
        with self._lane(key):
            found = self._call(
                credentials,
                lambda token: self._session.get(
                    f"{self._base}/v1.0/me/messages",
                    params={"$filter": f"internetMessageId eq '{quoted}'", "$select": "id"},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=HTTP_TIMEOUT_S,
                ),
                handed_over=False,
            )
        return bool(found.get("value"))

    def _call(
        self,
        credentials: MicrosoftCredentials,
        request: Callable[[str], Any],
        *,
        handed_over: bool,
    ) -> dict[str, Any]:
        """One Graph request; a 401 refreshes the token and asks once more (nothing was done)."""
        import requests

        for attempt in range(2):
            token = self._oauth.access_token(credentials, fresh=attempt > 0)
            try:
                response = request(token)
            except (requests.ConnectionError, requests.Timeout) as exc:
                never_connected = isinstance(exc, requests.ConnectTimeout) or (
                    isinstance(exc, requests.ConnectionError) and "Connection refused" in str(exc)
                )
                if handed_over and not never_connected:
                    raise ProviderFailure(
                        FailureKind.UNKNOWN,
                        "outcome_unknown",
                        "Microsoft Graph took the send request but gave no answer.",
                    ) from exc
                raise ProviderFailure(
                    FailureKind.TRANSIENT, "graph_unreachable", "Microsoft Graph was unreachable."
                ) from exc
            if response.status_code == 401 and attempt == 0:
                continue
            if response.status_code < 300:
                return response.json() if response.content else {}
            raise classify_graph_error(response)
        raise AssertionError("unreachable")  # pragma: no cover


def classify_graph_error(response: Any) -> ProviderFailure:
    try:
        error = (response.json() or {}).get("error") or {}
    except ValueError:
        error = {}
    code = str(error.get("code") or "")
    reply = f"{code}: {error.get('message') or ''}".strip(": ")[:300] or (
        f"Microsoft Graph answered {response.status_code}."
    )
    status = response.status_code
    if status == 429:
        wait = str(response.headers.get("Retry-After", ""))
        return ProviderFailure(
            FailureKind.QUOTA,
            "rate_limited",
            reply,
            retry_after_s=int(wait) if wait.isdigit() else DEFAULT_THROTTLE_S,
        )
    if status == 401:
        return ProviderFailure(FailureKind.AUTH, "unauthorized", reply)
    if code in _CAUSES:
        return ProviderFailure.of(_CAUSES[code], reply)
    if status >= 500:
        return ProviderFailure(FailureKind.TRANSIENT, "microsoft_unavailable", reply)
    return ProviderFailure(FailureKind.PERMANENT, code or f"http_{status}", reply)
