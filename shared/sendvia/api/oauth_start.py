"""`oauth_start`: begin "Sign in with …" (Google) for the tenant mailbox or the caller's own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sendvia.api.plain_start import PlainStart, plain_start
from sendvia.services import connect
from sendvia.validation import parse_model
from sendvia.web import Call, Reply, Router

if TYPE_CHECKING:
    from sendvia.api.start_request import StartRequest

router = Router("oauth_start")


@router.route("POST", "/")
def start(call: Call) -> Reply:
    body = call.json()
    request: PlainStart | StartRequest | None = plain_start(body)
    if request is None:  # the model judges it, and words what is wrong
        from sendvia.api.start_request import StartRequest

        request = parse_model(StartRequest, body)
    started = connect.start(
        call.runtime,
        call.user,
        sign_in=request.provider,
        mailbox=request.mailbox,
        receive=request.receive,
        return_to=request.return_to,
    )
    return Reply(200, started)
