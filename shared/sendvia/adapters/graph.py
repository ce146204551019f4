"""Microsoft Graph mail with `requests`: a draft made from the composed MIME message, then its
send, so every email has a known `internetMessageId` (our Message-ID) and lands in Sent Items.

Graph allows 4 concurrent requests per app per mailbox: this instance keeps to 4 per mailbox
itself. requests sends each request once (no hidden retry), so a timeout or a dropped connection
after the send request is an unknown outcome, never a silent second email. Errors are
Microsoft's JSON bodies (`{"error": {"code", "message"}}`), classified by their code.
"""

from __future__ import annotations

import base64
import contextlib
import threading
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from sendvia.adapters.microsoft_oauth import MicrosoftCredentials, MicrosoftOAuth
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.outgoing import with_bcc

HTTP_TIMEOUT_S = 30
CONCURRENT_PER_MAILBOX = 4
MAX_MIME_BYTES = 4 * 1024 * 1024  # a Graph request's body; larger needs an upload session
INLINE_ATTACHMENT_BYTES = 3 * 1024 * 1024  # over this, an attachment needs an upload session
UPLOAD_CHUNK_BYTES = 10 * 320 * 1024  # chunks must be multiples of 320 KiB
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

    def send(
        self,
        key: str,
        credentials: MicrosoftCredentials,
        message: EmailMessage,
        bcc: tuple[str, ...] = (),
    ) -> str:
        """Draft, then send; the draft's id. A message that fits a request goes as MIME; a
        larger one as a JSON draft whose big attachments go through upload sessions. Raises
        ProviderFailure: UNKNOWN only when the send request may have reached Graph."""
        raw = with_bcc(message.as_bytes(), list(bcc))
        with self._lane(key):
            if len(raw) * 4 // 3 <= MAX_MIME_BYTES:
                draft_id = self._mime_draft(credentials, raw)
            else:
                draft_id = self._json_draft(credentials, message, bcc)
            try:
                self._call(
                    credentials,
                    lambda token: self._session.post(
                        f"{self._base}/v1.0/me/messages/{draft_id}/send",
                        headers={"Authorization": f"Bearer {token}", "Content-Length": "0"},
                        timeout=HTTP_TIMEOUT_S,
                    ),
                    handed_over=True,
                )
            except ProviderFailure as failure:
                if failure.kind is not FailureKind.UNKNOWN:  # not sent: no draft left behind
                    self._discard(credentials, draft_id)
                raise
        return draft_id

    def _discard(self, credentials: MicrosoftCredentials, draft_id: str) -> None:
        """Delete a draft that was not sent (best effort: a leftover draft sends nothing)."""
        with contextlib.suppress(ProviderFailure):
            self._call(
                credentials,
                lambda token: self._session.delete(
                    f"{self._base}/v1.0/me/messages/{draft_id}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=HTTP_TIMEOUT_S,
                ),
                handed_over=False,
            )

    def _mime_draft(self, credentials: MicrosoftCredentials, raw: bytes) -> str:
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
        return str(draft["id"])

    def _json_draft(
        self, credentials: MicrosoftCredentials, message: EmailMessage, bcc: tuple[str, ...]
    ) -> str:
        """The message as Graph's JSON, then each attachment: inline under 3 MB, else through
        an upload session (ordered Content-Range PUTs, no Authorization header)."""
        draft = self._call(
            credentials,
            lambda token: self._session.post(
                f"{self._base}/v1.0/me/messages",
                json=draft_json(message, bcc),
                headers={"Authorization": f"Bearer {token}"},
                timeout=HTTP_TIMEOUT_S,
            ),
            handed_over=False,
        )
        draft_id = str(draft["id"])
        try:
            self._attach_all(credentials, draft_id, message)
        except ProviderFailure:
            self._discard(credentials, draft_id)
            raise
        return draft_id

    def _attach_all(
        self, credentials: MicrosoftCredentials, draft_id: str, message: EmailMessage
    ) -> None:
        for part in message.iter_attachments():
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            name = part.get_filename() or "attachment"
            if len(data) < INLINE_ATTACHMENT_BYTES:
                attachment = {
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "name": name,
                    "contentType": part.get_content_type(),
                    "contentBytes": base64.b64encode(data).decode(),
                }
                self._attach(credentials, draft_id, attachment)
            else:
                self._upload(credentials, draft_id, name, data)

    def _attach(
        self, credentials: MicrosoftCredentials, draft_id: str, attachment: dict[str, Any]
    ) -> None:
        self._call(
            credentials,
            lambda token: self._session.post(
                f"{self._base}/v1.0/me/messages/{draft_id}/attachments",
                json=attachment,
                headers={"Authorization": f"Bearer {token}"},
                timeout=HTTP_TIMEOUT_S,
            ),
            handed_over=False,
        )

    def _upload(
        self, credentials: MicrosoftCredentials, draft_id: str, name: str, data: bytes
    ) -> None:
        import requests

        session = self._call(
            credentials,
            lambda token: self._session.post(
                f"{self._base}/v1.0/me/messages/{draft_id}/attachments/createUploadSession",
                json={
                    "AttachmentItem": {"attachmentType": "file", "name": name, "size": len(data)}
                },
                headers={"Authorization": f"Bearer {token}"},
                timeout=HTTP_TIMEOUT_S,
            ),
            handed_over=False,
        )
        url = str(session["uploadUrl"])
        for start in range(0, len(data), UPLOAD_CHUNK_BYTES):
            chunk = data[start : start + UPLOAD_CHUNK_BYTES]
            end = start + len(chunk) - 1
            try:
                answer = requests.put(  # the URL is the key: no Authorization header
                    url,
                    data=chunk,
                    headers={"Content-Range": f"bytes {start}-{end}/{len(data)}"},
                    timeout=HTTP_TIMEOUT_S,
                )
            except requests.RequestException as exc:
                raise ProviderFailure(
                    FailureKind.TRANSIENT, "graph_unreachable", "An attachment's upload failed."
                ) from exc
            if answer.status_code >= 300:
                raise classify_graph_error(answer)

    def find(self, key: str, credentials: MicrosoftCredentials, internet_message_id: str) -> bool:
        """Whether the mailbox holds a message with this internetMessageId (needs Mail.Read)."""
        quoted = internet_message_id.strip().replace("'", "''")
        with self._lane(key):
            found = self._call(
                credentials,
                lambda token: self._session.get(
                    # Sent Items only: a draft carries the Message-ID too, and was not sent.
                    f"{self._base}/v1.0/me/mailFolders/sentitems/messages",
                    params={"$filter": f"internetMessageId eq '{quoted}'", "$select": "id"},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=HTTP_TIMEOUT_S,
                ),
                handed_over=False,
            )
        return bool(found.get("value"))

    def read(
        self,
        key: str,
        credentials: MicrosoftCredentials,
        url: str,
        params: dict[str, str] | None = None,
        *,
        page_size: int | None = None,
    ) -> dict[str, Any]:
        """A GET of the mailbox (a page of a delta or a search), within its 4 concurrent."""
        headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else {}
        with self._lane(key):
            return self._call(
                credentials,
                lambda token: self._session.get(
                    url if url.startswith("http") else f"{self._base}{url}",
                    params=params,
                    headers={"Authorization": f"Bearer {token}", **headers},
                    timeout=HTTP_TIMEOUT_S,
                ),
                handed_over=False,
            )

    def rotated(self, credentials: MicrosoftCredentials) -> str | None:
        """The refresh token Microsoft issued in place of the stored one while reading."""
        return self._oauth.rotated(credentials)

    def mime(self, key: str, credentials: MicrosoftCredentials, message_id: str) -> bytes:
        """A message's MIME content (`$value`)."""
        with self._lane(key):
            response = self._respond(
                credentials,
                lambda token: self._session.get(
                    f"{self._base}/v1.0/me/messages/{message_id}/$value",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=HTTP_TIMEOUT_S,
                ),
                handed_over=False,
            )
        content: bytes = response.content
        return content

    def _call(
        self,
        credentials: MicrosoftCredentials,
        request: Callable[[str], Any],
        *,
        handed_over: bool,
    ) -> dict[str, Any]:
        response = self._respond(credentials, request, handed_over=handed_over)
        return response.json() if response.content else {}

    def _respond(
        self,
        credentials: MicrosoftCredentials,
        request: Callable[[str], Any],
        *,
        handed_over: bool,
    ) -> Any:
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
                return response
            raise classify_graph_error(response)
        raise AssertionError("unreachable")  # pragma: no cover


def draft_json(message: EmailMessage, bcc: tuple[str, ...]) -> dict[str, Any]:
    """A composed message as Graph's JSON (attachments apart), its Message-ID kept."""

    def people(header: str) -> list[dict[str, Any]]:
        values = [str(v) for v in message.get_all(header, [])]
        return [{"emailAddress": {"name": n, "address": a}} for n, a in getaddresses(values) if a]

    body = message.get_body(preferencelist=("html", "plain"))
    return {
        "subject": str(message.get("Subject", "")),
        "body": {
            "contentType": "HTML" if body and body.get_content_subtype() == "html" else "Text",
            "content": body.get_content() if body else "",
        },
        "toRecipients": people("To"),
        "ccRecipients": people("Cc"),
        "bccRecipients": [{"emailAddress": {"address": a}} for a in bcc],
        "replyTo": people("Reply-To"),
        "internetMessageId": str(message.get("Message-ID", "")),
    }


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
            retry_after_s=int(wait) if wait.isascii() and wait.isdigit() else DEFAULT_THROTTLE_S,
        )
    if status == 401:
        return ProviderFailure(FailureKind.AUTH, "unauthorized", reply)
    if code in _CAUSES:
        return ProviderFailure.of(_CAUSES[code], reply)
    if status >= 500:
        return ProviderFailure(FailureKind.TRANSIENT, "microsoft_unavailable", reply)
    return ProviderFailure(FailureKind.PERMANENT, code or f"http_{status}", reply)
