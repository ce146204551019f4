"""The internal functions in process: `deliver` and `reminders` take only the platform's own
callers' tokens, and the reminder batch gives each due email its task once."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.fakes import NOW, Fakes, fake_runtime
from tests.functional.conftest import TENANT, Client

TASKS = {
    "SENDVIA_DELIVER_URL": "https://functions.test/deliver",
    "SENDVIA_TASKS_SERVICE_ACCOUNT": "tasks@demo.iam.gserviceaccount.com",
    "SENDVIA_SCHEDULER_SERVICE_ACCOUNT": "scheduler@demo.iam.gserviceaccount.com",
    "SENDVIA_REMINDERS_URL": "https://reminders-abc-uc.a.run.app",
}


@pytest.fixture
def fakes() -> Fakes:
    return fake_runtime(**TASKS)


def scheduled(fakes: Fakes, delivery_id: str, at: dt.datetime) -> None:
    fakes.deliveries.create(
        TENANT,
        delivery_id,
        {
            "kind": "scheduled",
            "state": "scheduled",
            "send_at": at,
            "to": ["pat@example.com"],
            "subject": "Reminder",
            "content": {"to": ["pat@example.com"], "subject": "Reminder", "text": "Tomorrow."},
            "created_at": NOW,
        },
    )


@pytest.mark.parametrize("function", ["deliver", "reminders"])
def test_the_internal_functions_refuse_callers_without_a_platform_token(client, function):
    body = {"tenant_id": TENANT, "delivery_id": "d1"}
    assert client.call("POST", function, body=body).status_code == 401
    forged = client.call("POST", function, body=body, token="a-user-token")
    assert forged.status_code == 401


def test_the_reminder_batch_enqueues_what_is_due_once(client: Client, fakes: Fakes):
    scheduled(fakes, "soon", NOW + dt.timedelta(minutes=5))
    scheduled(fakes, "later", NOW + dt.timedelta(days=1))
    first = client.call("POST", "reminders", token="task-token")
    assert first.status_code == 200, first.json
    assert (first.json["enqueued"], first.json["already_queued"]) == (1, 0)
    again = client.call("POST", "reminders", token="task-token")
    assert (again.json["enqueued"], again.json["already_queued"]) == (0, 1)
    assert list(fakes.queue.tasks) == [(TENANT, "soon", 0)]


def test_deliver_sends_a_due_email_for_a_task(client: Client, fakes: Fakes):
    scheduled(fakes, "soon", NOW + dt.timedelta(minutes=1))
    body = {"tenant_id": TENANT, "delivery_id": "soon"}
    answer = client.call("POST", "deliver", body=body, token="task-token")
    assert (answer.status_code, answer.json) == (200, {"outcome": "sent"})
    assert len(fakes.relay.sent) == 1
    bad = client.call("POST", "deliver", body={"tenant_id": TENANT}, token="task-token")
    assert (bad.status_code, bad.json["error"]["field"]) == (400, "delivery_id")
    for wrong, code in (
        ({**body, "extra": 1}, "unknown_field"),
        ({"tenant_id": TENANT, "delivery_id": "x" * 101}, "invalid_value"),
        (["not", "an", "object"], "invalid_body"),
    ):
        refused = client.call("POST", "deliver", body=wrong, token="task-token")
        assert (refused.status_code, refused.json["error"]["code"]) == (400, code)


def test_each_internal_function_checks_its_own_caller_for_its_configured_url(client, fakes):
    """The audience is the URL Terraform configured, not the request's own URL (behind Cloud
    Run's front end that is not the https URL Cloud Scheduler signs for)."""
    client.call("POST", "reminders", token="task-token")
    client.call("POST", "deliver", body={"tenant_id": TENANT, "delivery_id": "x"}, token="t")
    assert fakes.callers.asked == [
        (TASKS["SENDVIA_REMINDERS_URL"], TASKS["SENDVIA_SCHEDULER_SERVICE_ACCOUNT"]),
        (TASKS["SENDVIA_DELIVER_URL"], TASKS["SENDVIA_TASKS_SERVICE_ACCOUNT"]),
    ]


def test_with_the_check_explicitly_off_a_local_batch_runs_without_a_token():
    local = fake_runtime(**{**TASKS, "SENDVIA_SCHEDULER_AUTH": "off"})
    answer = Client(local).call("POST", "reminders")
    assert answer.status_code == 200, answer.json
    assert local.callers.asked == []
