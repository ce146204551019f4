"""`test_connection`: run a mailbox's connection test and send the test email."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from sendvia.api import presentation as show
from sendvia.services import test_connection
from sendvia.validation import parse_model
from sendvia.web import Call, Reply, Router

router = Router("test_connection")


class TestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mailbox: StrictStr = Field(min_length=1, max_length=200)


@router.route("POST", "/")
def run(call: Call) -> Reply:
    request = parse_model(TestRequest, call.json())
    return Reply(200, test_connection.run(call.runtime, call.user, request.mailbox))


class ConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mailbox: StrictStr = Field(min_length=1, max_length=200)
    code: StrictStr = Field(min_length=1, max_length=20)


@router.route("POST", "/confirm")
def confirm(call: Call) -> Reply:
    request = parse_model(ConfirmRequest, call.json())
    confirmed = test_connection.confirm(call.runtime, call.user, request.mailbox, request.code)
    return Reply(200, show.mailbox(confirmed))
