"""An email the server took without confirming it is sent once, never retried (security review
H3): the scripted server takes the whole message and holds its final reply for 15 s, past the
stack's reply limit (4 s). Before, the step timed out, the email was retried as if nothing had
been sent, and the server received a copy per retry."""

from __future__ import annotations

import os
import ssl
import time
from typing import Any

import pytest
from google.cloud import firestore
from imapclient import IMAPClient

from emulators.mail.misbehaving import Behaviour, scripted_server
from tests.integration.api import call
from tests.integration.clinic import Clinic, connect
from tests.integration.google_flow import fake, gmail_drops_the_answer
from tests.integration.helpers import (
    DEMO,
    HOST,
    delivery,
    email,
    eventually,
    port,
    queued,
    save,
    send,
    settings_body,
    smtp_mailbox_at,
    state_is,
)


@pytest.mark.parametrize("pipelining", [False, True], ids=["command by command", "pipelined"])
def test_a_queued_email_whose_reply_never_came_is_sent_once_and_marked_unconfirmed(
    clinic: Clinic, recipient, certs, project, pipelining
):
    with scripted_server(Behaviour.SLOW_FINAL_REPLY, certs, pipelining=pipelining) as server:
        smtp_mailbox_at(clinic, project, server.port)
        delivery_id = queued(clinic, recipient)
        eventually(state_is(project, clinic, delivery_id, "sent_unconfirmed"), timeout=30)
        time.sleep(3)  # what a retry would have needed (the stack's backoff is 0.5–2 s)
        assert len(server.received) == 1
        assert server.pipelined == (1 if pipelining else 0)
    stored = delivery(project, clinic, delivery_id)
    assert stored["error"]["code"] == "outcome_unknown"
    assert stored["content"] is None  # nothing left to send again
    assert stored["handed_over"] is None


def test_a_manual_send_whose_reply_never_came_answers_unconfirmed(
    clinic: Clinic, recipient, certs, project
):
    with scripted_server(Behaviour.SLOW_FINAL_REPLY, certs) as server:
        smtp_mailbox_at(clinic, project, server.port)
        answer = send(clinic, email(recipient, attachments=[]), key=f"inv-{recipient}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["delivery"]["state"] == "sent_unconfirmed"
        again = send(clinic, email(recipient, attachments=[]), key=f"inv-{recipient}")
        assert again.json()["delivery"]["state"] == "sent_unconfirmed"
        assert len(server.received) == 1


# -- Gmail: an answer lost after Gmail took the message ----------------------------------------


def sent_by(account: str) -> list[dict[str, Any]]:
    return list(fake(f"/_fake/accounts/{account}/sent").json()["messages"])


def test_a_gmail_email_whose_answer_was_lost_is_found_in_the_mailbox_and_recorded_sent(
    clinic: Clinic, recipient, project
):
    """With a read scope, the next attempt searches Gmail for the Message-ID instead of
    guessing. Before, httplib2 itself sent the request a second time when the connection
    dropped (two emails), and the delivery ended `sent_unconfirmed`."""
    account = clinic.google("lost-answer")
    assert connect(clinic, account, receive=True).status == 302
    with gmail_drops_the_answer():
        delivery_id = queued(clinic, recipient)
        eventually(lambda: delivery(project, clinic, delivery_id).get("attempts") == 1)
        eventually(state_is(project, clinic, delivery_id, "queued"))
    stored = delivery(project, clinic, delivery_id)
    assert stored["last_error"]["code"] == "outcome_unknown"
    eventually(state_is(project, clinic, delivery_id, "sent"), timeout=30)
    stored = delivery(project, clinic, delivery_id)
    assert "found it in the mailbox" in stored["delivery_note"]
    copies = [m for m in sent_by(account) if m["message_id"] == stored["message_id"]]
    assert len(copies) == 1


def test_without_a_read_scope_a_lost_gmail_answer_stays_unconfirmed_and_is_sent_once(
    clinic: Clinic, recipient, project
):
    account = clinic.google("lost-no-read")
    assert connect(clinic, account).status == 302
    with gmail_drops_the_answer():
        delivery_id = queued(clinic, recipient)
        eventually(state_is(project, clinic, delivery_id, "sent_unconfirmed"), timeout=30)
    time.sleep(4)  # past the stack's wait before a search (3 s): nothing more happens
    stored = delivery(project, clinic, delivery_id)
    assert (stored["state"], stored["error"]["code"]) == ("sent_unconfirmed", "outcome_unknown")
    assert len(sent_by(account)) == 1


# -- SMTP: the Sent folder over IMAP -----------------------------------------------------------


def test_an_smtp_email_filed_in_the_sent_folder_is_recorded_sent_not_unconfirmed(
    clinic: Clinic, recipient, certs, project
):
    """The server took the message and held its reply past the limit, but files what it sends
    (as Gmail's and Outlook's SMTP do): the next attempt finds the Message-ID in the Sent folder
    over IMAP (the stack's Dovecot) and records `sent`."""
    with scripted_server(Behaviour.SLOW_FINAL_REPLY, certs) as server:
        call("PATCH", "settings", bearer=clinic.admin, body={"integrations": {"smtp_imap": True}})
        body = settings_body(
            smtp={
                "host": "127.0.0.1",
                "port": server.port,
                "security": "starttls",
                "username": DEMO,
                "password": os.environ["MAIL_DEMO_PASSWORD"],
            }
        )
        assert save(clinic, body).status_code == 200
        firestore.Client(project=project).document(
            f"tenants/{clinic.tenant}/mailboxes/tenant"
        ).update({"state": "active"})
        delivery_id = queued(clinic, recipient)
        [raw] = eventually(lambda: list(server.received))
        file_in_sent(raw)  # what the server does with what it sends
        eventually(state_is(project, clinic, delivery_id, "sent"), timeout=30)
        assert len(server.received) == 1
    stored = delivery(project, clinic, delivery_id)
    assert stored["attempts_log"][0]["error"]["code"] == "outcome_unknown"
    assert "found it in the mailbox" in stored["delivery_note"]


def file_in_sent(raw: bytes) -> None:
    tls = ssl.create_default_context(cafile=os.environ["SENDVIA_TLS_CA_FILE"])
    with IMAPClient(HOST, port=port("IMAPS"), ssl=True, ssl_context=tls, timeout=10) as imap:
        imap.login(DEMO, os.environ["MAIL_DEMO_PASSWORD"])
        imap.append("Sent", raw, flags=[b"\\Seen"])
