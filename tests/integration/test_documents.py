"""The delivery's hot path writes and reads protobuf messages itself (adapters/firestore/
documents): against the Firestore emulator, what it writes reads back through the client library
as the library would have written it, and the other way round, conditions included."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from google.api_core import exceptions
from google.cloud import firestore
from sendvia.adapters.firestore.documents import Documents

EVERY_KIND = {
    "state": "queued",
    "attempts": 3,
    "big": 2**53 + 1,
    "negative": -7,
    "ratio": 0.25,
    "yes": True,
    "no": False,
    "nothing": None,
    "raw": b"\x00\xffbytes",
    "at": dt.datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=dt.UTC),
    "before_1970": dt.datetime(1969, 7, 20, 20, 17, 40, 5, tzinfo=dt.UTC),
    "naive_is_utc": dt.datetime(2026, 1, 1, 12, 0, 0),
    "content": {
        "to": ["ann@example.com", "Bob <bob@example.com>"],
        "subject": "Ünïcode ✓ and a long subject " * 3,
        "attachments": [],
        "nested": {"deeper": [1, "two", {"three": 3.0}], "empty": {}},
    },
    "empty_list": [],
}


@pytest.fixture
def db(project) -> firestore.Client:
    return firestore.Client(project=project)


def path() -> str:
    return f"tenants/docs-{uuid.uuid4().hex[:8]}/deliveries/{uuid.uuid4().hex}"


def as_library_reads(value):
    if isinstance(value, dict):
        return {k: as_library_reads(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_library_reads(v) for v in value]
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def test_what_it_creates_the_library_reads_as_it_was_given(db):
    where = path()
    Documents(db).create_all([(where, EVERY_KIND)])
    assert db.document(where).get().to_dict() == as_library_reads(EVERY_KIND)


def test_what_the_library_writes_it_reads_as_the_library_does(db):
    where = path()
    db.document(where).set(EVERY_KIND)
    snapshot = Documents(db).get(where)
    library = db.document(where).get()
    assert snapshot is not None
    assert snapshot.data == library.to_dict()
    assert type(snapshot.data["at"]) is type(library.to_dict()["at"])
    assert snapshot.update_time.ToDatetime(tzinfo=dt.UTC) == library.update_time


def test_a_missing_document_is_none_and_cannot_be_updated(db):
    documents = Documents(db)
    assert documents.get(path()) is None
    with pytest.raises(exceptions.NotFound):
        documents.update(path(), {"state": "sending"})


def test_an_update_sets_only_its_fields_and_appends_only_missing_elements(db):
    where = path()
    db.document(where).set({"state": "queued", "keep": "me", "log": [{"n": 1}]})
    Documents(db).update(where, {"state": "sent", "lease_until": None}, append={"log": [{"n": 1}]})
    Documents(db).update(where, {"extra": {"a": 1}}, append={"log": [{"n": 2}]})
    assert db.document(where).get().to_dict() == {
        "state": "sent",
        "lease_until": None,
        "keep": "me",
        "log": [{"n": 1}, {"n": 2}],
        "extra": {"a": 1},
    }


def test_an_update_on_a_version_that_changed_since_is_refused(db):
    where = path()
    documents = Documents(db)
    documents.create_all([(where, {"state": "queued"})])
    read = documents.get(where)
    assert read is not None
    written = documents.update(where, {"state": "sending"}, if_updated_at=read.update_time)
    with pytest.raises(exceptions.FailedPrecondition):
        documents.update(where, {"state": "stolen"}, if_updated_at=read.update_time)
    documents.update(where, {"state": "sent"}, if_updated_at=written)  # its own version: fine
    assert db.document(where).get().get("state") == "sent"


def test_creating_several_is_all_or_nothing(db):
    taken, fresh = path(), path()
    db.document(taken).set({"state": "sent"})
    with pytest.raises(exceptions.Conflict):
        Documents(db).create_all([(fresh, {"state": "queued"}), (taken, {"state": "queued"})])
    assert not db.document(fresh).get().exists
    assert db.document(taken).get().to_dict() == {"state": "sent"}


def test_a_field_name_that_would_need_quoting_is_refused(db):
    with pytest.raises(ValueError, match="plain field name"):
        Documents(db).update(path(), {"a.b": 1})
