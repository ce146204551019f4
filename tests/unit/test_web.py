"""The HTTP plumbing with stand-in ports: an unexpected failure is a 500 that reveals nothing."""

from __future__ import annotations

import datetime as dt

import flask
from sendvia.config import load
from sendvia.domain.principal import Principal, Role
from sendvia.errors import Conflict
from sendvia.runtime import Runtime
from sendvia.services.members import MemberTracker
from sendvia.web import Reply, Router

PRINCIPAL = Principal("t1", "u1", "u1@example.com", Role.ADMIN)


class AcceptingIdentity:
    def verify(self, token: str) -> Principal:
        return PRINCIPAL


class NullStore:
    def record_member(self, principal: Principal, seen_at: str) -> None:
        return None


def runtime() -> Runtime:
    settings = load(
        {"GOOGLE_CLOUD_PROJECT": "demo-sendvia", "SENDVIA_PLATFORM_DOMAIN": "platform.test"}
    )
    store = NullStore()
    unused = None  # this router touches no mailbox, secret or provider
    return Runtime(
        settings=settings,
        identity=AcceptingIdentity(),
        store=store,  # type: ignore[arg-type]
        members=MemberTracker(store, lambda: dt.datetime.now(dt.UTC)),  # type: ignore[arg-type]
        mailboxes=unused,  # type: ignore[arg-type]
        activity=unused,  # type: ignore[arg-type]
        secrets=unused,  # type: ignore[arg-type]
        providers={},
        oauth={},
        relay=None,
        queue=None,
        recipients=unused,  # type: ignore[arg-type]
        events=unused,  # type: ignore[arg-type]
    )


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


def request(path: str) -> flask.Response:
    app = flask.Flask("test")
    with app.test_request_context(path, headers={"Authorization": "Bearer x"}):
        return router.handle(flask.request, runtime())


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
