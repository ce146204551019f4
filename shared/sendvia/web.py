"""HTTP plumbing shared by every function: routing, CORS, authentication, errors, logs.

A function owns a `Router` of sub-paths (`GET /`, `PATCH /`, `GET /members` …). `Router.handle`
is the one place that turns a Flask request into a response: it answers CORS preflights,
authenticates the caller, binds the log context, runs the handler, and renders every failure as
`{"error": {...}}` — an unknown exception as a generic 500 that reveals nothing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from sendvia import logs
from sendvia.domain.principal import Principal
from sendvia.errors import AppError, BadRequest, MethodNotAllowed, NotFound, Unauthenticated
from sendvia.runtime import Runtime, current

if TYPE_CHECKING:
    import flask

log = logging.getLogger("sendvia.web")

ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Cloud-Trace-Context"
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None  # JSON, or the page itself when content_type is HTML
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    @classmethod
    def redirect(cls, location: str, **headers: str) -> Reply:
        return cls(
            302,
            None,
            {
                "Location": location,
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                **headers,
            },
        )

    @classmethod
    def page(cls, status: int, title: str, text: str) -> Reply:
        """A plain page for a person in a browser (the OAuth callback)."""
        body = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}"
            f"</title></head><body><h1>{escape(title)}</h1><p>{escape(text)}</p></body>"
            "</html>"
        )
        return cls(status, body, {"Cache-Control": "no-store"}, "text/html; charset=utf-8")


@dataclass(frozen=True)
class Call:
    """What a handler gets: who calls, the request, and the instance's adapters."""

    principal: Principal | None  # None only on routers that do not authenticate
    request: flask.Request
    runtime: Runtime

    @property
    def user(self) -> Principal:
        if self.principal is None:
            raise Unauthenticated(
                "Sign in first.",
                code="missing_token",
                hint="Send Authorization: Bearer <Firebase ID token>.",
            )
        return self.principal

    def json(self) -> Any:
        raw = self.request.get_data(cache=True)
        if not raw.strip():
            raise BadRequest(
                "The request body is empty; a JSON object is expected.",
                code="invalid_json",
                hint="Send a JSON object.",
            )
        try:
            return json.loads(raw)
        except RecursionError as exc:
            raise BadRequest(
                "The request body is nested too deeply.",
                code="invalid_json",
                hint="Send a flat JSON object.",
            ) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(
                f"The request body is not valid JSON ({exc}).",
                code="invalid_json",
                hint="Send a JSON object with Content-Type: application/json.",
            ) from exc


Handler = Callable[..., Reply]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    template: str  # e.g. "/mailboxes/{mailbox_id}"
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """The sub-paths of one function."""

    def __init__(self, function: str, *, public: bool = True, authenticate: bool = True) -> None:
        self.function = function
        self.public = public
        # A browser redirect (the OAuth callback) carries no ID token: its state authenticates it.
        self.authenticate = authenticate
        self.routes: list[RouteSpec] = []

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        regex = "^" + _PARAM.sub(r"(?P<\1>[^/:]+)", template.rstrip("/")) + "/?$"

        def register(handler: Handler) -> Handler:
            self.routes.append(RouteSpec(method, template, re.compile(regex), handler))
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = []
        for spec in self.routes:
            found = spec.pattern.match(path)
            if found is None:
                continue
            if spec.method == method:
                return spec.handler, found.groupdict()
            allowed.append(spec.method)
        if allowed:
            methods = sorted(set(allowed))
            raise MethodNotAllowed(
                f"{method} is not supported on {path}.",
                hint=f"Use {' or '.join(methods)}.",
                allowed=methods,
            )
        raise NotFound(
            f"There is nothing at {self.function}{path}.",
            hint="Check the path against the API reference.",
        )

    def handle(self, request: flask.Request, runtime: Runtime | None = None) -> flask.Response:
        rt = runtime or current()
        origin = request.headers.get("Origin", "")
        cors = _cors_headers(origin, rt.settings.cors_origins)
        if request.method == "OPTIONS":
            return _response(
                Reply(204, None, {**cors, **_preflight_headers()}) if cors else Reply(403, None)
            )
        context = logs.bind(function=self.function, **_trace(request, rt.settings.project))
        try:
            principal = rt.identity.verify(_bearer(request)) if self.authenticate else None
            if principal is not None:
                logs.bind(tenant_id=principal.tenant_id, uid=principal.uid)
                rt.members.touch(principal)
            handler, params = self.match(request.method, request.path or "/")
            reply = handler(Call(principal, request, rt), **params)
        except AppError as exc:
            level = logging.WARNING if exc.status < 500 else logging.ERROR
            log.log(level, "%s %s → %d %s", request.method, request.path, exc.status, exc.code)
            extra = {"Allow": ", ".join(exc.allowed)} if isinstance(exc, MethodNotAllowed) else {}
            reply = Reply(exc.status, exc.body(), extra)
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            reply = Reply(
                500,
                {
                    "error": {
                        "code": "internal",
                        "message": "Something went wrong on our side.",
                        "hint": "Try again; if it keeps failing, contact support.",
                    }
                },
            )
        finally:
            logs.reset(context)
        return _response(
            Reply(reply.status, reply.body, {**reply.headers, **cors}, reply.content_type)
        )


def _bearer(request: flask.Request) -> str:
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthenticated(
            "Sign in first: the request has no Authorization header.",
            code="missing_token",
            hint="Send Authorization: Bearer <Firebase ID token>.",
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "The Authorization header must be 'Bearer <ID token>'.",
            code="invalid_token",
            hint="Send Authorization: Bearer <Firebase ID token>.",
        )
    return token.strip()


def _trace(request: flask.Request, project: str) -> dict[str, str]:
    trace = logs.trace_from_header(request.headers.get("X-Cloud-Trace-Context"), project)
    return {"trace": trace} if trace else {}


def _cors_headers(origin: str, allowed: tuple[str, ...]) -> dict[str, str]:
    if not origin or origin.rstrip("/") not in allowed:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _preflight_headers() -> dict[str, str]:
    return {
        "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": "3600",
    }


def _response(reply: Reply) -> flask.Response:
    import flask

    if reply.body is None:
        response = flask.Response(status=reply.status)
    elif reply.content_type == "application/json":
        response = flask.Response(
            json.dumps(reply.body), status=reply.status, content_type=reply.content_type
        )
    else:
        response = flask.Response(reply.body, status=reply.status, content_type=reply.content_type)
    response.headers.update(reply.headers)
    return response
