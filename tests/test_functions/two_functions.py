"""A tiny functions source for testing the local functions host (as functions-framework does)."""

import flask
import functions_framework


@functions_framework.http
def hello(request: flask.Request) -> flask.typing.ResponseReturnValue:
    return {"function": "hello", "path": request.path}


@functions_framework.http
def echo(request: flask.Request) -> flask.typing.ResponseReturnValue:
    return {"function": "echo", "body": request.get_json(silent=True)}


def helper() -> None:
    """Not an entry point: not decorated."""
