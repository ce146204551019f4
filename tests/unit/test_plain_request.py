"""`send` reads a plainly valid body by hand (domain.plain_request) and leaves every other body
to the pydantic model, which stays the contract; so does `oauth_start` (api.plain_start). What
the hand reads, the model must accept, into the same request: for a send, the same stored
content and the same fingerprint, so that a retry is recognised whichever way either try was
read."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sendvia.domain.message import HeaderError
from sendvia.domain.plain_request import plain_request
from sendvia.domain.send_request import SendRequest

PLAIN = [
    {"to": ["pat@example.com"], "subject": "Reminder", "text": "Tomorrow at 10."},
    {"to": ["Pat Smith <pat@example.com>"], "subject": "Hi", "html": "<p>Hi</p>"},
    {"to": ['"Smith, Pat" <pat@example.com>', "b@x.example"], "subject": "s", "text": ""},
    {
        "to": ["a@example.com"],
        "cc": ["Zoë <zoe@example.com>"],
        "bcc": ["audit@clinic.example"],
        "subject": "Invoice 2026-114",
        "text": "Attached.",
        "html": "<p>Attached.</p>",
        "category": "invoice",
        "contact_id": "c-123",
        "mode": "queue",
    },
    {"to": ["a@example.com"], "subject": "x", "text": "y", "contact_id": None, "send_at": None},
    {"to": ["a@example.com"], "subject": "x" * 998, "text": "y", "attachments": []},
    {"to": [f"p{i}@example.com" for i in range(100)], "subject": "x", "text": "y"},
]

LEFT_TO_THE_MODEL = [
    [],
    "a string",
    {"to": [], "subject": "x", "text": "y"},
    {"to": "pat@example.com", "subject": "x", "text": "y"},
    {"to": ["not an address"], "subject": "x", "text": "y"},
    {"to": ["pat@exämple.com"], "subject": "x", "text": "y"},
    {"to": ["a@example.com"], "subject": "x"},
    {"to": ["a@example.com"], "subject": "", "text": "y"},
    {"to": ["a@example.com"], "subject": "x" * 999, "text": "y"},
    {"to": ["a@example.com"], "subject": "x\r\nBcc: eve@evil.example", "text": "y"},
    {"to": ["a@example.com"], "subject": "=?utf-8?q?x?=", "text": "y"},
    {"to": ["a@example.com"], "subject": 5, "text": "y"},
    {"to": ["a@example.com"], "subject": "x", "text": 5},
    {"to": ["a@example.com"], "subject": "x", "text": "y", "category": "Not A Token"},
    {"to": ["a@example.com"], "subject": "x", "text": "y", "category": None},
    {"to": ["a@example.com"], "subject": "x", "text": "y", "category": "news\n"},
    {"to": ["a@example.com"], "subject": "x\ud800", "text": "y"},
    {"to": ["a@example.com"], "subject": "x", "text": "y\udfff"},
    {"to": ["Zo\ud800 <a@example.com>"], "subject": "x", "text": "y"},
    {"to": ["a@example.com"], "subject": "x", "text": "y", "contact_id": "c\ud800"},
    {"to": ["a@example.com"], "subject": "x", "text": "y", "mode": "later"},
    {"to": ["a@example.com"], "subject": "x", "text": "y", "contact_id": ""},
    {"to": ["a@example.com"], "subject": "x", "text": "y", "contact_id": "c" * 201},
    {"to": ["a@example.com"], "subject": "x", "text": "y", "cc": None},
    {"to": ["a@example.com"], "subject": "x", "text": "y", "attachments": None},
    {"to": ["a@example.com"], "subject": "x", "text": "y", "colour": "blue"},
    {"to": [f"p{i}@example.com" for i in range(101)], "subject": "x", "text": "y"},
    {"to": ["a" * 310 + "@example.com"], "subject": "x", "text": "y"},
    # Plain enough, but the model reads these itself:
    {"to": ["a@example.com"], "subject": "x", "text": "y", "send_at": "2027-01-01T10:00:00Z"},
    {
        "to": ["a@example.com"],
        "subject": "x",
        "text": "y",
        "attachments": [{"filename": "a.txt", "content": "aGk="}],
    },
]


def model(body: Any) -> SendRequest | None:
    try:
        return SendRequest.model_validate(body)
    except (ValidationError, HeaderError):
        return None


def assert_same(body: Any) -> None:
    plain = plain_request(body)
    if plain is None:
        return
    validated = model(body)
    assert validated is not None, f"the hand accepted what the model refuses: {body!r}"
    assert plain.model_dump(mode="json") == validated.model_dump(mode="json")
    assert plain.fingerprint() == validated.fingerprint()
    for name in ("to", "cc", "bcc", "subject", "text", "html", "category", "contact_id", "mode"):
        assert getattr(plain, name) == getattr(validated, name), name
    assert plain.attachment_bytes() == validated.attachment_bytes() == 0


@pytest.mark.parametrize("body", PLAIN)
def test_a_plain_body_is_read_by_hand_into_what_the_model_reads(body):
    assert plain_request(body) is not None
    assert_same(body)


@pytest.mark.parametrize("body", LEFT_TO_THE_MODEL)
def test_anything_else_is_left_to_the_model(body):
    assert plain_request(body) is None


ADDRESSES = st.sampled_from(
    ["a@example.com", "Ann <a@example.com>", "x", "", "a@b", "Ä <a@b.example>", "a@exämple.com"]
)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=5),
    st.sampled_from(["now", "queue", "general", "invoice", "c-1", "x\r\ny", "=?", "news\n"]),
    st.sampled_from(["\ud800", "a\udfffb", "Zoë"]),
)
BODIES = st.dictionaries(
    st.sampled_from(["to", "cc", "bcc", "subject", "text", "html", "category", "contact_id"])
    | st.sampled_from(["mode", "send_at", "attachments", "other"]),
    st.one_of(VALUES, st.lists(ADDRESSES, max_size=3), st.lists(VALUES, max_size=2)),
)


@settings(max_examples=600, deadline=None)
@given(BODIES)
def test_whatever_the_hand_accepts_the_model_accepts_the_same(body):
    assert_same(body)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {"to": st.lists(ADDRESSES, min_size=1, max_size=3), "subject": st.text(max_size=20)},
        optional={"text": st.text(max_size=20), "cc": st.lists(ADDRESSES, max_size=2)},
    )
)
def test_near_plain_bodies_are_read_alike(body):
    assert_same(body)


START_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(["google", "microsoft", "yahoo", "tenant", "me", "Me", ""]),
    st.sampled_from(["https://app.clinic.example/x", "http://localhost:3000/a b", "x\ny", "ok"]),
    st.text(max_size=4),
)
START_BODIES = st.dictionaries(
    st.sampled_from(["provider", "mailbox", "receive", "return_to", "other"]), START_VALUES
)


def assert_same_start(body: Any) -> None:
    from sendvia.api.plain_start import plain_start
    from sendvia.api.start_request import StartRequest

    plain = plain_start(body)
    if plain is None:
        return
    try:
        validated = StartRequest.model_validate(body)
    except ValidationError:
        raise AssertionError(f"the hand accepted what the model refuses: {body!r}") from None
    for name in ("provider", "mailbox", "receive", "return_to"):
        assert getattr(plain, name) == getattr(validated, name), name


@pytest.mark.parametrize(
    "body",
    [
        {"mailbox": "tenant", "return_to": "https://app.clinic.example/settings"},
        {"provider": "microsoft", "mailbox": "me", "receive": True, "return_to": "http://x/y"},
    ],
)
def test_a_plain_start_is_read_by_hand_as_the_model_reads_it(body):
    from sendvia.api.plain_start import plain_start

    assert plain_start(body) is not None
    assert_same_start(body)


@pytest.mark.parametrize(
    "body",
    [
        {"mailbox": "tenant"},
        {"mailbox": "team", "return_to": "https://x"},
        {"mailbox": "tenant", "return_to": "https://x y"},
        {"mailbox": "tenant", "return_to": "https://x", "receive": "yes"},
        {"mailbox": "tenant", "return_to": "https://x", "receive": 1},
        {"mailbox": "tenant", "return_to": "https://x", "provider": "yahoo"},
        {"mailbox": "tenant", "return_to": "h" * 2001},
        {"mailbox": "tenant", "return_to": "https://x", "colour": 1},
        {"mailbox": "tenant", "return_to": "https://x\ud800"},
    ],
)
def test_any_other_start_is_left_to_the_model(body):
    from sendvia.api.plain_start import plain_start

    assert plain_start(body) is None


@settings(max_examples=400, deadline=None)
@given(START_BODIES)
def test_whatever_start_the_hand_accepts_the_model_accepts_the_same(body):
    assert_same_start(body)


# The pieces addresses are made of, and characters that make them something else.
ADDRESS_PIECES = [*"abZ09.@.@!#$%&'*+/=?^_`{|}~- <>\"(),:;[]\\é\r\n", "ann", "example", "com", "=?"]


def outcome(read: Any, value: str) -> Any:
    try:
        return read(value)
    except (ValueError, HeaderError) as refused:
        return type(refused)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(ADDRESS_PIECES), min_size=1, max_size=12).map("".join))
def test_a_plain_address_is_taken_as_parsing_would_take_it(value):
    """`recipient` takes an ASCII address alone as written, without parsing it: the answer
    (or the refusal) must be the parser's, whatever the value holds."""
    from sendvia.domain.plain_request import _parsed, recipient

    assert outcome(recipient, value) == outcome(lambda v: _parsed(v) if check(v) else None, value)


def check(value: str) -> bool:
    from sendvia.domain.message import check_header_value

    check_header_value("recipient", value)
    return True
