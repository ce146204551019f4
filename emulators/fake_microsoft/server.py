"""A fake Microsoft identity platform (v2.0) and Microsoft Graph mail, for the local stack.

sendvia talks to it with `requests` exactly as to login.microsoftonline.com and
graph.microsoft.com; only the base URL differs. What it does, from Microsoft's docs
(../shared/FACTS.md § Microsoft):
- `/{tenant}/oauth2/v2.0/authorize` for common, organizations and consumers: a consent page (a
  plain form: account, Accept / Cancel), codes with PKCE S256, single use (AADSTS54005 when
  reused), redeemable only on the tenant segment they were issued for;
- `/{tenant}/oauth2/v2.0/token`: codes and refresh tokens; a refresh token **rotates on every
  use**, and the old one keeps working; dead grants answer `invalid_grant` with their AADSTS code;
- Graph `/v1.0/me`, drafts (`POST /me/messages`, JSON or base64 MIME) and their send (202),
  `POST /me/sendMail`, Sent Items, `$filter=internetMessageId eq '…'`, Microsoft's error bodies;
- Exchange's limits: 4 concurrent requests per mailbox and 30 messages a minute, as 429 with
  `Retry-After`;
- a test API under `/_fake/` (accounts, what each sent, its tokens; put an account into a
  dead-grant state or another failure).

    python -m emulators.fake_microsoft.server --port 8400 --client-id ID --client-secret-file F
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import html
import logging
import time
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.utils import getaddresses
from typing import Any
from urllib.parse import urlencode

import flask

from emulators.fake_microsoft import mailbox as reading
from emulators.fake_microsoft.state import (
    CONCURRENT_REQUESTS,
    Account,
    FakeMicrosoftState,
    Grant,
    GrantError,
)

TENANT_SEGMENTS = ("common", "organizations", "consumers")
MAIL_SEND = "https://graph.microsoft.com/Mail.Send"
MAIL_READ = "https://graph.microsoft.com/Mail.Read"
USER_READ = "https://graph.microsoft.com/User.Read"
# Scopes as an app asks for them (short) and as Graph knows them (full).
SHORT_SCOPES = {"Mail.Send": MAIL_SEND, "Mail.Read": MAIL_READ, "User.Read": USER_READ}
MAX_MIME_BYTES = 4 * 1024 * 1024  # a request's body; larger attachments need an upload session


def create_app(client_id: str, client_secret: str, redirect_uri: str | None = None) -> flask.Flask:
    app = flask.Flask("fake_microsoft")
    state = FakeMicrosoftState()
    app.config["state"] = state
    _register_identity(app, state, client_id, client_secret, redirect_uri)
    _register_graph(app, state)
    _register_test_api(app, state)
    return app


# -- the identity platform ---------------------------------------------------------------------


def _register_identity(
    app: flask.Flask,
    state: FakeMicrosoftState,
    client_id: str,
    client_secret: str,
    registered_redirect: str | None,
) -> None:
    def check(args: Any, tenant: str) -> str | None:  # noqa: PLR0911 - one refusal per rule
        if tenant not in TENANT_SEGMENTS:
            return f"AADSTS90002: Tenant '{tenant}' not found."
        if args.get("client_id") != client_id:
            return f"AADSTS700016: Application with identifier '{args.get('client_id')}' was not found in the directory."
        if args.get("response_type") != "code":
            return "AADSTS900144: The request body must contain the following parameter: 'response_type'."
        redirect = args.get("redirect_uri", "")
        if not redirect or (registered_redirect and redirect != registered_redirect):
            return "AADSTS50011: The redirect URI specified in the request does not match the redirect URIs configured for the application."
        scope = args.get("scope", "")
        if not scope or "," in scope:
            return "AADSTS70011: The provided value for the input parameter 'scope' is not valid."
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption."
        return None

    @app.get("/<tenant>/oauth2/v2.0/authorize")
    def authorize(tenant: str) -> Any:
        args = flask.request.args
        problem = check(args, tenant)
        if problem:
            return _page("Sorry, but we're having trouble signing you in.", problem), 400
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in args.items()
        )
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in args["scope"].split())
        body = (
            f'<form method="post">{hidden}'
            '<p><label>Email, phone, or Skype<br><input type="email" name="email" required '
            f'value="{html.escape(args.get("login_hint", ""))}" autofocus></label></p>'
            f"<p>This app would like to:</p><ul>{scopes}</ul>"
            '<p><button type="submit" name="decision" value="accept">Accept</button> '
            '<button type="submit" name="decision" value="cancel" formnovalidate>Cancel</button>'
            "</p></form>"
        )
        return _page("Permissions requested (fake Microsoft)", body)

    @app.post("/<tenant>/oauth2/v2.0/authorize")
    def consent(tenant: str) -> Any:
        form = flask.request.form
        problem = check(form, tenant)
        if problem:
            return _page("Sorry, but we're having trouble signing you in.", problem), 400
        redirect_uri, st = form["redirect_uri"], form.get("state")
        if form.get("decision") != "accept":
            return _redirect(
                redirect_uri,
                error="access_denied",
                error_description="AADSTS65004: User declined to consent to access the app.",
                state=st,
            )
        email = form.get("email", "").strip()
        if "@" not in email or len(email) > 254:
            return _page("Sign in (fake Microsoft)", "Enter a valid email address."), 400
        account = state.account(email)
        if (tenant == "consumers" and not account.personal) or (
            tenant == "organizations" and account.personal
        ):
            kind = "work or school" if tenant == "organizations" else "personal Microsoft"
            return _page("Sign in (fake Microsoft)", f"Use a {kind} account here."), 400
        if account.admin_consent_required:
            return _redirect(
                redirect_uri,
                error="access_denied",
                error_description="AADSTS90094: The grant requires admin permission.",
                state=st,
            )
        scopes = tuple(SHORT_SCOPES.get(s, s) for s in form["scope"].split())
        code = state.issue_code(
            Grant(account.email, client_id, scopes, tenant), redirect_uri, form["code_challenge"]
        )
        return _redirect(redirect_uri, code=code, state=st)

    @app.post("/<tenant>/oauth2/v2.0/token")
    def token(tenant: str) -> Any:
        form = flask.request.form
        if form.get("client_id") != client_id:
            return _aad_error("unauthorized_client", 700016, "Application not found.", 400)
        if form.get("client_secret") != client_secret:
            return _aad_error("invalid_client", 7000215, "Invalid client secret provided.", 401)
        try:
            if form.get("grant_type") == "authorization_code":
                grant = state.redeem_code(
                    form.get("code", ""),
                    client_id=client_id,
                    redirect_uri=form.get("redirect_uri", ""),
                    verifier=form.get("code_verifier", ""),
                    tenant_segment=tenant,
                )
                return state.tokens_for(grant)
            if form.get("grant_type") == "refresh_token":
                return state.refresh(form.get("refresh_token", ""), client_id, tenant)
        except GrantError as exc:
            return _aad_error(exc.error, exc.code, exc.description, 400)
        return _aad_error(
            "unsupported_grant_type", 70003, "The app requested an unsupported grant type.", 400
        )


def _aad_error(error: str, code: int, description: str, status: int) -> Any:
    now = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    trace = str(uuid.uuid4())
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Timestamp: {now}",
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": str(uuid.uuid4()),
    }, status


# -- Microsoft Graph ---------------------------------------------------------------------------


def _register_graph(app: flask.Flask, state: FakeMicrosoftState) -> None:  # noqa: PLR0915
    @contextlib.contextmanager
    def mailbox(scopes: tuple[str, ...]) -> Iterator[Account]:
        """The caller's mailbox, within Graph's 4 concurrent requests; raises _Answer."""
        header = flask.request.headers.get("Authorization", "")
        grant = state.grant_for_access(header.removeprefix("Bearer ").strip())
        if not header.startswith("Bearer ") or grant is None:
            raise _Answer(
                _graph_error(
                    401,
                    "InvalidAuthenticationToken",
                    "Access token has expired or is not yet valid.",
                )
            )
        if not set(scopes) & set(grant.scopes):
            raise _Answer(
                _graph_error(
                    403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
                )
            )
        account = state.account(grant.email)
        with state.lock:
            if account.in_flight >= CONCURRENT_REQUESTS:
                account.throttled += 1
                raise _Answer(_throttled("Application is over its MailboxConcurrency limit.", 1))
            account.in_flight += 1
        try:
            if account.not_enabled:
                raise _Answer(
                    _graph_error(
                        404,
                        "MailboxNotEnabledForRESTAPI",
                        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
                    )
                )
            yield account
        finally:
            with state.lock:
                account.in_flight -= 1

    @app.errorhandler(_Answer)
    def answer(exc: _Answer) -> Any:
        return exc.response

    reading.register(app, state, mailbox, _graph_error, (MAIL_READ,))

    @app.get("/v1.0/me")
    def me() -> Any:
        with mailbox((USER_READ, MAIL_SEND, MAIL_READ)) as account:
            return {
                "id": account.oid,
                "displayName": account.name,
                "mail": account.mail,
                "userPrincipalName": account.email,
            }

    @app.post("/v1.0/me/messages")
    def create_draft() -> Any:
        with mailbox((MAIL_SEND, MAIL_READ)) as account:
            message = _message_from_request()
            draft_id = "AAMk" + uuid.uuid4().hex
            message.update(id=draft_id, isDraft=True, conversationId="AAQk" + uuid.uuid4().hex[:16])
            with state.lock:
                account.drafts[draft_id] = message
            return message, 201

    @app.delete("/v1.0/me/messages/<draft_id>")
    def delete_draft(draft_id: str) -> Any:
        with mailbox((MAIL_SEND, MAIL_READ)) as account:
            with state.lock:
                gone = account.drafts.pop(draft_id, None)
            if gone is None:
                return _graph_error(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            return "", 204

    @app.post("/v1.0/me/messages/<draft_id>/send")
    def send_draft(draft_id: str) -> Any:
        with mailbox((MAIL_SEND,)) as account:
            with state.lock:
                draft = account.drafts.get(draft_id)
            if draft is None:
                return _graph_error(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            problem = _send_problem(state, account)
            if problem is not None:
                return problem
            with state.lock:
                account.drafts.pop(draft_id, None)
                account.sent.append({**draft, "id": "AAMk" + uuid.uuid4().hex, "isDraft": False,
                                     "sentDateTime": _now()})  # fmt: skip
            reading.filed_sent(state, account, draft)
            return "", 202

    @app.post("/v1.0/me/messages/<draft_id>/attachments")
    def add_attachment(draft_id: str) -> Any:
        """A file attachment under 3 MB, inline (contentBytes)."""
        with mailbox((MAIL_SEND,)) as account:
            body = flask.request.get_json(silent=True) or {}
            try:
                content = base64.b64decode(str(body.get("contentBytes", "")), validate=True)
            except (binascii.Error, ValueError):
                return _graph_error(400, "ErrorInvalidRequest", "contentBytes is not base64.")
            if len(content) > 3 * 1024 * 1024:
                return _graph_error(
                    413,
                    "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
                    "Use an upload session for attachments over 3 MB.",
                )
            with state.lock:
                draft = account.drafts.get(draft_id)
                if draft is None:
                    return _graph_error(
                        404, "ErrorItemNotFound", "The specified object was not found in the store."
                    )
                draft["attachments"].append({"name": body.get("name"), "size": len(content)})
                draft["hasAttachments"] = True
            return {"id": "AAMkAtt" + uuid.uuid4().hex[:12], "name": body.get("name")}, 201

    @app.post("/v1.0/me/messages/<draft_id>/attachments/createUploadSession")
    def create_upload_session(draft_id: str) -> Any:
        with mailbox((MAIL_SEND,)) as account:
            item = (flask.request.get_json(silent=True) or {}).get("AttachmentItem") or {}
            size = item.get("size")
            if not isinstance(size, int) or not 0 < size <= 150 * 1024 * 1024:
                return _graph_error(
                    400, "ErrorInvalidRequest", "AttachmentItem.size must be 1 byte to 150 MB."
                )
            with state.lock:
                if draft_id not in account.drafts:
                    return _graph_error(
                        404, "ErrorItemNotFound", "The specified object was not found in the store."
                    )
                session = uuid.uuid4().hex
                state.uploads[session] = {
                    "email": account.email,
                    "draft": draft_id,
                    "name": item.get("name"),
                    "size": size,
                    "received": bytearray(),
                }
            upload_url = f"{flask.request.host_url.rstrip('/')}/_upload/{session}"
            return {
                "uploadUrl": upload_url,
                "expirationDateTime": _now(),
                "nextExpectedRanges": ["0-"],
            }, 201

    @app.put("/_upload/<session>")
    def upload(session: str) -> Any:
        """Ordered Content-Range PUTs, without an Authorization header (the URL is the key)."""
        if flask.request.headers.get("Authorization"):
            return _graph_error(
                401,
                "InvalidAuthenticationToken",
                "Do not send an Authorization header to an upload URL.",
            )
        with state.lock:
            found = state.uploads.get(session)
        if found is None:
            return _graph_error(404, "ErrorItemNotFound", "The upload session was not found.")
        chunk = flask.request.get_data()
        ranges = flask.request.headers.get("Content-Range", "")
        expected = f"bytes {len(found['received'])}-{len(found['received']) + len(chunk) - 1}/{found['size']}"
        if ranges != expected:
            return _graph_error(416, "InvalidRange", f"Expected Content-Range {expected!r}.")
        with state.lock:
            found["received"].extend(chunk)
            if len(found["received"]) < found["size"]:
                next_range = f"{len(found['received'])}-"
                return {"nextExpectedRanges": [next_range]}, 200
            state.uploads.pop(session, None)
            account = state.account(found["email"])
            draft = account.drafts.get(found["draft"])
            if draft is None:
                return _graph_error(404, "ErrorItemNotFound", "The draft is gone.")
            draft["attachments"].append({"name": found["name"], "size": found["size"]})
            draft["hasAttachments"] = True
        return "", 201

    @app.post("/v1.0/me/sendMail")
    def send_mail() -> Any:
        with mailbox((MAIL_SEND,)) as account:
            body = flask.request.get_json(silent=True) or {}
            message = _message_from_json(body.get("message") or {})
            problem = _send_problem(state, account)
            if problem is not None:
                return problem
            with state.lock:
                account.sent.append({**message, "id": "AAMk" + uuid.uuid4().hex,
                                     "isDraft": False, "sentDateTime": _now()})  # fmt: skip
            reading.filed_sent(state, account, message)
            return "", 202

    @app.get("/v1.0/me/messages")
    @app.get("/v1.0/me/mailFolders/sentitems/messages")
    @app.get("/v1.0/me/mailFolders/inbox/messages")
    def list_messages() -> Any:
        """/me/messages is every folder, drafts included; sentitems only what was sent."""
        with mailbox((MAIL_READ,)) as account:
            searched = reading.search(state, account)  # None for a listing without $search
            if searched is not None:
                return searched
            wanted = _internet_message_id_filter(flask.request.args.get("$filter", ""))
            sent_only = flask.request.path.endswith("/sentitems/messages")
            with state.lock:
                pool = list(account.sent) + ([] if sent_only else list(account.drafts.values()))
                found = [m for m in pool if wanted is None or m["internetMessageId"] == wanted]
            return {
                "value": [
                    {"id": m["id"], "internetMessageId": m["internetMessageId"]} for m in found
                ]
            }


class _Answer(Exception):  # noqa: N818 - a response to give, raised from a helper
    def __init__(self, response: Any) -> None:
        super().__init__("answer")
        self.response = response


def _send_problem(state: FakeMicrosoftState, account: Account) -> Any:
    if account.send_as_denied:
        return _graph_error(
            403,
            "ErrorSendAsDenied",
            "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.",
        )
    wait = state.admit_send(account)
    if wait is not None:
        return _throttled("Application is over its sending limit (30 messages a minute).", wait)
    return None


def _message_from_request() -> dict[str, Any]:
    """A draft as Graph takes it: JSON, or a MIME message base64-encoded as text/plain."""
    if flask.request.mimetype == "text/plain":
        try:
            raw = base64.b64decode(flask.request.get_data(), validate=False)
        except (binascii.Error, ValueError) as exc:
            raise _Answer(
                _graph_error(
                    400,
                    "ErrorMimeContentInvalidBase64String",
                    "Invalid base64 string for MIME content.",
                )
            ) from exc
        if len(raw) > MAX_MIME_BYTES:
            raise _Answer(
                _graph_error(
                    413,
                    "ErrorMessageSizeExceeded",
                    "The message exceeds the maximum supported size.",
                )
            )
        return _message_from_mime(raw)
    return _message_from_json(flask.request.get_json(silent=True) or {})


def _message_from_mime(raw: bytes) -> dict[str, Any]:
    parsed = message_from_bytes(raw, policy=policy.default)

    def people(header: str) -> list[dict[str, Any]]:
        values = [str(v) for v in parsed.get_all(header, [])]
        return [{"emailAddress": {"name": n, "address": a}} for n, a in getaddresses(values) if a]

    if not (people("To") or people("Cc") or people("Bcc")):
        raise _Answer(
            _graph_error(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
        )
    attachments = [
        {"name": part.get_filename(), "size": len(part.get_payload(decode=True) or b"")}
        for part in parsed.iter_attachments()
    ]
    return {
        "subject": str(parsed.get("Subject", "")),
        "from": people("From")[0] if people("From") else None,
        "toRecipients": people("To"),
        "ccRecipients": people("Cc"),
        "bccRecipients": people("Bcc"),
        "replyTo": people("Reply-To"),
        "internetMessageId": str(parsed.get("Message-ID") or f"<{uuid.uuid4().hex}@fake.outlook>"),
        "hasAttachments": bool(attachments),
        "attachments": attachments,
        "mime": raw.decode("utf-8", errors="replace"),
    }


def _message_from_json(message: dict[str, Any]) -> dict[str, Any]:
    if not (
        message.get("toRecipients") or message.get("ccRecipients") or message.get("bccRecipients")
    ):
        raise _Answer(
            _graph_error(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
        )
    return {
        "subject": str(message.get("subject", "")),
        "toRecipients": message.get("toRecipients") or [],
        "ccRecipients": message.get("ccRecipients") or [],
        "bccRecipients": message.get("bccRecipients") or [],
        "replyTo": message.get("replyTo") or [],
        "internetMessageId": str(
            message.get("internetMessageId") or f"<{uuid.uuid4().hex}@fake.outlook>"
        ),
        "hasAttachments": bool(message.get("attachments")),
        "attachments": [{"name": a.get("name")} for a in message.get("attachments") or []],
        "body": message.get("body") or {},
    }


def _internet_message_id_filter(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    prefix = "internetMessageId eq '"
    if not text.startswith(prefix) or not text.endswith("'"):
        raise _Answer(
            _graph_error(
                400,
                "ErrorInvalidUrlQueryFilter",
                "The query filter contains one or more invalid nodes.",
            )
        )
    return text[len(prefix) : -1].replace("''", "'")


def _graph_error(status: int, code: str, message: str) -> Any:
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"request-id": str(uuid.uuid4()), "date": _now()},
        }
    }
    return flask.jsonify(body), status


def _throttled(message: str, retry_after_s: int) -> Any:
    response, status = _graph_error(429, "ApplicationThrottled", message)
    response.headers["Retry-After"] = str(retry_after_s)
    return response, status


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- the fake's own test API -------------------------------------------------------------------

_FLAGS = {
    "revoke": ("dead", "revoked"),
    "password_changed": ("dead", "password_changed"),
    "inactive": ("dead", "inactive"),
    "mfa_required": ("dead", "mfa_required"),
    "admin_consent_required": ("admin_consent_required", True),
    "not_enabled": ("not_enabled", True),
    "send_as_denied": ("send_as_denied", True),
    "no_mail": ("mail", None),
}


def _register_test_api(app: flask.Flask, state: FakeMicrosoftState) -> None:
    @app.get("/_fake/accounts")
    def accounts() -> Any:
        with state.lock:
            return {
                "accounts": [
                    {
                        "email": a.email,
                        "personal": a.personal,
                        "sent": len(a.sent),
                        "throttled": a.throttled,
                        "dead": a.dead,
                    }
                    for a in state.accounts.values()
                ]
            }

    @app.get("/_fake/accounts/<email>/sent")
    def sent(email: str) -> Any:
        with state.lock:
            return {"messages": list(state.account(email).sent)}

    @app.get("/_fake/accounts/<email>/drafts")
    def drafts(email: str) -> Any:
        with state.lock:
            return {"messages": list(state.account(email).drafts.values())}

    @app.post("/_fake/accounts/<email>/drafts")
    def add_draft(email: str) -> Any:
        """A draft left in the mailbox (as by a client that died before sending it)."""
        body = flask.request.get_json(silent=True) or {}
        draft_id = "AAMk" + uuid.uuid4().hex
        draft = {
            "id": draft_id,
            "isDraft": True,
            "subject": str(body.get("subject", "")),
            "toRecipients": [],
            "internetMessageId": str(body.get("internetMessageId", "")),
            "attachments": [],
        }
        with state.lock:
            state.account(email).drafts[draft_id] = draft
        return draft, 201

    @app.get("/_fake/accounts/<email>/redeemed")
    def redeemed(email: str) -> Any:
        """The refresh tokens the account's grants were refreshed with, in order."""
        with state.lock:
            return {"refresh_tokens": list(state.account(email).redeemed)}

    @app.get("/_fake/accounts/<email>/tokens")
    def tokens(email: str) -> Any:
        """Every token issued to the account, so a test can prove none of them leaks."""
        return {"tokens": state.tokens_of(state.account(email).email)}

    @app.post("/_fake/accounts/<email>/inbox")
    def arrive(email: str) -> Any:
        return reading.arrive(state, state.account(email))

    @app.get("/_fake/accounts/<email>/reads")
    def reads(email: str) -> Any:
        return reading.reads(state, state.account(email))

    @app.post("/_fake/accounts/<path:action>")
    def account_action(action: str) -> Any:  # noqa: PLR0911 - one answer per action
        email, _, verb = action.rpartition(":")
        account = state.account(email)
        done = reading.account_action(state, account, verb)
        if done is not None:
            return done
        if verb == "limits":
            body = flask.request.get_json(silent=True) or {}
            value, window = body.get("per_minute"), body.get("window_s", 60)
            if not isinstance(value, int) or value < 0:
                return {"error": "per_minute must be a non-negative integer"}, 400
            if not isinstance(window, int | float) or not 0 < window <= 3600:
                return {"error": "window_s must be 1 to 3600 seconds"}, 400
            account.per_minute, account.window_s = value, float(window)
            return {"per_minute": value, "window_s": window}
        if verb == "expire_tokens":
            return {"expired": state.expire_access_tokens(account.email)}
        if verb == "restore":
            with state.lock:
                account.dead = None
                account.admin_consent_required = account.not_enabled = False
                account.send_as_denied = False
                account.mail = account.email
            return {"restored": account.email}
        if verb not in _FLAGS:
            known = ", ".join(
                sorted(
                    [
                        *_FLAGS,
                        "limits",
                        "expire_tokens",
                        "restore",
                        "expire_delta",
                        "delta_quirks",
                        "undeliverable",
                        "read_limits",
                    ]
                )
            )
            return {"error": f"unknown action {verb!r}: one of {known}"}, 404
        attribute, value = _FLAGS[verb]
        with state.lock:
            setattr(account, attribute, value)
        return {"account": account.email, attribute: value}

    @app.get("/")
    def index() -> Any:
        with state.lock:
            rows = "".join(
                f"<li>{html.escape(a.email)}: {len(a.sent)} sent"
                + "".join(
                    f"<br>&nbsp;&nbsp;{html.escape(m['subject'])} → "
                    + html.escape(
                        ", ".join(r["emailAddress"]["address"] for r in m["toRecipients"])
                    )
                    for m in a.sent[-20:]
                )
                + "</li>"
                for a in state.accounts.values()
            )
        return _page("Fake Microsoft: Sent Items", f"<ul>{rows or '<li>nothing yet</li>'}</ul>")


def _redirect(uri: str, **params: str | None) -> Any:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return flask.redirect(f"{uri}{'&' if '?' in uri else '?'}{query}", code=302)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake Microsoft: identity platform and Graph mail")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400)
    parser.add_argument("--client-id", required=True)
    parser.add_argument(
        "--client-secret-file",
        required=True,
        help="file holding the OAuth client secret (kept out of the command line)",
    )
    parser.add_argument("--redirect-uri", help="the one redirect URI registered for the app")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with open(args.client_secret_file) as handle:
        secret = handle.read().strip()
    from werkzeug.serving import run_simple

    run_simple(
        args.host,
        args.port,
        create_app(args.client_id, secret, args.redirect_uri),
        threaded=True,
    )


if __name__ == "__main__":
    main()
