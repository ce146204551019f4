"""Validation of request bodies at the boundary: every problem is a 400 naming its field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from sendvia.errors import BadRequest

if TYPE_CHECKING:  # loaded by the first body validated, not at a cold start that needs none
    from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound="BaseModel")


def parse_model(model: type[M], body: Any) -> M:
    """Validate a JSON body into `model`; the first problem becomes a 400 naming its field."""
    if not isinstance(body, dict):
        raise BadRequest(
            "The request body must be a JSON object.",
            code="invalid_body",
            hint='Send an object such as {"product_name": "My Clinic"}.',
        )
    from pydantic import ValidationError

    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def validation_error(exc: ValidationError) -> BadRequest:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    kind = first["type"]
    if kind == "extra_forbidden":
        return BadRequest(
            f"Unknown field {field!r}.",
            code="unknown_field",
            field=field,
            hint="Remove it; see the API reference for the fields you can change.",
        )
    if kind == "enum":
        allowed = first.get("ctx", {}).get("expected", "")
        return BadRequest(
            f"{field} must be one of {allowed}.",
            code="invalid_value",
            field=field,
            hint=f"Use one of {allowed}.",
        )
    message = str(first["msg"]).removeprefix("Value error, ")
    return BadRequest(
        f"{field}: {message}.",
        code="invalid_value",
        field=field,
        hint="Correct this field and send the request again.",
    )


def page(
    args: Mapping[str, str], *, default: int, most: int, token: re.Pattern[str]
) -> tuple[int, str | None]:
    """A list's `page_size` (ASCII digits, 1 to `most`) and `page_token` (what a page gave:
    `token`'s shape); a 400 naming the parameter otherwise."""
    size = args.get("page_size", str(default))
    if not (size.isascii() and size.isdigit()) or not 1 <= int(size) <= most:
        raise BadRequest(
            f"page_size must be a number from 1 to {most}.",
            field="page_size",
            code="invalid_value",
            hint=f"Leave it out for {default}.",
        )
    given = args.get("page_token") or None
    if given is not None and not token.match(given):
        raise BadRequest(
            "page_token is not one this API gave.",
            field="page_token",
            code="invalid_value",
            hint="Use next_page_token from the previous page, or leave it out.",
        )
    return int(size), given
