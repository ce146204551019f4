"""Send through the Gmail API (users.messages.send) with google-api-python-client.

The raw RFC 822 message goes base64url-encoded in the JSON body (not a media upload, which would
force https whatever the endpoint, and the local fake serves http). Gmail files the message in the
account's Sent folder itself. Errors are classified with Google's reasons
(developers.google.com/gmail/api/guides/handle-errors): 401/invalid_grant → auth, 429 and the
usageLimits reasons → quota, 5xx → transient, other 4xx → permanent.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Callable
from typing import Any

from sendvia.adapters.google_oauth import GoogleOAuth, classify_refresh_error
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.metering import METER, TOKEN_REFRESHES

QUOTA_REASONS = {
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "dailyLimitExceeded",
    "quotaExceeded",
}


HTTP_TIMEOUT_S = 30
MAX_MAILBOXES = 1000  # per instance
MAX_IDLE_HTTP = 10  # kept-alive connections per mailbox, for the next sends


class Gmail:
    """The API client is built once per mailbox credentials, and its `users` and
    `users.messages` resources with it (the discovery client builds every method of a
    resource each time one is asked for: most of a send's CPU otherwise, bench/pipeline.py).
    Requests made from them are new objects, executed on HTTP connections that are pooled, one
    per send in flight, because httplib2 connections must not be shared between threads
    (googleapis.github.io/google-api-python-client/docs/thread_safety.html). The access token
    is refreshed by one thread per mailbox while the others wait for it."""

    def __init__(self, oauth: GoogleOAuth, endpoint: str) -> None:
        self._oauth = oauth
        self._endpoint = endpoint
        self._services: dict[str, tuple[Any, Any]] = {}
        self._idle: dict[str, list[Any]] = {}
        self._refreshing: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _users(self, key: str, credentials: Any) -> tuple[Any, Any]:
        """The account's `users` resource and its `messages`."""
        with self._lock:
            resources = self._services.get(key)
        if resources is None:
            from googleapiclient.discovery import build

            users = build(
                "gmail",
                "v1",
                credentials=credentials,
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": self._endpoint},
            ).users()
            resources = (users, users.messages())
            with self._lock:
                if len(self._services) >= MAX_MAILBOXES and key not in self._services:
                    self._drop_oldest()
                self._services[key] = resources
        return resources

    def _take_http(self, key: str, credentials: Any) -> Any:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop()
        import google_auth_httplib2

        return google_auth_httplib2.AuthorizedHttp(credentials, http=_http())

    def _park_http(self, key: str, http: Any) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_HTTP:
                idle.append(http)

    def _valid_token(self, key: str, credentials: Any) -> None:
        """Refresh an expired (or never fetched) access token, once for all threads."""
        if credentials.valid:
            return
        with self._lock:
            lock = self._refreshing.setdefault(key, threading.Lock())
        with lock:
            if not credentials.valid:  # another thread may have just done it
                self._oauth.refresh(credentials)

    def send(self, key: str, credentials: Any, raw: bytes) -> str:
        """Send one message; returns Gmail's message id."""
        import http.client

        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError

        self._valid_token(key, credentials)
        body = {"raw": base64.urlsafe_b64encode(raw).decode()}
        token_before = credentials.token  # a 401 makes google-auth refresh on the way
        connection = self._take_http(key, credentials)
        reusable = False
        try:
            request = self._users(key, credentials)[1].send(userId="me", body=body)
            result = request.execute(http=connection, num_retries=0)
            reusable = True
        except RefreshError as exc:
            raise classify_refresh_error(exc) from exc
        except HttpError as exc:
            reusable = True  # an answer: the connection is fine
            raise classify_http_error(exc) from exc
        except TransportError as exc:  # refreshing the token: nothing was sent yet
            raise ProviderFailure(
                FailureKind.TRANSIENT, "gmail_unreachable", "The Gmail API could not be reached."
            ) from exc
        except (ConnectionRefusedError, socket.gaierror) as exc:  # never connected
            raise ProviderFailure(
                FailureKind.TRANSIENT, "gmail_unreachable", "The Gmail API could not be reached."
            ) from exc
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            # The request may have reached Gmail, which may have sent the message: no answer
            # is not "not sent" (docs/delivery-guarantees.md).
            raise ProviderFailure(
                FailureKind.UNKNOWN,
                "outcome_unknown",
                "The Gmail API took the request but gave no answer.",
            ) from exc
        finally:
            if reusable:
                self._park_http(key, connection)
            if credentials.token != token_before:
                METER.add(TOKEN_REFRESHES)
        message_id: str = result["id"]
        return message_id

    def _drop_oldest(self) -> None:
        """Forget the mailbox kept longest (under the lock): this instance keeps a client,
        connections and a refresh lock for at most MAX_MAILBOXES mailboxes."""
        oldest = next(iter(self._services))
        self._services.pop(oldest, None)
        self._idle.pop(oldest, None)
        self._refreshing.pop(oldest, None)

    def find(self, key: str, credentials: Any, message_id: str) -> bool:
        """Whether the account holds a message with this Message-ID header, in any folder
        (users.messages.list with the `rfc822msgid:` search operator, trash and spam included).
        Needs a read scope; raises ProviderFailure when Gmail could not answer."""
        result = self.read(
            key,
            credentials,
            lambda users: users.messages().list(
                userId="me",
                q=f"rfc822msgid:{message_id.strip().strip('<>')}",
                includeSpamTrash=True,
                maxResults=1,
            ),
        )
        return bool(result.get("messages"))

    def read(self, key: str, credentials: Any, request: Callable[[Any], Any]) -> dict[str, Any]:
        """One read of the account (`request` makes it from `users()`), on a pooled connection:
        Gmail's answer, or ProviderFailure (an HTTP error classified; anything else transient:
        a read can always be made again)."""
        import http.client

        from google.auth.exceptions import GoogleAuthError, RefreshError
        from googleapiclient.errors import HttpError

        self._valid_token(key, credentials)
        token_before = credentials.token
        connection = self._take_http(key, credentials)
        reusable = False
        try:
            made = request(self._users(key, credentials)[0])
            result: dict[str, Any] = made.execute(http=connection, num_retries=0)
            reusable = True
        except RefreshError as exc:
            raise classify_refresh_error(exc) from exc
        except HttpError as exc:
            reusable = True
            raise classify_http_error(exc) from exc
        except (GoogleAuthError, OSError, http.client.HTTPException) as exc:
            raise ProviderFailure(
                FailureKind.TRANSIENT, "gmail_unreachable", "The Gmail API could not be read."
            ) from exc
        finally:
            if reusable:
                self._park_http(key, connection)
            if credentials.token != token_before:
                METER.add(TOKEN_REFRESHES)
        return result

    def forget(self, key: str) -> None:
        with self._lock:
            self._services.pop(key, None)
            self._idle.pop(key, None)
        self._oauth.forget(key)


def classify_http_error(exc: Any) -> ProviderFailure:
    status = int(exc.resp.status)
    reason, message = "", ""
    try:
        error = json.loads(exc.content.decode("utf-8"))["error"]
        message = str(error.get("message", ""))
        reason = str((error.get("errors") or [{}])[0].get("reason", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        message = str(getattr(exc, "reason", ""))
    retry_after = exc.resp.get("retry-after")
    if status == 429 or reason in QUOTA_REASONS:
        return ProviderFailure(
            FailureKind.QUOTA,
            reason or "rate_limited",
            message,
            retry_after_s=int(retry_after)
            if str(retry_after).isascii() and str(retry_after).isdigit()
            else None,
        )
    if status == 401:
        return ProviderFailure(FailureKind.AUTH, "unauthorized", message)
    if status == 403 and reason == "insufficientPermissions":
        return ProviderFailure(FailureKind.AUTH, "scope_missing", message)
    if status >= 500:
        return ProviderFailure(FailureKind.TRANSIENT, reason or f"http_{status}", message)
    return ProviderFailure(FailureKind.PERMANENT, reason or f"http_{status}", message)


def _http() -> Any:
    """An httplib2.Http that sends each request once.

    httplib2 sends a request again when the connection drops before the answer: once whatever
    its RETRIES say, for a "bad status line" (httplib2/__init__.py, `_conn_request`). For a
    read that is harmless; for messages.send it is a second email, because Gmail may have sent
    the first. This one sends once: a pooled connection that the server closed while it was
    idle is replaced before the request (the socket reads as closed), and a connection that
    drops after the request is the caller's unknown outcome."""
    import http.client

    import httplib2

    class OnceHttp(httplib2.Http):  # type: ignore[misc]
        def _conn_request(  # httplib2's own signature
            self, conn: Any, request_uri: str, method: str, body: Any, headers: Any
        ) -> tuple[Any, bytes]:
            if conn.sock is not None and _closed_by_peer(conn.sock):
                conn.close()
            try:
                if conn.sock is None:
                    conn.connect()
                conn.request(method, request_uri, body, headers)
                answer = conn.getresponse()
                content = answer.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                raise
            response = httplib2.Response(answer)
            decompress = httplib2._decompressContent  # as httplib2 does itself
            return response, decompress(response, content, self.limit_kwargs)

    return OnceHttp(timeout=HTTP_TIMEOUT_S)


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether an idle connection was closed by the server: it is readable (EOF, or an
    unexpected byte) before anything was asked."""
    import select

    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
