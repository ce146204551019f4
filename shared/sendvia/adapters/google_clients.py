"""Official Google clients, pointed at the local emulators only by environment variables.

Production and local code paths are the same; only the endpoint differs:
- Firestore and Firebase Auth: the libraries read FIRESTORE_EMULATOR_HOST and
  FIREBASE_AUTH_EMULATOR_HOST themselves.
- Secret Manager and Cloud Tasks: the libraries ignore emulator variables (FACTS.md), so when
  SECRET_MANAGER_EMULATOR_HOST / CLOUD_TASKS_EMULATOR_HOST is set the client gets a plain gRPC
  channel to it instead of Google's authenticated endpoint.
SDK modules are imported inside the builders: a function that never touches Cloud Tasks never
pays for importing its client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud import firestore, secretmanager_v1, tasks_v2

SECRET_MANAGER_EMULATOR_HOST = "SECRET_MANAGER_EMULATOR_HOST"  # noqa: S105 - a variable name
CLOUD_TASKS_EMULATOR_HOST = "CLOUD_TASKS_EMULATOR_HOST"


def secret_manager_client(
    environ: Mapping[str, str] = os.environ,
) -> secretmanager_v1.SecretManagerServiceClient:
    from google.cloud import secretmanager_v1

    host = environ.get(SECRET_MANAGER_EMULATOR_HOST)
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


def cloud_tasks_client(environ: Mapping[str, str] = os.environ) -> tasks_v2.CloudTasksClient:
    from google.cloud import tasks_v2

    host = environ.get(CLOUD_TASKS_EMULATOR_HOST)
    if not host:
        return tasks_v2.CloudTasksClient()
    import grpc
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(host)
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


def firestore_client(project: str) -> firestore.Client:
    from google.cloud import firestore

    return firestore.Client(project=project)
