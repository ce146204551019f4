"""`oauth_start`: begin "Sign in with Google" for the tenant mailbox or the caller's own."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from sendvia.domain.validation import parse_model
from sendvia.services import connect
from sendvia.web import Call, Reply, Router

router = Router("oauth_start")


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["google"] = "google"
    mailbox: Literal["tenant", "me"]
    receive: StrictBool = False
    return_to: StrictStr = Field(min_length=1, max_length=2000)


@router.route("POST", "/")
def start(call: Call) -> Reply:
    request = parse_model(StartRequest, call.json())
    return Reply(200, connect.start(call.runtime, call.user, request.model_dump()))
