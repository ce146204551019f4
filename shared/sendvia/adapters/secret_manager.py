"""The Secrets port on Secret Manager: one secret per mailbox, a new version per credential.

Values stay in memory only. A version is immutable, so a value read once is cached by its full
version name for the life of the instance: the refresh token of a mailbox is read at most once per
instance until the mailbox points at a new version. An alias (`latest`, which the deployment's own
secrets use) is resolved again after ALIAS_TTL_S, or at once after `forget` (a credential that was
refused), so a rotated relay password is picked up without a redeploy.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sendvia.metering import METER, SECRET_ACCESSES
from sendvia.ports import SecretUnavailable

ALIAS_TTL_S = 300.0


def _label(value: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_-]", "-", value.lower())[:63]
    return cleaned


class SecretManagerSecrets:
    """`client_factory`: the library's client, for writing, listing and destroying versions;
    `reader`: how a version is read (adapters/secret_reader: the one call every cold start
    that sends makes, without the library), by default through the client."""

    def __init__(
        self,
        project: str,
        client_factory: Callable[[], Any],
        reader: Callable[[str], tuple[str, bytes]] | None = None,
    ) -> None:
        self._project = project
        self._client_factory = client_factory
        self._read = reader or self._read_with_client
        self._client: Any = None
        self._lock = threading.Lock()
        self._values: dict[str, bytes] = {}
        self._aliases: dict[str, tuple[float, str]] = {}  # alias → (resolved at, version name)

    def _sm(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def add_version(self, secret_id: str, data: bytes, labels: Mapping[str, str]) -> str:
        """Store `data` as the newest version of `secret_id` (created if missing). The secret is
        created only when it is missing, so a function that only rotates a mailbox's existing
        credentials needs no right to create secrets (infra/: secretmanager.secrets.create is
        granted to the two functions that connect mailboxes)."""
        from google.api_core import exceptions

        client = self._sm()
        parent = f"projects/{self._project}"
        name = f"{parent}/secrets/{secret_id}"
        import google_crc32c

        payload = {"data": data, "data_crc32c": int(google_crc32c.value(data))}
        try:
            version = client.add_secret_version(parent=name, payload=payload)
        except exceptions.NotFound:
            with contextlib.suppress(exceptions.AlreadyExists):  # another request made it
                client.create_secret(
                    parent=parent,
                    secret_id=secret_id,
                    secret={
                        "replication": {"automatic": {}},
                        "labels": {k: _label(v) for k, v in labels.items()},
                    },
                )
            version = client.add_secret_version(parent=name, payload=payload)
        version_name: str = version.name
        with self._lock:
            self._values[version_name] = data
        return version_name

    def access(self, version_name: str) -> bytes:
        with self._lock:
            alias = self._aliases.get(version_name)
            if alias is not None and time.monotonic() - alias[0] < ALIAS_TTL_S:
                cached = self._values.get(alias[1])
            else:
                cached = self._values.get(version_name)
        if cached is not None:
            return cached
        from google.api_core import exceptions

        METER.add(SECRET_ACCESSES)
        try:
            resolved, data = self._read(version_name)
        except (exceptions.NotFound, exceptions.FailedPrecondition) as exc:
            # Gone, disabled or destroyed: the exception names the version, not its value.
            raise SecretUnavailable(
                f"{version_name} cannot be read ({exc.grpc_status_code})"
            ) from exc
        resolved = resolved or version_name
        with self._lock:
            self._values[resolved] = data
            if resolved != version_name:
                self._aliases[version_name] = (time.monotonic(), resolved)
        return data

    def _read_with_client(self, version_name: str) -> tuple[str, bytes]:
        response = self._sm().access_secret_version(name=version_name)
        return str(response.name), bytes(response.payload.data)

    def forget(self, version_name: str) -> None:
        """Read `version_name` again next time (its value was refused)."""
        with self._lock:
            alias = self._aliases.pop(version_name, None)
            self._values.pop(alias[1] if alias else version_name, None)

    def destroy_older(self, secret_id: str, keep_version: str) -> None:
        """Destroy every version but `keep_version` (an old refresh token must not linger)."""
        client = self._sm()
        name = f"projects/{self._project}/secrets/{secret_id}"
        for version in client.list_secret_versions(
            request={"parent": name, "filter": "state:ENABLED"}
        ):
            if version.name != keep_version:
                from google.api_core import exceptions

                # Another request (a concurrent rotation) may have destroyed it just now.
                with contextlib.suppress(exceptions.FailedPrecondition, exceptions.NotFound):
                    client.destroy_secret_version(name=version.name)
                self._forget(version.name)

    def delete(self, secret_id: str) -> None:
        """Destroy every version and delete the secret; a missing secret is fine."""
        from google.api_core import exceptions

        client = self._sm()
        name = f"projects/{self._project}/secrets/{secret_id}"
        try:
            for version in client.list_secret_versions(parent=name):
                if version.state != version.State.DESTROYED:
                    client.destroy_secret_version(name=version.name)
                self._forget(version.name)
            client.delete_secret(name=name)
        except exceptions.NotFound:
            return

    def _forget(self, version_name: str) -> None:
        with self._lock:
            self._values.pop(version_name, None)
