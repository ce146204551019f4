"""Values encoded for a document (adapters/firestore/documents.encode) as the client library
encodes them, whatever their type: its own, or a subclass that the lookup by type misses."""

from __future__ import annotations

import collections
import datetime as dt
import enum

import pytest
from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.types import document
from sendvia.adapters.firestore.documents import encode


class Tries(enum.IntEnum):
    FIRST = 1


class State(enum.StrEnum):
    QUEUED = "queued"


VALUES = [
    None,
    True,
    False,
    0,
    -7,
    2**53 + 1,
    0.25,
    "queued",
    "Ünïcode ✓",
    b"\x00\xffbytes",
    dt.datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=dt.UTC),
    dt.datetime(1969, 7, 20, 20, 17, 40, 5, tzinfo=dt.UTC),
    dt.datetime(2026, 1, 1, 12, 0, 0),  # naive: read as UTC
    dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    DatetimeWithNanoseconds(2026, 12, 2, 9, 30, 15, nanosecond=123456789, tzinfo=dt.UTC),
    Tries.FIRST,
    State.QUEUED,
    [],
    [1, "two", {"three": 3.0}, None, [True]],
    ("a", 1),
    {},
    {"to": ["ann@example.com"], "nested": {"deeper": [1, {"x": b"y"}], "empty": {}}},
    collections.OrderedDict(a=1, b=[2]),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_a_value_is_encoded_as_the_library_encodes_it(value):
    ours = document.Value.pb()()
    encode(ours, value)
    assert ours == _helpers.encode_value(value)._pb


def test_what_cannot_be_stored_is_refused_by_name():
    with pytest.raises(TypeError, match="cannot store a set"):
        encode(document.Value.pb()(), {1, 2})
