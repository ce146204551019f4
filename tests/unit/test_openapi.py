"""The public contract as OpenAPI 3.1: valid, served route for documented route in both
directions, and published as docs/openapi.json exactly as the code builds it."""

from __future__ import annotations

import json

from openapi_spec_validator import validate
from sendvia import api
from sendvia.api.contract import CONTRACT, PUBLIC
from sendvia.api.openapi import document

from tools.openapi import PUBLISHED, rendered


def test_the_document_is_valid_openapi_3_1() -> None:
    spec = document()
    validate(spec)
    assert spec["openapi"] == "3.1.0"


def test_every_public_route_is_documented_and_every_documented_route_is_served() -> None:
    served = {
        (function, spec.method, spec.template)
        for function in PUBLIC
        for spec in api.router(function).routes
    }
    assert served - set(CONTRACT) == set(), "served but not documented"
    assert set(CONTRACT) - served == set(), "documented but not served"
    public = {f for f in api.FUNCTIONS if api.router(f).public}
    assert public <= set(PUBLIC), "a public function is missing from the contract"


def test_every_answer_and_error_has_its_schema() -> None:
    spec = document()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if status in ("204", "302"):
                    continue
                assert "content" in response, (method, path, status)
            if not operation["security"] and "callback" not in path:
                assert "provider_events" in path, (method, path)


def test_the_published_copy_is_what_the_code_builds() -> None:
    assert PUBLISHED.read_text() == rendered(), "docs/openapi.json is stale: run `make openapi`"
    assert json.loads(PUBLISHED.read_text())["paths"]
