"""Official Google clients, pointed at the local emulators only by the emulator hosts.

Production and local code paths are the same; only the endpoint differs. The composition root
passes the hosts it validated (sendvia.config); tests and tools may leave them to the
environment variables of the same names:
- Firestore and Firebase Auth: the libraries read FIRESTORE_EMULATOR_HOST and
  FIREBASE_AUTH_EMULATOR_HOST themselves, so the validated value is what they are given there.
- Secret Manager and Cloud Tasks: the libraries ignore emulator variables, so when a host is set
  the client gets a plain gRPC channel to it instead of Google's authenticated endpoint.
SDK modules are imported inside the builders: a function that never touches Cloud Tasks never
pays for importing its client.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud import firestore, secretmanager_v1, tasks_v2

SECRET_MANAGER_EMULATOR_HOST = "SECRET_MANAGER_EMULATOR_HOST"  # noqa: S105 - a variable name
CLOUD_TASKS_EMULATOR_HOST = "CLOUD_TASKS_EMULATOR_HOST"
FIRESTORE_EMULATOR_HOST = "FIRESTORE_EMULATOR_HOST"


def secret_manager_client(
    host: str | None = None,
) -> secretmanager_v1.SecretManagerServiceClient:
    """`host`: the emulator's HOST:PORT (default: SECRET_MANAGER_EMULATOR_HOST, if set)."""
    from google.cloud import secretmanager_v1

    host = host or os.environ.get(SECRET_MANAGER_EMULATOR_HOST)
    if not host:
        return secretmanager_v1.SecretManagerServiceClient()
    import grpc
    from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
        SecretManagerServiceGrpcTransport,
    )

    channel = grpc.insecure_channel(host)
    return secretmanager_v1.SecretManagerServiceClient(
        transport=SecretManagerServiceGrpcTransport(channel=channel)
    )


def cloud_tasks_client(host: str | None = None) -> tasks_v2.CloudTasksClient:
    """`host`: the emulator's HOST:PORT (default: CLOUD_TASKS_EMULATOR_HOST, if set)."""
    from google.cloud import tasks_v2

    host = host or os.environ.get(CLOUD_TASKS_EMULATOR_HOST)
    if not host:
        return tasks_v2.CloudTasksClient()
    import grpc
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(host)
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


def firestore_client(project: str, emulator_host: str | None = None) -> firestore.Client:
    from google.cloud import firestore

    if emulator_host:
        os.environ[FIRESTORE_EMULATOR_HOST] = emulator_host  # how the library is told
    return firestore.Client(project=project)
