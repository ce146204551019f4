"""`oauth_start`: begin "Sign in with …" (Google) for the tenant mailbox or the caller's own."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from sendvia.domain.providers import sign_in_names
from sendvia.services import connect
from sendvia.validation import parse_model
from sendvia.web import Call, Reply, Router

router = Router("oauth_start")


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: StrictStr = "google"
    mailbox: Literal["tenant", "me"]
    receive: StrictBool = False
    return_to: StrictStr = Field(min_length=1, max_length=2000)

    @field_validator("return_to")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
            raise ValueError("must not contain spaces or control characters")
        return value

    @field_validator("provider")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in sign_in_names():
            raise ValueError(f"must be one of {', '.join(repr(n) for n in sign_in_names())}")
        return value


@router.route("POST", "/")
def start(call: Call) -> Reply:
    request = parse_model(StartRequest, call.json())
    started = connect.start(
        call.runtime,
        call.user,
        sign_in=request.provider,
        mailbox=request.mailbox,
        receive=request.receive,
        return_to=request.return_to,
    )
    return Reply(200, started)
