"""No refresh token, access token, OAuth client secret or mail password leaves Secret Manager
and memory.

The test drives every Gmail path (connect, test, revert, resume, a revoked token breaking the
mailbox, re-authorize, revoke, forget) while recording every response of sendvia's functions,
then takes the canaries — every token the fake Google issued for the account, and the client
secret — and scans Firestore, the recorded responses and the stack's log files for them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
import requests
from google.cloud import firestore
from sendvia.adapters.google_clients import secret_manager_client

from tests.integration.api import call, stack_logs
from tests.integration.clinic import Clinic, connect
from tests.integration.google_flow import fake, gmail_drops_the_answer
from tests.integration.helpers import (
    code_from,
    delivery,
    email,
    eventually,
    queued,
    sink_for,
    state_is,
)
from tests.integration.receiving import Receiving, contact, message


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The status line, headers and body of every response from sendvia's functions."""
    seen: list[str] = []
    original = requests.Session.send
    functions = os.environ["SENDVIA_FUNCTIONS_URL"]

    def send(self: requests.Session, request: Any, **kwargs: Any) -> requests.Response:
        response = original(self, request, **kwargs)
        if str(request.url).startswith(functions):
            seen.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response

    monkeypatch.setattr(requests.Session, "send", send)
    return seen


def _documents(ref: Any) -> list[dict[str, Any]]:
    found = []
    for doc in ref.stream() if hasattr(ref, "stream") else []:
        found.append(doc.to_dict() or {})
        for sub in doc.reference.collections():
            found += _documents(sub)
    return found


def test_credentials_never_reach_firestore_responses_or_logs(clinic: Clinic, recorded, project):
    account = clinic.google("canary")
    admin = clinic.admin

    def act(method: str, function: str, path: str = "", body: Any = None) -> None:
        response = call(method, function, path, bearer=admin, body=body)
        assert response.status_code < 300, f"{method} {function}{path}: {response.text}"

    assert connect(clinic, account).query["sendvia_result"] == "connected"
    act("POST", "test_connection", body={"mailbox": "tenant"})
    act("GET", "settings")
    act("GET", "settings", "/mailboxes/tenant")
    act("GET", "settings", "/members")
    act("POST", "settings", "/mailboxes/tenant:revert")
    act("POST", "settings", "/mailboxes/tenant:resume")
    fake(f"/_fake/accounts/{account}:revoke", "POST")
    act("POST", "test_connection", body={"mailbox": "tenant"})
    act("GET", "activity", "/notifications")
    connect(clinic, account)
    act("POST", "test_connection", body={"mailbox": "tenant"})
    act("POST", "settings", "/mailboxes/tenant:revoke")
    connect(clinic, account, receive=True)  # with a read scope: unknown outcomes are searched
    with gmail_drops_the_answer():  # Gmail sends, the answers are lost
        queued_id = queued(clinic, "pat@example.com")
        eventually(lambda: delivery(project, clinic, queued_id).get("last_error"), timeout=30)
        unconfirmed = call("POST", "send", bearer=admin, body=email("pat@example.com"))
        assert unconfirmed.json()["delivery"]["state"] == "sent_unconfirmed"
    eventually(state_is(project, clinic, queued_id, "sent"), timeout=30)  # found by a search
    act("GET", "activity", "/deliveries?state=sent_unconfirmed")
    act("GET", "activity", f"/deliveries/{queued_id}")
    act(
        "POST",
        "oauth_start",
        body={"mailbox": "tenant", "receive": True, "return_to": "https://app.clinic.example/x"},
    )
    # Receiving: the mailbox is read (history, headers, whole messages) and its mail stored.
    reply_synced(
        Receiving(clinic, account, "", firestore.Client(project=project)),
        lambda raw: fake(f"/_fake/accounts/{account}/inbox", "POST", json=encoded(raw)),
    )
    act("GET", "settings", "/members")

    canaries = fake(f"/_fake/accounts/{account}/tokens").json()["tokens"]
    assert any(t.startswith("1//") for t in canaries)
    assert any(t.startswith("ya29.") for t in canaries)
    canaries.append(
        secret_manager_client()
        .access_secret_version(name=os.environ["SENDVIA_GOOGLE_CLIENT_SECRET"])
        .payload.data.decode()
    )

    db = firestore.Client(project=project)
    stored = json.dumps(
        _documents(
            db.collection("tenants").where(
                filter=firestore.FieldFilter(
                    "__name__", "==", db.document(f"tenants/{clinic.tenant}")
                )
            )
        )
        + _documents(db.collection("oauth_states")),
        default=str,
    )
    assert account in stored  # the scan did read the mailbox
    responses = "\n".join(recorded)
    assert "connected" in responses
    logs = stack_log_files()
    assert "functions.log" in logs
    assert "fake_google.log" in logs

    for canary in canaries:
        assert canary not in stored, "a credential is stored in Firestore"
        assert canary not in responses, "a credential is in a response"
        for name, text in logs.items():
            assert canary not in text, f"a credential is in {name}"

    act("DELETE", "settings", "/mailboxes/tenant")


def test_mail_passwords_never_reach_firestore_responses_or_logs(
    clinic: Clinic, recorded, project, unique_id
):
    from sendvia import devtools

    address = f"canary-{unique_id}@clinic.test"
    password = devtools.add_mail_user(address)  # the canary: a real, working app password
    typo = f"wrong-{uuid_like(unique_id)}"  # a second canary: a password the person mistyped
    admin = clinic.admin
    call("PATCH", "settings", bearer=admin, body={"integrations": {"smtp_imap": True}})
    host = os.environ["MAIL_HOST"]
    body = {
        "address": address,
        "smtp": {
            "host": host,
            "port": int(os.environ["MAIL_SUBMISSION_PORT"]),
            "security": "starttls",
            "password": typo,
        },
        "imap": {"host": host, "port": int(os.environ["MAIL_IMAPS_PORT"]), "security": "tls"},
    }

    def act(method: str, function: str, path: str = "", body: Any = None) -> dict[str, Any]:
        response = call(method, function, path, bearer=admin, body=body)
        assert response.status_code < 300, f"{method} {function}{path}: {response.text}"
        return response.json() if response.content else {}

    act("PUT", "settings", "/mailboxes/tenant", body)
    assert not act("POST", "test_connection", body={"mailbox": "tenant"})["ok"]  # the typo
    body["smtp"]["password"] = password
    act("PUT", "settings", "/mailboxes/tenant", body)
    act("GET", "settings")
    act("GET", "settings", "/mailboxes/tenant")
    act("GET", "settings", "/mailboxes/tenant/folders")
    assert act("POST", "test_connection", body={"mailbox": "tenant"})["ok"]
    code = code_from(sink_for(clinic.admin_email, "SMTP Test Connection")[-1])
    act("POST", "test_connection/confirm", body={"mailbox": "tenant", "code": code})
    body["smtp"]["password"] = "\u2022" * 14
    act("PUT", "settings", "/mailboxes/tenant", body)
    assert act("POST", "settings", "/mailboxes/tenant:revert")["state"] == "reverted"
    assert act("POST", "settings", "/mailboxes/tenant:resume")["state"] == "active"
    # Receiving over IMAP with the stored password: a reply arrives and is synced.
    act("POST", "settings", "/mailboxes/tenant:receive", {"receive": True})
    reading = Receiving(clinic, address, password, firestore.Client(project=project))
    reply_synced(reading, reading.arrive)
    account = clinic.google("over-smtp")  # another address replaces the SMTP mailbox
    assert connect(clinic, account).query["sendvia_result"] == "connected"

    db = firestore.Client(project=project)
    stored = json.dumps(
        _documents(
            db.collection("tenants").where(
                filter=firestore.FieldFilter(
                    "__name__", "==", db.document(f"tenants/{clinic.tenant}")
                )
            )
        ),
        default=str,
    )
    assert address in stored
    assert code not in stored  # only its salted hash was kept, and is gone after confirming
    responses = "\n".join(recorded)
    assert "\u2022" * 14 in responses or "\\u2022" * 14 in responses
    logs = stack_log_files()
    received_by_google = json.dumps(fake("/_fake/received").json()["requests"])
    assert "/token" in received_by_google  # the scan did see what Google received
    for canary in (password, typo):
        assert canary not in stored, "a password is stored in Firestore"
        assert canary not in responses, "a password is in a response"
        assert canary not in received_by_google, "a mail password reached Google"
        for name, text in logs.items():
            assert canary not in text, f"a password is in {name}"


def reply_synced(reading: Receiving, arrive: Callable[[bytes], object]) -> None:
    """A contact, a first sync, a reply arriving (`arrive`), a second sync storing it, and the
    contact's correspondence read: every path of receiving, for the scans."""
    contact(reading.clinic, "canary", "jo@example.org")
    reading.sync()
    arrive(message("Jo <jo@example.org>", reading.address, "Canary reply"))
    assert reading.sync()["stored"] == 1
    answer = call("GET", "activity", "/contacts/canary/correspondence", bearer=reading.clinic.admin)
    assert answer.status_code == 200, answer.text


def encoded(raw: bytes) -> dict[str, str]:
    return {"raw": base64.urlsafe_b64encode(raw).decode()}


def stack_log_files() -> dict[str, str]:
    """Every log file of the stack, Google's own (fake) included."""
    return {
        path.name: path.read_text(errors="replace")
        for path in stack_logs().iterdir()
        if path.suffix == ".log"
    }


def uuid_like(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def test_microsoft_tokens_never_reach_firestore_responses_or_logs(
    clinic: Clinic, recorded, project
):
    """The same scan for "Sign in with Microsoft": every refresh token (they rotate), access
    token and id_token the fake issued, and the app's client secret."""
    from tests.integration import microsoft_flow
    from tests.integration.google_flow import Browser

    admin = clinic.admin
    account = clinic.google("ms-canary").replace("@gmail.example", "@contoso.example")

    def act(method: str, function: str, path: str = "", body: Any = None) -> None:
        response = call(method, function, path, bearer=admin, body=body)
        assert response.status_code < 300, f"{method} {function}{path}: {response.text}"

    act("PATCH", "settings", body={"integrations": {"microsoft": True}})
    start = microsoft_flow.start(admin, receive=True)
    assert microsoft_flow.connect(Browser(), start, account).query["sendvia_result"] == "connected"
    act("POST", "test_connection", body={"mailbox": "tenant"})

    # Receiving through Graph, whose refresh tokens rotate as it reads too.
    def arrive_then_rotate(raw: bytes) -> None:
        microsoft_flow.fake(f"/_fake/accounts/{account}/inbox", "POST", json=encoded(raw))
        microsoft_flow.fake(f"/_fake/accounts/{account}:expire_tokens", "POST")  # rotate on read

    reply_synced(
        Receiving(clinic, account, "", firestore.Client(project=project)), arrive_then_rotate
    )
    act("POST", "send", body=email("pat@example.com"))
    microsoft_flow.fake(f"/_fake/accounts/{account}:expire_tokens", "POST")  # rotate on refresh
    act("POST", "send", body=email("pat@example.com"))
    act("GET", "settings")
    act("GET", "settings", "/mailboxes/tenant")
    act("POST", "settings", "/mailboxes/tenant:revert")
    act("POST", "settings", "/mailboxes/tenant:resume")
    microsoft_flow.fake(f"/_fake/accounts/{account}:revoke", "POST")
    microsoft_flow.fake(f"/_fake/accounts/{account}:expire_tokens", "POST")
    failed = call("POST", "send", bearer=admin, body=email("pat@example.com"))
    assert failed.status_code == 422, failed.text  # broken, with its hint
    act("GET", "activity", "/notifications")
    microsoft_flow.fake(f"/_fake/accounts/{account}:restore", "POST")
    assert (
        microsoft_flow.connect(Browser(), microsoft_flow.start(admin), account).query[
            "sendvia_result"
        ]
        == "connected"
    )

    canaries = microsoft_flow.fake(f"/_fake/accounts/{account}/tokens").json()["tokens"]
    assert sum(t.startswith("M.C5") for t in canaries) >= 3  # rotated refresh tokens
    assert any(t.startswith("EwB") for t in canaries)
    canaries.append(
        secret_manager_client()
        .access_secret_version(name=os.environ["SENDVIA_MICROSOFT_CLIENT_SECRET"])
        .payload.data.decode()
    )
    db = firestore.Client(project=project)
    stored = json.dumps(
        _documents(
            db.collection("tenants").where(
                filter=firestore.FieldFilter(
                    "__name__", "==", db.document(f"tenants/{clinic.tenant}")
                )
            )
        )
        + _documents(db.collection("oauth_states")),
        default=str,
    )
    assert account in stored
    responses = "\n".join(recorded)
    logs = stack_log_files()
    assert "fake_microsoft.log" in logs
    for canary in canaries:
        assert canary not in stored, "a Microsoft token is stored in Firestore"
        assert canary not in responses, "a Microsoft token is in a response"
        for name, text in logs.items():
            assert canary not in text, f"a Microsoft token is in {name}"
