"""Cloud Functions entry points of sendvia, one per deployed function.

Each entry point is one line: `sendvia.api` authenticates, routes, calls one service and renders.
Settings are validated here, at cold start, so a misconfigured deployment fails with a clear
message instead of on its first request. No client is built at import.
"""

import flask
import functions_framework
from sendvia import api, config, logs

config.load()
logs.configure()


@functions_framework.http
def settings(request: flask.Request) -> flask.Response:
    """Tenant email settings, mailboxes and the members list (API.md § settings)."""
    return api.handle("settings", request)
