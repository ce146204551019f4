"""Receiving against the stack: a Dovecot mailbox connected and receiving, mail made to arrive
over LMTP, and a sync run the way Cloud Tasks runs it (a task created by the production queue
adapter, dispatched by the emulator with its OIDC token)."""

from __future__ import annotations

import os
import smtplib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.cloud import firestore
from sendvia import devtools
from sendvia.adapters.cloud_tasks import CloudTasksQueue
from sendvia.adapters.google_clients import cloud_tasks_client
from sendvia.config import load

from tests.integration.api import call
from tests.integration.clinic import Clinic
from tests.integration.helpers import confirmed_smtp_mailbox, eventually, settings_body


@dataclass
class Receiving:
    clinic: Clinic
    address: str
    password: str
    db: firestore.Client

    @property
    def state_ref(self) -> firestore.DocumentReference:
        return self.db.document(f"tenants/{self.clinic.tenant}/sync_states/tenant")

    def arrive(self, raw: bytes) -> None:
        with smtplib.LMTP("127.0.0.1", int(os.environ["MAIL_LMTP_PORT"])) as lmtp:
            lmtp.sendmail("", [self.address], raw)

    def sync(self, timeout: float = 90.0) -> dict[str, Any]:
        """Run one sync of the mailbox through Cloud Tasks; what it did (its `last_run`)."""
        before = (self.state_ref.get().to_dict() or {}).get("last_run", {}).get("id")
        queue().enqueue_sync(self.clinic.tenant, "tenant", uuid.uuid4().hex)

        def finished() -> dict[str, Any] | None:
            run = (self.state_ref.get().to_dict() or {}).get("last_run")
            return run if run and run["id"] != before else None

        found: dict[str, Any] = eventually(finished, timeout=timeout)
        return found

    def stored(self) -> list[dict[str, Any]]:
        found = self.db.collection(f"tenants/{self.clinic.tenant}/correspondence").stream()
        return [d.to_dict() or {} for d in found]

    def subjects(self) -> list[str]:
        return sorted(d["subject"] for d in self.stored())


def queue() -> CloudTasksQueue:
    settings = load(os.environ)
    assert settings.tasks is not None and settings.sync is not None
    return CloudTasksQueue(
        settings.tasks,
        settings.project,
        lambda: cloud_tasks_client(settings.cloud_tasks_emulator_host),
        sync_url=settings.sync.url,
        sync_queue=settings.sync.queue,
    )


def message(sender: str, to: str, subject: str, *, day: int = 1, mid: str | None = None) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Tue, {day:02d} Dec 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{mid or uuid.uuid4().hex}@mail.test>\r\n\r\n{subject}.\r\n"
    ).encode()


def receiving_mailbox(clinic: Clinic, project: str) -> Receiving:
    """A Dovecot user of its own, connected as the clinic's mailbox, confirmed, receiving."""
    address = f"desk-{clinic.suffix}@clinic.test"
    password = devtools.add_mail_user(address)
    body = settings_body(address=address)
    body["smtp"] = {**body["smtp"], "username": address, "password": password}
    confirmed_smtp_mailbox(clinic, body)
    on = call(
        "POST", "settings", "/mailboxes/tenant:receive", bearer=clinic.admin, body={"receive": True}
    )
    assert on.status_code == 200, on.text
    return Receiving(clinic, address, password, firestore.Client(project=project))


def bounced_after_syncs(reading: Receiving, delivery_id: str, timeout: float = 60) -> None:
    """Sync until the delivery turns `bounced` (a provider bounces a moment after sending)."""

    def bounced() -> bool:
        reading.sync()
        found = call(
            "GET", "activity", f"/deliveries/{delivery_id}", bearer=reading.clinic.admin
        ).json()
        return bool(found["state"] == "bounced")

    eventually(bounced, timeout=timeout)


def contact(clinic: Clinic, contact_id: str, *addresses: str) -> None:
    answer = call(
        "PUT",
        "activity",
        f"/contacts/{contact_id}",
        bearer=clinic.admin,
        body={"name": contact_id, "addresses": list(addresses)},
    )
    assert answer.status_code == 200, answer.text


def maildir(address: str) -> Path:
    """The Dovecot user's Maildir (created at its first login)."""
    local, _, domain = address.partition("@")
    return Path(os.environ["MAIL_DOVECOT_DIR"]) / "mail" / domain / local / "Maildir"


def fill_maildir(address: str, messages: list[bytes]) -> None:
    """Put messages straight into the user's Maildir (as a restore would): thousands in a
    second, which Dovecot indexes at the next SELECT."""
    import pwd

    folder = maildir(address) / "cur"
    folder.mkdir(parents=True, exist_ok=True)
    owner = pwd.getpwnam("dovecot")
    for n, raw in enumerate(messages):
        path = folder / f"{1764600000 + n}.M{n}P1.sendvia:2,S"
        path.write_bytes(raw)
        os.chown(path, owner.pw_uid, owner.pw_gid)


def stack_profile() -> str:
    """The profile of the stack these tests run against (dev for `make up`, test for
    `make test`)."""
    from tests.integration.api import stack_logs

    return "dev" if stack_logs().parent.name == ".stack" else stack_logs().parent.name
