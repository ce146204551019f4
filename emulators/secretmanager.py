"""A Secret Manager emulator: `google.cloud.secretmanager.v1.SecretManagerService` over gRPC.

No emulator for Secret Manager exists on the package registries, so this one keeps the
behaviours sendvia relies on, as documented at cloud.google.com/secret-manager/docs:
AlreadyExists on a duplicate secret, `latest` meaning the most recently created version whatever
its state, FailedPrecondition when accessing a disabled or destroyed version, CRC32C checksums on
the payload, a 64 KiB payload limit, labels, and the real error codes for malformed names.
State lives in memory for the life of the process.
"""

from __future__ import annotations

import argparse
import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import google_crc32c
from google.cloud.secretmanager_v1 import types
from google.protobuf import empty_pb2, field_mask_pb2, timestamp_pb2

from emulators.grpc_service import (
    Method,
    already_exists,
    failed_precondition,
    invalid_argument,
    not_found,
    page,
    serve,
)

SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"
MAX_PAYLOAD = 64 * 1024
MAX_PAGE = 25_000

_PROJECT = re.compile(r"^projects/(?P<project>[a-z0-9][a-z0-9-]{0,62})$")
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_SECRET = re.compile(r"^projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/]+)$")
_VERSION = re.compile(
    r"^projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/]+)/versions/(?P<v>[^/]+)$"
)
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_FILTER_TERM = re.compile(r"^(?P<key>labels\.[a-z][a-z0-9_-]*|name)(?P<op>[:=])(?P<value>\S+)$")

State: Any = types.SecretVersion.State


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def _crc32c(data: bytes) -> int:
    return int(google_crc32c.value(data))


@dataclass
class _Version:
    number: int
    message: types.SecretVersion
    data: bytes | None


@dataclass
class _Secret:
    message: types.Secret
    versions: list[_Version] = field(default_factory=list)


class SecretStore:
    """The secrets of every project, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, _Secret] = {}

    # -- secrets -------------------------------------------------------------------------------

    def create_secret(self, request: types.CreateSecretRequest) -> types.Secret:
        _parse_project(request.parent)
        if not _SECRET_ID.match(request.secret_id):
            raise invalid_argument(
                "secret_id must be 1-255 characters of letters, digits, underscores and hyphens"
            )
        secret = types.Secret(request.secret)
        if types.Replication.pb(secret.replication).WhichOneof("replication") is None:
            raise invalid_argument("Secret.replication is required (automatic or user_managed)")
        _check_labels(dict(secret.labels))
        name = f"{request.parent}/secrets/{request.secret_id}"
        with self._lock:
            if name in self._secrets:
                raise already_exists(f"Secret [{name}] already exists.")
            secret.name = name
            secret.create_time = _now()
            secret.etag = _etag()
            self._secrets[name] = _Secret(secret)
            return types.Secret(secret)

    def get_secret(self, request: types.GetSecretRequest) -> types.Secret:
        with self._lock:
            return types.Secret(self._secret(request.name).message)

    def update_secret(self, request: types.UpdateSecretRequest) -> types.Secret:
        paths = list(request.update_mask.paths)
        if not paths:
            raise invalid_argument("update_mask is required")
        for path in paths:
            if path.split(".")[0] in {"name", "replication", "create_time"}:
                raise invalid_argument(f"Field {path} cannot be updated")
        with self._lock:
            stored = self._secret(request.secret.name)
            merged = types.Secret.pb(types.Secret(stored.message))
            mask = field_mask_pb2.FieldMask(paths=paths)
            try:
                mask.MergeMessage(
                    types.Secret.pb(request.secret),
                    merged,
                    replace_message_field=True,
                    replace_repeated_field=True,
                )
            except ValueError as exc:
                raise invalid_argument(f"Invalid update_mask: {exc}") from exc
            updated = types.Secret.wrap(merged)
            _check_labels(dict(updated.labels))
            updated.etag = _etag()
            stored.message = updated
            return types.Secret(updated)

    def delete_secret(self, request: types.DeleteSecretRequest) -> empty_pb2.Empty:
        with self._lock:
            secret = self._secret(request.name)
            if request.etag and request.etag != secret.message.etag:
                raise failed_precondition("The etag does not match the secret's current etag.")
            del self._secrets[request.name]
        return empty_pb2.Empty()

    def list_secrets(self, request: types.ListSecretsRequest) -> types.ListSecretsResponse:
        _parse_project(request.parent)
        terms = _parse_filter(request.filter)
        prefix = f"{request.parent}/secrets/"
        with self._lock:
            secrets = [
                types.Secret(s.message)
                for name, s in sorted(self._secrets.items())
                if name.startswith(prefix) and _matches(s.message, terms)
            ]
        chunk, token = page(secrets, request.page_size, request.page_token, MAX_PAGE)
        return types.ListSecretsResponse(
            secrets=chunk, next_page_token=token, total_size=len(secrets)
        )

    # -- versions ------------------------------------------------------------------------------

    def add_version(self, request: types.AddSecretVersionRequest) -> types.SecretVersion:
        data = request.payload.data
        if len(data) > MAX_PAYLOAD:
            raise invalid_argument(f"Secret payload must be at most {MAX_PAYLOAD} bytes")
        checksum_given = "data_crc32c" in request.payload
        if checksum_given and request.payload.data_crc32c != _crc32c(data):
            raise invalid_argument("Checksum mismatch: the data_crc32c does not match the payload")
        with self._lock:
            secret = self._secret(request.parent)
            number = len(secret.versions) + 1
            message = types.SecretVersion(
                name=f"{request.parent}/versions/{number}",
                create_time=_now(),
                state=State.ENABLED,
                etag=_etag(),
                client_specified_payload_checksum=checksum_given,
            )
            secret.versions.append(_Version(number, message, data))
            return types.SecretVersion(message)

    def get_version(self, request: types.GetSecretVersionRequest) -> types.SecretVersion:
        with self._lock:
            return types.SecretVersion(self._version(request.name).message)

    def access_version(
        self, request: types.AccessSecretVersionRequest
    ) -> types.AccessSecretVersionResponse:
        with self._lock:
            version = self._version(request.name)
            state = version.message.state
            if state != State.ENABLED or version.data is None:
                raise failed_precondition(
                    f"{version.message.name} is in {State(state).name} state."
                )
            data = version.data
            name = version.message.name
        payload = types.SecretPayload(data=data, data_crc32c=_crc32c(data))
        return types.AccessSecretVersionResponse(name=name, payload=payload)

    def list_versions(
        self, request: types.ListSecretVersionsRequest
    ) -> types.ListSecretVersionsResponse:
        terms = _parse_filter(request.filter, allow_state=True)
        with self._lock:
            secret = self._secret(request.parent)
            # Newest first, as the real API lists them.
            versions = [
                types.SecretVersion(v.message)
                for v in reversed(secret.versions)
                if _version_matches(v.message, terms)
            ]
        chunk, token = page(versions, request.page_size, request.page_token, MAX_PAGE)
        return types.ListSecretVersionsResponse(
            versions=chunk, next_page_token=token, total_size=len(versions)
        )

    def enable_version(self, request: types.EnableSecretVersionRequest) -> types.SecretVersion:
        return self._change_state(request.name, request.etag, State.ENABLED)

    def disable_version(self, request: types.DisableSecretVersionRequest) -> types.SecretVersion:
        return self._change_state(request.name, request.etag, State.DISABLED)

    def destroy_version(self, request: types.DestroySecretVersionRequest) -> types.SecretVersion:
        return self._change_state(request.name, request.etag, State.DESTROYED)

    def _change_state(self, name: str, etag: str, state: int) -> types.SecretVersion:
        with self._lock:
            version = self._version(name)
            message = version.message
            if etag and etag != message.etag:
                raise failed_precondition("The etag does not match the version's current etag.")
            if message.state == State.DESTROYED:
                if state == State.DESTROYED:
                    return types.SecretVersion(message)
                raise failed_precondition(f"{message.name} is in DESTROYED state.")
            message.state = State(state)
            message.etag = _etag()
            if state == State.DESTROYED:
                version.data = None
                message.destroy_time = _now()
            return types.SecretVersion(message)

    # -- lookups (caller holds the lock) -------------------------------------------------------

    def _secret(self, name: str) -> _Secret:
        if not _SECRET.match(name):
            raise invalid_argument(f"Invalid resource field value in the request: name {name!r}")
        secret = self._secrets.get(name)
        if secret is None:
            raise not_found(f"Secret [{name}] not found or has no versions.")
        return secret

    def _version(self, name: str) -> _Version:
        match = _VERSION.match(name)
        if not match:
            raise invalid_argument(f"Invalid resource field value in the request: name {name!r}")
        wanted = match.group("v")
        if wanted != "latest" and (not wanted.isdigit() or int(wanted) < 1):
            raise invalid_argument(f"Invalid version id {wanted!r}: use a number or 'latest'")
        secret = self._secret(name.rsplit("/versions/", 1)[0])
        if wanted == "latest":
            if not secret.versions:
                raise not_found(f"Secret [{secret.message.name}] not found or has no versions.")
            return secret.versions[-1]
        number = int(wanted)
        if number > len(secret.versions):
            raise not_found(f"Secret Version [{name}] not found.")
        return secret.versions[number - 1]


def _etag() -> str:
    return f'"{uuid.uuid4().hex[:14]}"'


def _parse_project(parent: str) -> str:
    match = _PROJECT.match(parent)
    if not match:
        raise invalid_argument(f"Invalid resource field value in the request: parent {parent!r}")
    return match.group("project")


def _check_labels(labels: dict[str, str]) -> None:
    if len(labels) > 64:
        raise invalid_argument("A secret may have at most 64 labels")
    for key, value in labels.items():
        if not _LABEL_KEY.match(key):
            raise invalid_argument(f"Invalid label key {key!r}")
        if not _LABEL_VALUE.match(value):
            raise invalid_argument(f"Invalid label value {value!r} for key {key!r}")


def _parse_filter(text: str, allow_state: bool = False) -> list[tuple[str, str, str]]:
    """The subset of the List filter syntax sendvia uses: `labels.k=v`, `labels.k:*`, `name:x`,
    `state:ENABLED` (versions), joined by spaces or AND."""
    terms = []
    for raw in text.replace(" AND ", " ").split():
        if allow_state and raw.startswith("state:"):
            terms.append(("state", ":", raw.split(":", 1)[1].upper()))
            continue
        match = _FILTER_TERM.match(raw)
        if not match:
            raise invalid_argument(f"Invalid filter term {raw!r}")
        terms.append((match.group("key"), match.group("op"), match.group("value")))
    return terms


def _matches(secret: types.Secret, terms: list[tuple[str, str, str]]) -> bool:
    for key, op, value in terms:
        if key == "name":
            if value not in secret.name.rsplit("/", 1)[-1]:
                return False
            continue
        label = key.removeprefix("labels.")
        if label not in secret.labels:
            return False
        if not (op == ":" and value == "*") and secret.labels[label] != value:
            return False
    return True


def _version_matches(version: types.SecretVersion, terms: list[tuple[str, str, str]]) -> bool:
    return all(State(version.state).name == value for key, _, value in terms if key == "state")


def methods(store: SecretStore) -> dict[str, Method]:
    t = types
    return {
        "CreateSecret": Method(store.create_secret, t.CreateSecretRequest, t.Secret),
        "GetSecret": Method(store.get_secret, t.GetSecretRequest, t.Secret),
        "UpdateSecret": Method(store.update_secret, t.UpdateSecretRequest, t.Secret),
        "DeleteSecret": Method(store.delete_secret, t.DeleteSecretRequest, empty_pb2.Empty),
        "ListSecrets": Method(store.list_secrets, t.ListSecretsRequest, t.ListSecretsResponse),
        "AddSecretVersion": Method(store.add_version, t.AddSecretVersionRequest, t.SecretVersion),
        "GetSecretVersion": Method(store.get_version, t.GetSecretVersionRequest, t.SecretVersion),
        "AccessSecretVersion": Method(
            store.access_version, t.AccessSecretVersionRequest, t.AccessSecretVersionResponse
        ),
        "ListSecretVersions": Method(
            store.list_versions, t.ListSecretVersionsRequest, t.ListSecretVersionsResponse
        ),
        "EnableSecretVersion": Method(
            store.enable_version, t.EnableSecretVersionRequest, t.SecretVersion
        ),
        "DisableSecretVersion": Method(
            store.disable_version, t.DisableSecretVersionRequest, t.SecretVersion
        ),
        "DestroySecretVersion": Method(
            store.destroy_version, t.DestroySecretVersionRequest, t.SecretVersion
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Secret Manager emulator (gRPC)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server, _ = serve(SERVICE, methods(SecretStore()), args.host, args.port)
    logging.info("Secret Manager emulator listening on %s:%d", args.host, args.port)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(grace=1)


if __name__ == "__main__":
    main()
