"""An email the server took without confirming it is sent once, never retried (security review
H3): the scripted server takes the whole message and holds its final reply for 15 s, past the
stack's reply limit (4 s). Before, the step timed out, the email was retried as if nothing had
been sent, and the server received a copy per retry."""

from __future__ import annotations

import time

from emulators.mail.misbehaving import Behaviour, scripted_server
from tests.integration.clinic import Clinic
from tests.integration.helpers import (
    delivery,
    email,
    eventually,
    queued,
    send,
    smtp_mailbox_at,
    state_is,
)


def test_a_queued_email_whose_reply_never_came_is_sent_once_and_marked_unconfirmed(
    clinic: Clinic, recipient, certs, project
):
    with scripted_server(Behaviour.SLOW_FINAL_REPLY, certs) as server:
        smtp_mailbox_at(clinic, project, server.port)
        delivery_id = queued(clinic, recipient)
        eventually(state_is(project, clinic, delivery_id, "sent_unconfirmed"), timeout=30)
        time.sleep(3)  # what a retry would have needed (the stack's backoff is 0.5–2 s)
        assert len(server.received) == 1
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
