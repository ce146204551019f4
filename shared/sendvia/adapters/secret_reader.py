"""Reading a secret version: Secret Manager's AccessSecretVersion as one gRPC call, without its
client library.

Importing the library (google.cloud.secretmanager_v1: every type and service of the API) costs a
cold start 27 ms, a tenth of the floor's whole (bench/cold_start.py), and the functions that send
(`send`, `deliver`, `test_connection`) read a password or a token on their first request. Only
the two messages of this one method are declared here, with the API's own names and field
numbers (tests/unit/test_secret_reader.py holds them to the library's); the call goes to the same
endpoint with the same credentials, routing header and retries as the library's, or to the
emulator's plain channel when one is set. Writing, listing and destroying versions — connecting
a mailbox, not sending — still go through the library (adapters/secret_manager).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from sendvia.adapters import grpc_calls

HOST = "secretmanager.googleapis.com"
ENDPOINT = f"{HOST}:443"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
METHOD = "/google.cloud.secretmanager.v1.SecretManagerService/AccessSecretVersion"
TIMEOUT_S = 60.0  # the library's default for this method, and its retries' deadline


@functools.cache
def messages() -> tuple[Any, Any]:
    """(AccessSecretVersionRequest, AccessSecretVersionResponse) as protobuf classes: the fields
    read here, in a descriptor pool of their own (the library's, if loaded, is left alone)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    package = "google.cloud.secretmanager.v1"
    file = descriptor_pb2.FileDescriptorProto(
        name="sendvia/secret_reader.proto", package=package, syntax="proto3"
    )
    request = file.message_type.add(name="AccessSecretVersionRequest")
    request.field.add(name="name", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    payload = file.message_type.add(name="SecretPayload")
    payload.field.add(name="data", number=1, type=field.TYPE_BYTES, label=field.LABEL_OPTIONAL)
    response = file.message_type.add(name="AccessSecretVersionResponse")
    response.field.add(name="name", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    response.field.add(
        name="payload",
        number=2,
        type=field.TYPE_MESSAGE,
        type_name=f".{package}.SecretPayload",
        label=field.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{request.name}")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{response.name}")),
    )


class SecretReader:
    """`reader(version_name)` → (the version's full name, `latest` resolved; its data). Raises
    google.api_core exceptions, as the library does (NotFound, FailedPrecondition, …)."""

    def __init__(self, emulator_host: str | None = None) -> None:
        self._emulator_host = emulator_host
        self._call: grpc_calls.Call | None = None
        self._lock = threading.Lock()

    def __call__(self, version_name: str) -> tuple[str, bytes]:
        request_type, _ = messages()
        request = request_type(name=version_name)
        response = (self._call or self._made())(
            request, (grpc_calls.routing("name", version_name),)
        )
        return str(response.name), bytes(response.payload.data)

    def _made(self) -> grpc_calls.Call:
        from google.api_core import exceptions

        with self._lock:
            if self._call is None:
                request_type, response_type = messages()
                self._call = grpc_calls.unary_on(
                    self._channel(),
                    METHOD,
                    request_type,
                    response_type,
                    timeout_s=TIMEOUT_S,
                    # The library's retry for this method: these two, from 2 s, doubling.
                    retry_on=(exceptions.ResourceExhausted, exceptions.ServiceUnavailable),
                    first_pause_s=2.0,
                    pause_growth=2.0,
                )
            return self._call

    def _channel(self) -> Any:
        import grpc

        if self._emulator_host:
            return grpc.insecure_channel(self._emulator_host)
        from google.api_core import grpc_helpers

        # As the library's transport makes it: the environment's credentials (the function's
        # service account), TLS, the API's scope.
        return grpc_helpers.create_channel(ENDPOINT, default_scopes=list(SCOPES), default_host=HOST)
