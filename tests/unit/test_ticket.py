"""The seal on a task's delivery (domain/ticket.py) and the key it is made with
(adapters/ticket_key.py): a ticket opens to exactly the document sealed, for its own tenant,
delivery and version, under its own key, and to nothing otherwise."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sendvia.adapters.ticket_key import RETRY_KEY_AFTER_S, TicketKey
from sendvia.config import load
from sendvia.domain import ticket
from sendvia.domain.delivery import Delivery
from sendvia.errors import ConfigError
from sendvia.ports import SecretUnavailable

KEY = secrets.token_bytes(32)
VERSION = "2026-12-02T07:30:00.123456789Z"
CREATED = dt.datetime(2026, 12, 2, 7, 30, 0, 123456, tzinfo=dt.UTC)
DOC: dict[str, Any] = {
    "kind": "triggered",
    "state": "queued",
    "lease_until": None,
    "attempts": 0,
    "to": ["pat@example.com"],
    "subject": "Reminder — ünïcode",
    "created_at": CREATED,
    "send_at": CREATED + dt.timedelta(minutes=5),
    "sender": {"uid": "ann", "email": "ann@clinic.test", "name": "Ann", "role": "admin"},
    "content": {"to": ["pat@example.com"], "subject": "Reminder", "text": "9 am", "n": 1.5},
    "idempotency_key_set": True,
}


def test_a_ticket_opens_to_the_document_sealed():
    sealed = ticket.seal(KEY, "t1", "d1", VERSION, DOC)
    assert sealed is not None
    assert ticket.unseal(KEY, "t1", "d1", sealed) == (VERSION, DOC)
    opened = ticket.unseal(KEY, "t1", "d1", sealed)
    assert opened is not None
    assert Delivery.from_doc("d1", opened[1]) == Delivery.from_doc("d1", DOC)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(
    data=st.dictionaries(st.text(min_size=1), json_values, max_size=6),
    times=st.dictionaries(
        st.text(min_size=1),
        st.datetimes(
            # Firestore stores years 1 to 9999, in UTC
            min_value=dt.datetime(1, 1, 2),
            max_value=dt.datetime(9999, 12, 30),
            timezones=st.builds(
                dt.timezone,
                st.timedeltas(min_value=-dt.timedelta(hours=23), max_value=dt.timedelta(hours=23)),
            ),
        ),
        max_size=3,
    ),
)
def test_any_document_firestore_would_store_opens_as_firestore_gives_it_back(data, times):
    doc = {**data, **times}
    sealed = ticket.seal(KEY, "t1", "d1", VERSION, doc)
    if sealed is None:  # too large to travel
        assert len(str(doc)) > 1_000
        return
    opened = ticket.unseal(KEY, "t1", "d1", sealed)
    assert opened == (VERSION, doc)  # the same instants; in UTC, as Firestore gives them back
    assert all(opened[1][name].tzinfo is dt.UTC for name in times)


@pytest.mark.parametrize(
    "change",
    [
        {"doc": "tampered"},
        {"version": "2026-12-02T07:30:01Z"},
        {"mac": "0" * 64},
        {"mac": "é" * 64},  # not even ASCII
        {"mac": None},
        {"doc": 42},
    ],
)
def test_a_changed_ticket_opens_to_nothing(change):
    sealed = ticket.seal(KEY, "t1", "d1", VERSION, DOC)
    assert sealed is not None
    assert ticket.unseal(KEY, "t1", "d1", {**sealed, **change}) is None


def test_a_ticket_is_for_its_own_tenant_delivery_and_key():
    sealed = ticket.seal(KEY, "t1", "d1", VERSION, DOC)
    assert sealed is not None
    assert ticket.unseal(KEY, "t2", "d1", sealed) is None
    assert ticket.unseal(KEY, "t1", "d2", sealed) is None
    assert ticket.unseal(secrets.token_bytes(32), "t1", "d1", sealed) is None
    # The ids are not simply joined: ("t1", "d1x") and ("t1d", "1x") sign differently.
    moved = ticket.seal(KEY, "t1\n", "d1", VERSION, DOC)
    assert moved is not None and ticket.unseal(KEY, "t1", "\nd1", moved) is None


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 12, 2, 7, 30),  # naive: Firestore would take it for UTC
        {"at": CREATED},  # nested: JSON has no datetime
        b"bytes",
        math.nan,
        "x" * ticket.MAX_SEALED_CHARS,
        dt.datetime.min.replace(tzinfo=dt.timezone(dt.timedelta(hours=5))),  # year 0 in UTC
    ],
    ids=["naive datetime", "nested datetime", "bytes", "NaN", "too large", "before year 1"],
)
def test_what_json_cannot_carry_travels_as_ids_only(value):
    assert ticket.seal(KEY, "t1", "d1", VERSION, {**DOC, "extra": value}) is None


class Secrets:
    def __init__(self, value: bytes | Exception) -> None:
        self.value, self.asked = value, 0

    def access(self, version_name: str) -> bytes:
        self.asked += 1
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def test_the_key_is_read_from_its_secret():
    key = TicketKey(Secrets(KEY), "projects/p/secrets/k/versions/latest")  # type: ignore[arg-type]
    assert key.get() == KEY


@pytest.mark.parametrize(
    "failure",
    [SecretUnavailable("gone"), PermissionError("denied"), b"too short"],
    ids=["missing", "not allowed", "too short"],
)
def test_an_unreadable_key_is_asked_for_again_only_after_a_while(failure, caplog):
    now = [100.0]
    source = Secrets(failure)
    key = TicketKey(source, "projects/p/secrets/k/versions/latest", lambda: now[0])  # type: ignore[arg-type]
    assert key.get() is None
    assert key.get() is None
    assert source.asked == 1
    now[0] += RETRY_KEY_AFTER_S
    source.value = KEY
    assert key.get() == KEY
    assert source.asked == 2
    assert "too short" not in caplog.text and "denied" not in caplog.text  # no values logged


def test_the_key_setting_must_name_a_secret_version():
    tasks = {
        "SENDVIA_DELIVER_URL": "https://functions.test/deliver",
        "SENDVIA_TASKS_SERVICE_ACCOUNT": "tasks@demo.iam.gserviceaccount.com",
        "SENDVIA_SCHEDULER_AUTH": "off",
        "GOOGLE_CLOUD_PROJECT": "demo-sendvia",
        "SENDVIA_PLATFORM_DOMAIN": "platform.test",
    }
    good = "projects/demo-sendvia/secrets/sendvia-task-ticket-key/versions/latest"
    settings = load({**tasks, "SENDVIA_TASKS_TICKET_KEY": good})
    assert settings.tasks is not None and settings.tasks.ticket_key == good
    assert load(tasks).tasks.ticket_key is None  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="SENDVIA_TASKS_TICKET_KEY must name"):
        load({**tasks, "SENDVIA_TASKS_TICKET_KEY": "a-raw-key-value"})
