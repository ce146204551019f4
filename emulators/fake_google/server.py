"""A fake Google for the local stack: OAuth 2.0 with a consent page, userinfo, and Gmail send.

The real client libraries (google-auth-oauthlib, google-auth, google-api-python-client) talk to it
through endpoint settings only. Behaviour follows Google's documentation: PKCE S256 is required,
codes are single-use and live 10 minutes, a used or expired code or a revoked token answers
`invalid_grant`, revoking either token of a grant revokes the grant, the token response carries the
granted scopes (a user may untick a sensitive scope on the consent page), Gmail errors have
Google's JSON shape and reasons, and every account has a daily and per-minute sending quota.

Gmail's read API (profile, history, messages.list and .get) and its quota units are in
mailbox.py, with mail arriving and bouncing.

Test API (for tests and for a person): GET /_fake/accounts/{email}/sent,
POST /_fake/accounts/{email}:revoke, POST /_fake/accounts/{email}:limits, GET /_fake/accounts,
POST /_fake/accounts/{email}/inbox, POST /_fake/accounts/{email}:expire_history|:undeliverable,
and GET /_fake/received: what every request to Google carried (query, form, body, Authorization),
so a test can prove that no credential meant for another provider ever reached Google.

    python -m emulators.fake_google.server --port 8200 --client-id ID --client-secret SECRET
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import contextlib
import html
import io
import logging
import random
import threading
import time
from email import message_from_bytes, policy
from email.utils import getaddresses
from typing import Any
from urllib.parse import urlencode

import flask

from emulators.fake_google import mailbox
from emulators.fake_google.state import FakeGoogleState, QuotaExceeded

SEND_SCOPES = {
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.compose",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://mail.google.com/",
}
READ_SCOPES = {
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.metadata",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://mail.google.com/",
}
PROFILE_SCOPES = {
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
}
MAX_RECIPIENTS = 100
MAX_RECEIVED = 20_000  # requests remembered for /_fake/received
MAX_RECORDED_BODY = 64 * 1024


def _method_override(wsgi_app: Any) -> Any:
    """Google's APIs take a POST with `X-HTTP-Method-Override: GET` and the query string as a
    form body: what google-api-python-client sends for a GET whose URL passes 2,048 characters
    (a `messages.list` with a long `q`)."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").upper() == "GET":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length).decode() if length else ""
            query = environ.get("QUERY_STRING", "")
            environ["QUERY_STRING"] = "&".join(p for p in (query, body) if p)
            environ["REQUEST_METHOD"] = "GET"
            environ["CONTENT_LENGTH"] = "0"
            environ["wsgi.input"] = io.BytesIO(b"")
        return wsgi_app(environ, start_response)

    return app


def create_app(client_id: str, client_secret: str) -> flask.Flask:
    app = flask.Flask("fake_google")
    app.wsgi_app = _method_override(app.wsgi_app)  # type: ignore[method-assign]
    state = FakeGoogleState()
    app.config["STATE"] = state
    received: collections.deque[dict[str, str]] = collections.deque(maxlen=MAX_RECEIVED)

    @app.before_request
    def record() -> None:
        request = flask.request
        if request.path.startswith("/_fake/"):
            return
        body = request.get_data(as_text=True)  # cached first, so the form can still be parsed
        received.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string.decode("utf-8", "replace"),
                "form": urlencode(list(request.form.items(multi=True))),
                "form_values": "\n".join(request.form.values()),
                "body": body[:MAX_RECORDED_BODY],
                "authorization": request.headers.get("Authorization", ""),
            }
        )

    @app.get("/_fake/received")
    def what_was_received() -> Any:
        return {"requests": list(received)}

    @app.post("/_fake/faults")
    def set_faults() -> Any:
        faults.odds = {k: float(v) for k, v in (flask.request.get_json(silent=True) or {}).items()}
        return {"faults": faults.odds}

    @app.get("/_fake/faults")
    def get_faults() -> Any:
        return {"faults": faults.odds, "injected": faults.injected}

    _register_oauth(app, state, client_id, client_secret)
    _register_gmail(app, state)
    _register_test_api(app, state)
    mailbox.register_test_api(app, state)
    return app


def _register_oauth(
    app: flask.Flask, state: FakeGoogleState, client_id: str, client_secret: str
) -> None:
    # -- OAuth 2.0 -----------------------------------------------------------------------------

    @app.get("/o/oauth2/v2/auth")
    @app.get("/o/oauth2/auth")
    def authorize() -> Any:
        args = flask.request.args
        problem = _check_authorization_request(args, client_id)
        if problem:
            return _page("Error 400: invalid_request", f"<p>{html.escape(problem)}</p>"), 400
        scopes = args["scope"].split()
        boxes = "".join(
            f'<label><input type="checkbox" name="scope" value="{html.escape(s)}" checked'
            f"{' disabled' if s in PROFILE_SCOPES else ''}> {html.escape(s)}</label><br>"
            for s in scopes
        )
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in args.items()
            if k != "scope"
        )
        basic = "".join(
            f'<input type="hidden" name="scope" value="{html.escape(s)}">'
            for s in scopes
            if s in PROFILE_SCOPES
        )
        body = (
            f'<form method="post" action="{flask.url_for("consent")}">{hidden}{basic}'
            '<p><label>Email or phone<br><input type="email" name="email" required '
            f'value="{html.escape(args.get("login_hint", ""))}" autofocus></label></p>'
            "<p>The app wants to:</p>"
            + boxes
            + '<p><button type="submit" name="decision" value="allow">Allow</button> '
            '<button type="submit" name="decision" value="cancel" formnovalidate>Cancel</button>'
            "</p></form>"
        )
        return _page("Sign in with Google (fake)", body)

    @app.post("/o/oauth2/v2/auth")
    def consent() -> Any:
        form = flask.request.form
        problem = _check_authorization_request(form, client_id, scopes_key=None)
        if problem:
            return _page("Error 400: invalid_request", f"<p>{html.escape(problem)}</p>"), 400
        redirect_uri = form["redirect_uri"]
        if form.get("decision") != "allow":
            return _redirect(redirect_uri, error="access_denied", state=form.get("state"))
        email = form.get("email", "").strip()
        if "@" not in email or len(email) > 254:
            return _page("Sign in with Google (fake)", "<p>Enter a valid email address.</p>"), 400
        granted = tuple(dict.fromkeys(form.getlist("scope")))
        code = state.issue_code(
            email=email,
            client_id=form["client_id"],
            scopes=granted,
            redirect_uri=redirect_uri,
            challenge=form["code_challenge"],
            offline=form.get("access_type") == "offline",
        )
        return _redirect(
            redirect_uri,
            code=code,
            scope=" ".join(granted),
            state=form.get("state"),
            authuser="0",
            prompt="consent",
        )

    @app.post("/token")
    def token() -> Any:
        form = flask.request.form
        auth = flask.request.authorization
        given_id = form.get("client_id") or (auth.username if auth else None)
        given_secret = form.get("client_secret") or (auth.password if auth else None)
        if given_id != client_id or given_secret != client_secret:
            return {"error": "invalid_client", "error_description": "Unauthorized"}, 401
        grant_type = form.get("grant_type")
        try:
            if grant_type == "authorization_code":
                grant = state.redeem_code(
                    form.get("code", ""),
                    client_id,
                    form.get("redirect_uri", ""),
                    form.get("code_verifier", ""),
                )
                body = {
                    "access_token": state.mint_access_token(grant),
                    "expires_in": 3599,
                    "scope": " ".join(grant.scopes),
                    "token_type": "Bearer",
                }
                if grant.refresh_token:
                    body["refresh_token"] = grant.refresh_token
                return body
            if grant_type == "refresh_token":
                grant = state.grant_for_refresh(form.get("refresh_token", ""), client_id)
                return {
                    "access_token": state.mint_access_token(grant),
                    "expires_in": 3599,
                    "scope": " ".join(grant.scopes),
                    "token_type": "Bearer",
                }
        except ValueError as exc:
            return {"error": "invalid_grant", "error_description": str(exc)}, 400
        return {
            "error": "unsupported_grant_type",
            "error_description": f"Invalid grant_type: {grant_type}",
        }, 400

    @app.post("/revoke")
    def revoke() -> Any:
        token = flask.request.values.get("token", "")
        if state.revoke_token(token):
            return {}
        return {"error": "invalid_token", "error_description": "Token expired or revoked"}, 400

    @app.get("/oauth2/v3/userinfo")
    @app.get("/oauth2/v2/userinfo")
    def userinfo() -> Any:
        grant = _bearer_grant(state)
        if grant is None or not PROFILE_SCOPES & set(grant.scopes):
            return {"error": "invalid_request", "error_description": "Invalid Credentials"}, 401
        account = state.account(grant.email)
        return {
            "sub": account.sub,
            "email": account.email,
            "email_verified": True,
            "name": account.name,
            "given_name": account.name.split(" ")[0],
        }


class Faults:
    """Odds of misbehaving on messages.send, set by POST /_fake/faults: `error_5xx` (503
    backendError), `rate_limit` (429), `slow_after_send` (the message sent, the answer only
    after `slow_s` seconds), `drop_after_send` (the message sent, the connection closed without
    an answer); and how many were injected."""

    def __init__(self) -> None:
        self.odds: dict[str, float] = {}
        self.injected: dict[str, int] = {}
        self._rng = random.Random(11)  # noqa: S311 - reproducible misbehaviour
        self._lock = threading.Lock()

    def error(self) -> Any:
        """The injected error answer, if this request gets one."""
        if self.hit("error_5xx"):
            return _gmail_error(503, "Backend Error (injected)", "backendError", "UNAVAILABLE")
        if self.hit("rate_limit"):
            body, status = _gmail_error(
                429, "Rate Limit Exceeded (injected)", "rateLimitExceeded", "RESOURCE_EXHAUSTED"
            )
            response = flask.jsonify(body)
            response.status_code = status
            response.headers["Retry-After"] = str(int(self.odds.get("retry_after_s", 2)))
            return response
        return None

    def hit(self, kind: str) -> bool:
        with self._lock:
            hit = self._rng.random() < self.odds.get(kind, 0.0)
            if hit:
                self.injected[kind] = self.injected.get(kind, 0) + 1
            return hit


faults = Faults()


def _register_gmail(app: flask.Flask, state: FakeGoogleState) -> None:
    # -- Gmail API -----------------------------------------------------------------------------

    mailbox.register(app, state, _gmail_auth, _gmail_error)

    @app.post("/gmail/v1/users/<user_id>/messages/send")
    def send(user_id: str) -> Any:
        grant, problem = _gmail_auth(state, user_id, SEND_SCOPES)
        problem = problem or faults.error()
        if problem:
            return problem
        payload = flask.request.get_json(silent=True) or {}
        try:
            raw = base64.urlsafe_b64decode(str(payload.get("raw", "")) + "==")
        except (binascii.Error, ValueError):
            raw = b""
        if not raw.strip():
            return _gmail_error(
                400, "Invalid value for ByteString: raw", "invalidArgument", "INVALID_ARGUMENT"
            )
        parsed = message_from_bytes(raw, policy=policy.default)
        recipients = [
            a
            for _, a in getaddresses(
                [str(v) for h in ("To", "Cc", "Bcc") for v in parsed.get_all(h, [])]
            )
            if a
        ]
        if not recipients:
            return _gmail_error(
                400, "Recipient address required", "invalidArgument", "INVALID_ARGUMENT"
            )
        if len(recipients) > MAX_RECIPIENTS:
            return _gmail_error(400, "Too many recipients", "invalidArgument", "INVALID_ARGUMENT")
        account = state.account(grant.email)
        message_id = f"{int(time.time() * 1000):x}{len(account.sent):04x}"
        record = {
            "id": message_id,
            "threadId": message_id,
            "labelIds": ["SENT"],
            "from": str(parsed.get("From", "")),
            "to": recipients,
            "subject": str(parsed.get("Subject", "")),
            "message_id": str(parsed.get("Message-ID", "")),
            "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "raw": raw.decode("utf-8", errors="replace"),
        }
        try:
            mailbox.spend(state, account, "send")
            state.record_send(account, record)
        except QuotaExceeded as exc:
            return _quota_error(exc)
        record["id"] = message_id = mailbox.file_message(state, account, raw, ["SENT"])
        record["threadId"] = message_id
        mailbox.bounce_later(state, account, raw)
        if faults.hit("slow_after_send"):  # sent, then no answer within the client's patience
            time.sleep(faults.odds.get("slow_s", 35.0))
        if faults.hit("drop_after_send"):  # sent, then the connection dropped before the answer
            _drop_connection()
        return {"id": message_id, "threadId": message_id, "labelIds": ["SENT"]}


def _register_test_api(app: flask.Flask, state: FakeGoogleState) -> None:
    # -- the fake's own test API ---------------------------------------------------------------

    @app.get("/_fake/accounts")
    def accounts() -> Any:
        with state.lock:
            return {
                "accounts": [
                    {
                        "email": a.email,
                        "name": a.name,
                        "sent": len(a.sent),
                        "daily_limit": a.daily_limit,
                        "per_minute": a.per_minute,
                    }
                    for a in state.accounts.values()
                ]
            }

    @app.get("/_fake/accounts/<email>/sent")
    def sent(email: str) -> Any:
        with state.lock:
            return {"messages": list(state.account(email).sent)}

    @app.get("/_fake/accounts/<email>/tokens")
    def tokens(email: str) -> Any:
        """Every token issued to the account, so a test can prove none of them leaks."""
        return {"tokens": state.tokens_of(state.account(email).email)}

    @app.post("/_fake/accounts/<path:action>")
    def account_action(action: str) -> Any:
        email, _, verb = action.rpartition(":")
        account = state.account(email)
        if verb == "revoke":
            return {"revoked": state.revoke_account(account.email)}
        done = mailbox.account_action(state, account, verb)
        if done is not None:
            return done
        if verb == "limits":
            body = flask.request.get_json(silent=True) or {}
            with state.lock:
                for key in ("daily_limit", "per_minute", "units_per_minute"):
                    if key in body:
                        value = body[key]
                        if not isinstance(value, int) or value < 0:
                            return {"error": f"{key} must be a non-negative integer"}, 400
                        setattr(account, key, value)
                return {
                    "daily_limit": account.daily_limit,
                    "per_minute": account.per_minute,
                    "units_per_minute": account.units_per_minute,
                }
        return {
            "error": f"unknown action {verb!r}: use :revoke, :limits, :expire_history or "
            ":undeliverable"
        }, 404

    @app.get("/")
    def index() -> Any:
        with state.lock:
            rows = "".join(
                f'<li>{html.escape(a.email)} — <a href="/_fake/accounts/{html.escape(a.email)}'
                f'/sent">{len(a.sent)} sent</a></li>'
                for a in state.accounts.values()
            )
        return _page("Fake Google", f"<p>Accounts:</p><ul>{rows or '<li>none yet</li>'}</ul>")


def _check_authorization_request(
    args: Any, client_id: str, scopes_key: str | None = "scope"
) -> str | None:
    if args.get("client_id") != client_id:
        return "The OAuth client was not found (invalid_client)."
    if args.get("response_type", "code") != "code":
        return "Only response_type=code is supported."
    if not str(args.get("redirect_uri", "")).startswith(("http://", "https://")):
        return "Missing or invalid redirect_uri."
    if scopes_key and not args.get(scopes_key, "").split():
        return "Missing required parameter: scope"
    if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
        return "PKCE is required: code_challenge with code_challenge_method=S256."
    return None


def _drop_connection() -> None:
    """Close the client's connection without an answer (werkzeug's server hands its socket to
    the request); what the server then writes goes nowhere."""
    import socket

    connection = flask.request.environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
        connection.close()


def _bearer_grant(state: FakeGoogleState) -> Any:
    header = flask.request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    return state.grant_for_access(header.removeprefix("Bearer ").strip())


def _gmail_auth(state: FakeGoogleState, user_id: str, scopes: set[str]) -> tuple[Any, Any]:
    grant = _bearer_grant(state)
    if grant is None:
        return None, _gmail_error(
            401, "Request had invalid authentication credentials.", "authError", "UNAUTHENTICATED"
        )
    if not scopes & set(grant.scopes):
        return None, _gmail_error(
            403,
            "Request had insufficient authentication scopes.",
            "insufficientPermissions",
            "PERMISSION_DENIED",
        )
    if user_id not in ("me", grant.email):
        return None, _gmail_error(
            403, "Delegation denied for " + grant.email, "forbidden", "PERMISSION_DENIED"
        )
    return grant, None


def _gmail_error(
    code: int, message: str, reason: str, status: str, domain: str = "global"
) -> tuple[dict[str, Any], int]:
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }, code


def _quota_error(exc: QuotaExceeded) -> Any:
    retry_at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + exc.retry_after_s))
    if exc.kind == "daily":
        # The daily sending limit (support.google.com/a/answer/166852) as the API reports it.
        body, status = _gmail_error(
            429,
            f"User-rate limit exceeded.  Retry after {retry_at} (Mail sending)",
            "rateLimitExceeded",
            "RESOURCE_EXHAUSTED",
            "usageLimits",
        )
    else:
        body, status = _gmail_error(
            403,
            "User Rate Limit Exceeded. Rate of requests for user exceed configured project quota.",
            "userRateLimitExceeded",
            "PERMISSION_DENIED",
            "usageLimits",
        )
    response = flask.jsonify(body)
    response.status_code = status
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


def _redirect(uri: str, **params: str | None) -> Any:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return flask.redirect(f"{uri}{'&' if '?' in uri else '?'}{query}", code=302)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:32em;margin:3em auto}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake Google: OAuth 2.0, userinfo, Gmail send")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--client-id", required=True)
    parser.add_argument(
        "--client-secret-file",
        required=True,
        help="file holding the OAuth client secret (kept out of the command line)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with open(args.client_secret_file) as handle:
        secret = handle.read().strip()
    from werkzeug.serving import run_simple

    run_simple(args.host, args.port, create_app(args.client_id, secret), threaded=True)


if __name__ == "__main__":
    main()
