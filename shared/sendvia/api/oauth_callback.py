"""`oauth_callback`: the browser's side of "Sign in with Google" (no ID token: the one-time state
and the browser cookie set at `begin` authenticate the request)."""

from __future__ import annotations

from sendvia.services import connect
from sendvia.web import Call, Reply, Router

router = Router("oauth_callback", authenticate=False)

_START_AGAIN = "Go back to the email settings and choose Sign in with Google again."


@router.route("GET", "/begin")
def begin(call: Call) -> Reply:
    try:
        redirect = connect.begin(
            call.runtime,
            call.request.args.get("state", ""),
            call.request.cookies.get(connect.BROWSER_COOKIE),
        )
    except connect.FlowRefused as refused:
        return Reply.page(400, "This sign-in link cannot be used", f"{refused} {_START_AGAIN}")
    return Reply.redirect(redirect.location, **{"Set-Cookie": redirect.cookie or ""})


@router.route("GET", "/")
def finish(call: Call) -> Reply:
    try:
        redirect = connect.finish(
            call.runtime,
            dict(call.request.args.items()),
            call.request.cookies.get(connect.BROWSER_COOKIE),
        )
    except connect.FlowRefused as refused:
        return Reply.page(
            400, "Sign in with Google could not be completed", f"{refused} {_START_AGAIN}"
        )
    return Reply.redirect(redirect.location)
