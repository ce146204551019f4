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
    """Tenant email settings, mailboxes and the members list (docs/api.md § settings)."""
    return api.handle("settings", request)


@functions_framework.http
def oauth_start(request: flask.Request) -> flask.Response:
    """Begin "Sign in with Google" for a mailbox (docs/api.md § oauth_start)."""
    return api.handle("oauth_start", request)


@functions_framework.http
def oauth_callback(request: flask.Request) -> flask.Response:
    """The browser's return from Google's consent screen (docs/api.md § oauth_callback)."""
    return api.handle("oauth_callback", request)


@functions_framework.http
def test_connection(request: flask.Request) -> flask.Response:
    """Test a mailbox and send the test email (docs/api.md § test_connection)."""
    return api.handle("test_connection", request)


@functions_framework.http
def activity(request: flask.Request) -> flask.Response:
    """Notifications, the delivery log and recipients' email status (docs/api.md § activity)."""
    return api.handle("activity", request)


@functions_framework.http
def send(request: flask.Request) -> flask.Response:
    """Send an email now, queue or schedule it, or cancel one (docs/api.md § send)."""
    return api.handle("send", request)


@functions_framework.http
def deliver(request: flask.Request) -> flask.Response:
    """Cloud Tasks' target: deliver one queued email (internal)."""
    return api.handle("deliver", request)


@functions_framework.http
def reminders(request: flask.Request) -> flask.Response:
    """Cloud Scheduler's target: enqueue every scheduled email due soon (internal)."""
    return api.handle("reminders", request)


@functions_framework.http
def provider_events(request: flask.Request) -> flask.Response:
    """The default sender's email-service webhooks: bounces, complaints, deliveries (internal)."""
    return api.handle("provider_events", request)


@functions_framework.http
def sync(request: flask.Request) -> flask.Response:
    """Cloud Scheduler's and Cloud Tasks' target: sync receiving mailboxes (internal)."""
    return api.handle("sync", request)
