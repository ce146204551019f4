"""The in-process tier: sendvia's routers and services against in-memory fakes of every port
(tests/fakes.py), called the way functions-framework calls them, with no stack and no network.
`make unit` runs this tier with tests/unit in seconds."""

from __future__ import annotations

import json
from typing import Any

import flask
import pytest
from sendvia import api
from sendvia.domain.mailbox import mailbox_secret_id

from tests.fakes import NOW, Fakes, fake_runtime

TENANT = "clinic-1"
OTHER = "clinic-2"


class Client:
    """Calls a function's router as its HTTP entry point would: a Flask request in, a Flask
    response out (the functions-framework test-client pattern, one function at a time)."""

    def __init__(self, fakes: Fakes) -> None:
        self.fakes = fakes
        self._app = flask.Flask("sendvia-functional")

    def call(
        self,
        method: str,
        function: str,
        path: str = "/",
        *,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
    ) -> flask.Response:
        """`body` is sent as JSON; `raw`, as it is (with a JSON content type)."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        options: dict[str, Any] = {"json": body}
        if raw is not None:
            options = {"data": raw, "content_type": "application/json"}
        with self._app.test_request_context(path, method=method, headers=sent, **options):
            return api.router(function).handle(flask.request, self.fakes.runtime)


@pytest.fixture
def fakes() -> Fakes:
    return fake_runtime()


@pytest.fixture
def client(fakes: Fakes) -> Client:
    return Client(fakes)


@pytest.fixture
def admin(fakes: Fakes) -> str:
    return fakes.token(TENANT, "ann")


@pytest.fixture
def member(fakes: Fakes) -> str:
    from sendvia.domain.principal import Role

    return fakes.token(TENANT, "max", Role.MEMBER)


def queue_email(client: Client, token: str, **changes: Any) -> str:
    """A triggered appointment reminder queued through `send`: its delivery id."""
    body = {
        "to": ["pat@example.com"],
        "subject": "Reminder",
        "text": "Tomorrow.",
        "mode": "queue",
        "category": "appointment_reminder",
        **changes,
    }
    answer = client.call("POST", "send", token=token, body=body)
    assert answer.status_code == 202, answer.json
    return str(answer.json["delivery"]["id"])


def switch_on(client: Client, admin: str, **integrations: bool) -> None:
    answer = client.call("PATCH", "settings", token=admin, body={"integrations": integrations})
    assert answer.status_code == 200, answer.json


def smtp_mailbox(fakes: Fakes, tenant: str = TENANT, mailbox: str = "tenant", **doc: Any) -> str:
    """An active SMTP mailbox with a stored password; the password."""
    password = f"app-password-{tenant}-{mailbox}"
    version = fakes.secrets.add_version(
        mailbox_secret_id(tenant, mailbox),
        json.dumps({"smtp": password, "imap": password}).encode(),
        {},
    )
    server = {"host": "smtp.clinic.test", "port": 587, "security": "starttls", "username": "desk"}
    fakes.mailboxes.put(
        tenant,
        mailbox,
        {
            "provider": "smtp",
            "state": "active",
            "address": f"desk@{tenant}.test",
            "display_name": "Front Desk",
            "smtp": server,
            "imap": {**server, "host": "imap.clinic.test", "port": 993, "security": "tls"},
            "secret_version": version,
            "confirmed_at": NOW,
            **doc,
        },
    )
    return password


def gmail_mailbox(fakes: Fakes, tenant: str = TENANT, mailbox: str = "tenant", **doc: Any) -> str:
    """An active Gmail mailbox with a stored refresh token; the token."""
    token = f"1//refresh-{tenant}-{mailbox}"
    version = fakes.secrets.add_version(mailbox_secret_id(tenant, mailbox), token.encode(), {})
    fakes.mailboxes.put(
        tenant,
        mailbox,
        {
            "provider": "gmail",
            "state": "active",
            "address": f"reception@{tenant}.test",
            "display_name": "Reception",
            "scopes": ["send"],
            "secret_version": version,
            **doc,
        },
    )
    return token
