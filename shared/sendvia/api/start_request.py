"""The body of `oauth_start` (POST /), checked with pydantic: the contract, its errors and its
schema. `oauth_start` reads a plainly valid body without it (`plain_start`), and loads this
module only for a body that needs judging: pydantic costs a cold start about 30 ms."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from sendvia.api.plain_start import MAX_RETURN_TO, one_line
from sendvia.domain.providers import sign_in_names


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: StrictStr = "google"
    mailbox: Literal["tenant", "me"]
    receive: StrictBool = False
    return_to: StrictStr = Field(min_length=1, max_length=MAX_RETURN_TO)

    @field_validator("return_to")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not one_line(value):
            raise ValueError("must not contain spaces or control characters")
        return value

    @field_validator("provider")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in sign_in_names():
            raise ValueError(f"must be one of {', '.join(repr(n) for n in sign_in_names())}")
        return value
