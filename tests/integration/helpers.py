"""What integration tests share: waiting for something to happen, reading what reached the mail
sink and the relay, SMTP mailbox settings, and sending or queueing an email as a frontend does.

Test modules import these from here, never from one another."""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
from google.cloud import firestore

from tests.integration.api import call
from tests.integration.clinic import Clinic

HOST = "127.0.0.1"
DEMO = os.environ.get("MAIL_DEMO_USER", "")


# -- waiting -----------------------------------------------------------------------------------


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """The first truthy result of `check`, polled every 0.1 s; fails after `timeout`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")


# -- what reached the mail servers -------------------------------------------------------------


def _listed(base_url: str, to: str) -> list[dict[str, Any]]:
    response = requests.get(f"{base_url}/messages", params={"to": to}, timeout=10)
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def sink_messages(to: str) -> list[dict[str, Any]]:
    """What the stack's mail sink (behind Dovecot's relay) has received for `to`, now."""
    return _listed(os.environ["MAIL_SINK_URL"], to)


def relay_messages(to: str) -> list[dict[str, Any]]:
    """What the platform's relay has received for `to`, now."""
    return _listed(os.environ["DEFAULT_RELAY_URL"], to)


def sink_for(address: str, subject_part: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The sink's messages to `address` whose subject contains `subject_part`, once there are
    any (an empty list after `timeout`)."""
    try:
        return list(
            eventually(
                lambda: [m for m in sink_messages(address) if subject_part in m["subject"]],
                timeout,
            )
        )
    except AssertionError:
        return []


def code_from(message: dict[str, Any]) -> str:
    """The confirmation code in an SMTP test email."""
    found = re.search(r"confirmation code is (\d{6})", message["raw"])
    assert found, "no confirmation code in the test email"
    return found.group(1)


# -- SMTP/IMAP mailboxes -----------------------------------------------------------------------


def port(name: str) -> int:
    return int(os.environ[f"MAIL_{name}_PORT"])


def settings_body(**changes: object) -> dict[str, Any]:
    """The stack's Dovecot demo mailbox, as a settings form would send it."""
    body: dict[str, Any] = {
        "preset": "custom",
        "address": DEMO,
        "display_name": "Riverside Reception",
        "smtp": {
            "host": HOST,
            "port": port("SUBMISSION"),
            "security": "starttls",
            "username": DEMO,
            "password": os.environ["MAIL_DEMO_PASSWORD"],
        },
        "imap": {"host": HOST, "port": port("IMAPS"), "security": "tls"},
    }
    body.update(changes)
    return body


def save(
    clinic: Clinic, body: dict[str, Any], mailbox: str = "tenant", bearer: str | None = None
) -> requests.Response:
    return call(
        "PUT", "settings", f"/mailboxes/{mailbox}", bearer=bearer or clinic.admin, body=body
    )


def run_test(clinic: Clinic, mailbox: str = "tenant") -> dict[str, Any]:
    response = call("POST", "test_connection", bearer=clinic.admin, body={"mailbox": mailbox})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def confirmed_smtp_mailbox(clinic: Clinic, body: dict[str, Any]) -> None:
    """Save, test and confirm (with the code from the test email): the mailbox is active."""
    call("PATCH", "settings", bearer=clinic.admin, body={"integrations": {"smtp_imap": True}})
    saved = save(clinic, body)
    assert saved.status_code == 200, saved.text
    assert run_test(clinic)["ok"], "the connection test failed"
    code = code_from(sink_for(clinic.admin_email, "SMTP Test Connection")[-1])
    confirmed = call(
        "POST",
        "test_connection/confirm",
        bearer=clinic.admin,
        body={"mailbox": "tenant", "code": code},
    )
    assert confirmed.status_code == 200, confirmed.text


def smtp_mailbox_at(clinic: Clinic, project: str, port: int) -> None:
    """The tenant's SMTP mailbox, pointing at a scripted server, already confirmed."""
    call("PATCH", "settings", bearer=clinic.admin, body={"integrations": {"smtp_imap": True}})
    saved = call(
        "PUT",
        "settings",
        "/mailboxes/tenant",
        bearer=clinic.admin,
        body={
            "address": "front@riverside.example",
            "smtp": {
                "host": "127.0.0.1",
                "port": port,
                "security": "starttls",
                "username": "front@riverside.example",
                "password": "any-app-password",
            },
        },
    )
    assert saved.status_code == 200, saved.text
    firestore.Client(project=project).document(f"tenants/{clinic.tenant}/mailboxes/tenant").update(
        {"state": "active"}
    )


# -- sending -----------------------------------------------------------------------------------


def email(address: str, **changes: object) -> dict[str, Any]:
    """An invoice to `address` with a PDF attached, as the send function takes it."""
    body: dict[str, Any] = {
        "to": [f"Bob Jones <{address}>"],
        "subject": "Your invoice",
        "text": "Please find it.",
        "html": "<p>Please find it.</p>",
        "category": "invoice",
        "contact_id": "contact-7",
        "attachments": [
            {
                "filename": "invoice.pdf",
                "content_type": "application/pdf",
                "content": base64.b64encode(b"%PDF-1.4 test").decode(),
            }
        ],
    }
    body.update(changes)
    return body


def send(
    clinic: Clinic, body: dict[str, Any], key: str | None = None, bearer: str | None = None
) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return call("POST", "send", bearer=bearer or clinic.admin, body=body, headers=headers)


def queued(clinic: Clinic, address: str, key: str | None = None, **changes: object) -> str:
    """A triggered appointment reminder queued for `deliver`: its delivery id."""
    response = send(
        clinic,
        email(address, mode="queue", category="appointment_reminder", attachments=[], **changes),
        key or str(uuid.uuid4()),
    )
    assert response.status_code == 202, response.text
    assert response.json()["delivery"]["state"] == "queued"
    return str(response.json()["delivery"]["id"])


def delivery(project: str, clinic: Clinic, delivery_id: str) -> dict[str, Any]:
    """The delivery document as stored."""
    doc = (
        firestore.Client(project=project)
        .document(f"tenants/{clinic.tenant}/deliveries/{delivery_id}")
        .get()
    )
    return doc.to_dict() or {}


def state_is(project: str, clinic: Clinic, delivery_id: str, state: str) -> Callable[[], Any]:
    return lambda: delivery(project, clinic, delivery_id).get("state") == state


# The stack's queue of triggered emails, and tasks on it as anyone able to enqueue could create.
QUEUE = "projects/demo-sendvia/locations/us-central1/queues/sendvia-deliveries"


def deliver_task(tasks: Any, body: dict[str, Any]) -> None:
    """A task for `deliver` with this body (`tasks`: a CloudTasksClient)."""
    tasks.create_task(
        parent=QUEUE,
        task={
            "http_request": {
                "url": os.environ["SENDVIA_DELIVER_URL"],
                "http_method": "POST",
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps(body).encode(),
                "oidc_token": {
                    "service_account_email": os.environ["SENDVIA_TASKS_SERVICE_ACCOUNT"],
                    "audience": os.environ["SENDVIA_DELIVER_URL"],
                },
            }
        },
    )


def queue_idle(tasks: Any) -> bool:
    return not list(tasks.list_tasks(parent=QUEUE))


def delivery_task_id(clinic: Clinic, delivery_id: str) -> str:
    """The name `send` gives a delivery's first task (adapters/cloud_tasks.py)."""
    import hashlib

    digest = hashlib.sha256(f"{clinic.tenant}/{delivery_id}".encode()).hexdigest()[:40]
    return f"d-{digest}-0"
