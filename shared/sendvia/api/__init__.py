"""The HTTP face of each function: one module per function, each with a `router`.

`FUNCTIONS` maps every entry point of functions/main.py to its module; the tenancy test walks
every route of every public function through it, so a new function must be registered here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import flask

    from sendvia.web import Router

FUNCTIONS = {
    "settings": "sendvia.api.settings",
    "oauth_start": "sendvia.api.oauth_start",
    "oauth_callback": "sendvia.api.oauth_callback",
    "test_connection": "sendvia.api.test_connection",
    "activity": "sendvia.api.activity",
    "send": "sendvia.api.send",
    "deliver": "sendvia.api.deliver",
    "reminders": "sendvia.api.reminders",
    "provider_events": "sendvia.api.provider_events",
    "sync": "sendvia.api.sync",
}


def router(function: str) -> Router:
    module = importlib.import_module(FUNCTIONS[function])
    found: Router = module.router
    return found


def handle(function: str, request: flask.Request) -> flask.Response:
    return router(function).handle(request)
