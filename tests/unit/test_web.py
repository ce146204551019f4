"""The HTTP plumbing with fake ports: an unexpected failure is a 500 that reveals nothing."""

from __future__ import annotations

import flask
from sendvia.errors import Conflict
from sendvia.web import Reply, Router

from tests.fakes import fake_runtime


def request(path: str) -> flask.Response:
    fakes = fake_runtime()
    app = flask.Flask("test")
    headers = {"Authorization": f"Bearer {fakes.token('t1', 'u1')}"}
    with app.test_request_context(path, headers=headers):
        return router.handle(flask.request, fakes.runtime)


router = Router("demo")


@router.route("GET", "/boom")
def boom(call):
    raise RuntimeError("database password is hunter2")


@router.route("GET", "/conflict")
def conflict(call):
    raise Conflict("Already done.", hint="Nothing to do.", code="already_done")


@router.route("GET", "/items/{item_id}")
def item(call, item_id):
    return Reply(200, {"item": item_id})


def test_an_unexpected_exception_is_a_generic_500():
    response = request("/boom")
    assert response.status_code == 500
    assert response.json == {
        "error": {
            "code": "internal",
            "message": "Something went wrong on our side.",
            "hint": "Try again; if it keeps failing, contact support.",
        }
    }
    assert "hunter2" not in response.get_data(as_text=True)


def test_app_errors_render_their_status_code_and_hint():
    response = request("/conflict")
    assert response.status_code == 409
    assert response.json["error"] == {
        "code": "already_done",
        "message": "Already done.",
        "hint": "Nothing to do.",
    }


def test_path_parameters_reach_the_handler():
    assert request("/items/42").json == {"item": "42"}
    assert request("/items/42/").json == {"item": "42"}


def test_a_method_the_path_does_not_take_is_405_with_the_allow_header() -> None:
    """Found by the fuzzer: RFC 9110 requires `Allow` on a 405."""
    fakes = fake_runtime()
    app = flask.Flask("test")
    headers = {"Authorization": f"Bearer {fakes.token('t1', 'u1')}"}
    with app.test_request_context("/items/42", method="TRACE", headers=headers):
        response = router.handle(flask.request, fakes.runtime)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert response.json["error"]["code"] == "method_not_allowed"
