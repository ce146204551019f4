"""No refresh token, access token, OAuth client secret or mail password leaves Secret Manager
and memory.

The test drives every Gmail path (connect, test, revert, resume, a revoked token breaking the
mailbox, re-authorize, revoke, forget) while recording every response of sendvia's functions,
then takes the canaries — every token the fake Google issued for the account, and the client
secret — and scans Firestore, the recorded responses and the stack's log files for them.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import pytest
import requests
from google.cloud import firestore
from sendvia.adapters.google_clients import secret_manager_client

from tests.integration.api import call, stack_logs
from tests.integration.clinic import Clinic, connect
from tests.integration.google_flow import fake


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
        call(method, function, path, bearer=admin, body=body)

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
    connect(clinic, account)
    act(
        "POST",
        "oauth_start",
        body={"mailbox": "tenant", "receive": True, "return_to": "https://app.clinic.example/x"},
    )

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
    logs = {
        path.name: path.read_text(errors="replace")
        for path in stack_logs().iterdir()
        if path.suffix == ".log" and path.name != "fake_google.log"
    }  # that one is Google's
    assert "functions.log" in logs

    for canary in canaries:
        assert canary not in stored, "a credential is stored in Firestore"
        assert canary not in responses, "a credential is in a response"
        for name, text in logs.items():
            assert canary not in text, f"a credential is in {name}"

    act("DELETE", "settings", "/mailboxes/tenant")


def test_mail_passwords_never_reach_firestore_responses_or_logs(
    clinic: Clinic, recorded, project, unique_id
):
    import re
    import time

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
    call("PUT", "settings", "/mailboxes/tenant", bearer=admin, body=body)
    call("POST", "test_connection", bearer=admin, body={"mailbox": "tenant"})  # fails: typo
    body["smtp"]["password"] = password
    call("PUT", "settings", "/mailboxes/tenant", bearer=admin, body=body)
    call("GET", "settings", bearer=admin)
    call("GET", "settings", "/mailboxes/tenant", bearer=admin)
    call("GET", "settings", "/mailboxes/tenant/folders", bearer=admin)
    call("POST", "test_connection", bearer=admin, body={"mailbox": "tenant"})
    time.sleep(0.5)
    messages = requests.get(
        f"{os.environ['MAIL_SINK_URL']}/messages", params={"to": clinic.admin_email}, timeout=10
    ).json()["messages"]
    code = re.search(r"confirmation code is (\d{6})", messages[-1]["raw"]).group(1)
    call("POST", "test_connection/confirm", bearer=admin, body={"mailbox": "tenant", "code": code})
    body["smtp"]["password"] = "\u2022" * 14
    call("PUT", "settings", "/mailboxes/tenant", bearer=admin, body=body)

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
    logs = {
        path.name: path.read_text(errors="replace")
        for path in stack_logs().iterdir()
        if path.suffix == ".log" and path.name != "fake_google.log"
    }
    for canary in (password, typo):
        assert canary not in stored, "a password is stored in Firestore"
        assert canary not in responses, "a password is in a response"
        for name, text in logs.items():
            assert canary not in text, f"a password is in {name}"


def uuid_like(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:16]
