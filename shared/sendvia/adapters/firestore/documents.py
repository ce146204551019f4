"""Documents read and written as protobuf messages, for the writes every email makes.

The client library wraps every field of every document in proto-plus objects on its way in and
out: for a delivery that is about half of the CPU of each read or write (bench/pipeline.py;
issue 17). These calls go through the same client's channel — its endpoint, credentials, the
retries of its generated client and its routing headers, against Google or the emulator alike
(adapters/grpc_calls) — with requests built as protobuf messages, and values converted as the
library converts them: what is written and read back is the same document
(tests/integration/test_documents.py).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sendvia.adapters import grpc_calls
from sendvia.metering import WRITE_PATHS

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.protobuf.timestamp_pb2 import Timestamp

# Field names written as they are; any other needs quoting in a field path, and is not ours.
_PLAIN_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Snapshot:
    data: dict[str, Any]
    update_time: Timestamp  # the document's version, for a write conditional on it


TIMEOUT_S = 60.0  # the generated client's default for both


class Documents:
    def __init__(self, client: firestore.Client) -> None:
        self._client = client
        self._calls: dict[str, grpc_calls.Call] = {}
        self._lock = threading.Lock()

    def _call(self, method: str, request: Any, routing: tuple[str, str]) -> Any:
        call = self._calls.get(method) or self._made(method)
        metadata = (*self._client._rpc_metadata, grpc_calls.routing(*routing))
        return call(request, metadata)

    def _made(self, method: str) -> grpc_calls.Call:
        from google.api_core import exceptions
        from google.cloud.firestore_v1.types import document
        from google.cloud.firestore_v1.types import firestore as requests

        # The generated client's retries: reads on these four, commits on the last two.
        busy = (exceptions.ResourceExhausted, exceptions.ServiceUnavailable)
        types = {
            "GetDocument": (
                requests.GetDocumentRequest,
                document.Document,
                (exceptions.DeadlineExceeded, exceptions.InternalServerError, *busy),
            ),
            "Commit": (requests.CommitRequest, requests.CommitResponse, busy),
        }
        request_type, response_type, retry_on = types[method]
        call = grpc_calls.unary(
            self._client._firestore_api,  # the client's own generated client and channel
            f"/google.firestore.v1.Firestore/{method}",
            request_type,
            response_type,
            timeout_s=TIMEOUT_S,
            retry_on=retry_on,
        )
        with self._lock:
            self._calls[method] = call
        return call

    def name(self, path: str) -> str:
        return f"{self._client._database_string}/documents/{path}"

    def get(self, path: str) -> Snapshot | None:
        """The document, or None when there is none (one GetDocument)."""
        from google.api_core import exceptions
        from google.cloud.firestore_v1.types import firestore as requests

        name = self.name(path)
        request = requests.GetDocumentRequest.pb()(name=name)
        try:
            document = self._call("GetDocument", request, ("name", name))
        except exceptions.NotFound:
            return None
        version = document.update_time.__class__()
        version.CopyFrom(document.update_time)  # not a view into the whole document
        return Snapshot(decode_fields(document.fields), version)

    def update(
        self,
        path: str,
        changes: Mapping[str, Any],
        *,
        if_updated_at: Timestamp | None = None,
        append: Mapping[str, list[Any]] | None = None,
    ) -> Timestamp:
        """Set top-level fields of an existing document (NotFound when it is gone), on the
        condition that its version is still `if_updated_at` when one is given
        (FailedPrecondition otherwise); `append` adds elements to array fields as ArrayUnion
        does. The version written."""
        write = self._write()
        write.update.name = self.name(path)
        _encode_fields(write.update.fields, changes)
        write.update_mask.field_paths.extend(_field_paths(changes))
        if if_updated_at is None:
            write.current_document.exists = True
        else:
            write.current_document.update_time.CopyFrom(if_updated_at)
        for field, values in (append or {}).items():
            transform = write.update_transforms.add()
            transform.field_path = _field_paths([field])[0]
            for value in values:
                encode(transform.append_missing_elements.values.add(), value)
        return self._commit([write])[0]

    def create_all(self, documents: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Timestamp]:
        """Create the documents in one atomic commit (Conflict when one of them exists); their
        versions."""
        writes = []
        for path, data in documents:
            write = self._write()
            write.update.name = self.name(path)
            _encode_fields(write.update.fields, data)
            write.current_document.exists = False
            writes.append(write)
        return self._commit(writes)

    @staticmethod
    def _write() -> Any:
        from google.cloud.firestore_v1.types import write

        return write.Write.pb()()

    def _commit(self, writes: list[Any]) -> list[Timestamp]:
        from google.cloud.firestore_v1.types import firestore as requests

        if WRITE_PATHS.on:
            WRITE_PATHS.add([w.update.name.split("/documents/", 1)[-1] for w in writes])
        database = self._client._database_string
        request = requests.CommitRequest.pb()(database=database, writes=writes)
        response = self._call("Commit", request, ("database", database))
        return [
            result.update_time if result.HasField("update_time") else response.commit_time
            for result in response.write_results
        ]


def _field_paths(fields: Iterable[str]) -> list[str]:
    paths = list(fields)
    for field in paths:
        if not _PLAIN_FIELD.fullmatch(field):
            raise ValueError(f"not a plain field name: {field!r}")
    return paths


def _encode_fields(fields: Any, data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        encode(fields[key], value)


def encode(target: Any, value: Any) -> None:
    """Set the Value message `target` to `value`, as the client library encodes it."""
    (_BY_TYPE.get(type(value)) or _encoder_for(value))(target, value)


def _encoder_for(value: Any) -> Any:  # noqa: PLR0911 - one branch per type
    """For a value whose type is not one of _BY_TYPE's own (a subclass: the library's
    DatetimeWithNanoseconds, an enum, a mapping of another kind): the first of the library's
    checks, in its order, that the value passes."""
    if value is None:
        return _null
    if isinstance(value, bool):
        return _boolean
    if isinstance(value, int):
        return _integer
    if isinstance(value, float):
        return _double
    if isinstance(value, str):
        return _string
    if isinstance(value, bytes):
        return _bytes
    if isinstance(value, dt.datetime):
        return _timestamp
    if isinstance(value, Mapping):
        return _map
    if isinstance(value, list | tuple):
        return _array
    raise TypeError(f"cannot store a {type(value).__name__} in a document")


def _null(target: Any, value: None) -> None:
    target.null_value = 0


def _boolean(target: Any, value: bool) -> None:
    target.boolean_value = value


def _integer(target: Any, value: int) -> None:
    target.integer_value = value


def _double(target: Any, value: float) -> None:
    target.double_value = value


def _string(target: Any, value: str) -> None:
    target.string_value = value


def _bytes(target: Any, value: bytes) -> None:
    target.bytes_value = value


def _timestamp(target: Any, value: dt.datetime) -> None:
    stamp = target.timestamp_value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # the library's reading of a naive time
    since = value - _EPOCH
    stamp.seconds = since.days * 86_400 + since.seconds
    stamp.nanos = since.microseconds * 1000 + getattr(value, "nanosecond", 0) % 1000


def _map(target: Any, value: Mapping[Any, Any]) -> None:
    fields = target.map_value.fields
    target.map_value.SetInParent()
    for key, item in value.items():
        encode(fields[str(key)], item)


def _array(target: Any, value: list[Any] | tuple[Any, ...]) -> None:
    array = target.array_value
    array.SetInParent()
    for item in value:
        encode(array.values.add(), item)


# The encoder of each type the library encodes, by the value's own type: one lookup for nearly
# every value instead of a chain of checks (about 300 a delivery; bench/pipeline.py).
_BY_TYPE: dict[type, Any] = {
    type(None): _null,
    bool: _boolean,
    int: _integer,
    float: _double,
    str: _string,
    bytes: _bytes,
    dt.datetime: _timestamp,
    dict: _map,
    list: _array,
    tuple: _array,
}


def decode_fields(fields: Any) -> dict[str, Any]:
    # By key: a protobuf map's items() is the Python Mapping's, a generator over the same
    # lookups (a fifth of a delivery's decoding).
    return {key: decode(fields[key]) for key in fields}


def decode(value: Any) -> Any:
    """A Value message as the client library reads it (timestamps as its
    DatetimeWithNanoseconds, in UTC)."""
    kind = value.WhichOneof("value_type")
    if kind in _SCALARS:
        return getattr(value, kind)
    if kind == "timestamp_value":
        from google.api_core.datetime_helpers import DatetimeWithNanoseconds

        return DatetimeWithNanoseconds.from_timestamp_pb(  # type: ignore[no-untyped-call]
            value.timestamp_value
        )
    if kind == "map_value":
        return decode_fields(value.map_value.fields)
    if kind == "array_value":
        return [decode(item) for item in value.array_value.values]
    if kind == "null_value" or kind is None:
        return None
    raise TypeError(f"a {kind} is not read on this path")


_SCALARS = frozenset(
    {"string_value", "integer_value", "boolean_value", "double_value", "bytes_value"}
)
