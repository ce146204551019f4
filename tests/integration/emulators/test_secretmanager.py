"""Conformance of our Secret Manager emulator, driven through google-cloud-secret-manager."""

from __future__ import annotations

import google_crc32c
import pytest
from google.api_core import exceptions
from google.cloud import secretmanager_v1 as sm
from google.protobuf import field_mask_pb2
from sendvia.adapters.google_clients import secret_manager_client

State = sm.SecretVersion.State


@pytest.fixture(scope="module")
def client() -> sm.SecretManagerServiceClient:
    return secret_manager_client()


@pytest.fixture
def parent(project: str) -> str:
    return f"projects/{project}"


@pytest.fixture
def secret(client, parent, unique_id) -> str:
    created = client.create_secret(
        parent=parent,
        secret_id=f"sendvia-{unique_id}-tenant",
        secret={
            "replication": {"automatic": {}},
            "labels": {"tenant": unique_id, "mailbox": "tenant"},
        },
    )
    return created.name


def add(client, secret: str, data: bytes) -> sm.SecretVersion:
    crc = google_crc32c.value(data)
    return client.add_secret_version(parent=secret, payload={"data": data, "data_crc32c": crc})


def test_create_get_list_delete_secret_with_labels(client, parent, unique_id):
    name = client.create_secret(
        parent=parent,
        secret_id=f"s-{unique_id}",
        secret={"replication": {"automatic": {}}, "labels": {"tenant": unique_id}},
    ).name
    assert name == f"{parent}/secrets/s-{unique_id}"
    got = client.get_secret(name=name)
    assert dict(got.labels) == {"tenant": unique_id}
    assert got.create_time
    listed = client.list_secrets(request={"parent": parent, "filter": f"labels.tenant={unique_id}"})
    assert [s.name for s in listed] == [name]
    client.delete_secret(name=name)
    with pytest.raises(exceptions.NotFound):
        client.get_secret(name=name)


def test_list_secrets_pages(client, parent, unique_id):
    for index in range(5):
        client.create_secret(
            parent=parent,
            secret_id=f"p-{unique_id}-{index}",
            secret={"replication": {"automatic": {}}, "labels": {"batch": unique_id}},
        )
    pager = client.list_secrets(
        request={"parent": parent, "page_size": 2, "filter": f"labels.batch={unique_id}"}
    )
    pages = [len(page.secrets) for page in pager.pages]
    assert pages == [2, 2, 1]


def test_duplicate_secret_is_already_exists(client, parent, secret):
    with pytest.raises(exceptions.AlreadyExists):
        client.create_secret(
            parent=parent,
            secret_id=secret.rsplit("/", 1)[1],
            secret={"replication": {"automatic": {}}},
        )


def test_latest_is_the_newest_version_and_carries_a_checksum(client, secret):
    add(client, secret, b"refresh-token-1")
    second = add(client, secret, b"refresh-token-2")
    assert second.name == f"{secret}/versions/2"
    assert second.state == State.ENABLED
    assert second.client_specified_payload_checksum
    response = client.access_secret_version(name=f"{secret}/versions/latest")
    assert response.name == second.name
    assert response.payload.data == b"refresh-token-2"
    assert response.payload.data_crc32c == google_crc32c.value(b"refresh-token-2")
    first = client.access_secret_version(name=f"{secret}/versions/1")
    assert first.payload.data == b"refresh-token-1"


def test_wrong_checksum_is_refused(client, secret):
    with pytest.raises(exceptions.InvalidArgument):
        client.add_secret_version(parent=secret, payload={"data": b"x", "data_crc32c": 1})


def test_disable_enable_destroy(client, secret):
    version = add(client, secret, b"app-password").name
    assert client.disable_secret_version(name=version).state == State.DISABLED
    with pytest.raises(exceptions.FailedPrecondition):
        client.access_secret_version(name=version)
    assert client.enable_secret_version(name=version).state == State.ENABLED
    assert client.access_secret_version(name=version).payload.data == b"app-password"

    destroyed = client.destroy_secret_version(name=version)
    assert destroyed.state == State.DESTROYED
    assert destroyed.destroy_time
    with pytest.raises(exceptions.FailedPrecondition):
        client.access_secret_version(name=version)
    with pytest.raises(exceptions.FailedPrecondition):
        client.enable_secret_version(name=version)


def test_latest_disabled_is_not_skipped(client, secret):
    # `latest` aliases the most recently created version, whatever its state.
    add(client, secret, b"old")
    newest = add(client, secret, b"new").name
    client.disable_secret_version(name=newest)
    with pytest.raises(exceptions.FailedPrecondition):
        client.access_secret_version(name=f"{secret}/versions/latest")


def test_list_versions_newest_first_with_state_filter(client, secret):
    for data in (b"a", b"b", b"c"):
        add(client, secret, data)
    client.destroy_secret_version(name=f"{secret}/versions/1")
    versions = [v.name.rsplit("/", 1)[1] for v in client.list_secret_versions(parent=secret)]
    assert versions == ["3", "2", "1"]
    enabled = client.list_secret_versions(request={"parent": secret, "filter": "state:ENABLED"})
    assert [v.name.rsplit("/", 1)[1] for v in enabled] == ["3", "2"]


def test_update_labels_with_a_mask(client, secret):
    mask = field_mask_pb2.FieldMask(paths=["labels"])
    updated = client.update_secret(
        secret={"name": secret, "labels": {"tenant": "t2"}}, update_mask=mask
    )
    assert dict(updated.labels) == {"tenant": "t2"}
    with pytest.raises(exceptions.InvalidArgument):
        client.update_secret(
            secret={"name": secret, "replication": {"automatic": {}}},
            update_mask=field_mask_pb2.FieldMask(paths=["replication"]),
        )


def test_deleting_a_secret_removes_its_versions(client, secret):
    add(client, secret, b"x")
    client.delete_secret(name=secret)
    with pytest.raises(exceptions.NotFound):
        client.access_secret_version(name=f"{secret}/versions/1")


def test_missing_things_are_not_found(client, parent, secret):
    with pytest.raises(exceptions.NotFound):
        client.get_secret(name=f"{parent}/secrets/never-created")
    with pytest.raises(exceptions.NotFound):
        client.access_secret_version(name=f"{secret}/versions/latest")  # no versions yet
    add(client, secret, b"x")
    with pytest.raises(exceptions.NotFound):
        client.get_secret_version(name=f"{secret}/versions/7")


@pytest.mark.parametrize(
    "call",
    [
        lambda c, p: c.get_secret(name="projects/x/secret/y"),
        lambda c, p: c.access_secret_version(name=f"{p}/secrets/a/versions/first"),
        lambda c, p: c.create_secret(
            parent=p, secret_id="has space", secret={"replication": {"automatic": {}}}
        ),
        lambda c, p: c.create_secret(parent=p, secret_id="no-replication", secret={}),
        lambda c, p: c.create_secret(
            parent=p,
            secret_id="bad-label",
            secret={"replication": {"automatic": {}}, "labels": {"Tenant": "x"}},
        ),
        lambda c, p: c.create_secret(
            parent="organizations/1", secret_id="x", secret={"replication": {"automatic": {}}}
        ),
        lambda c, p: c.list_secrets(request={"parent": p, "filter": "labels.tenant~x"}),
    ],
    ids=[
        "bad-name",
        "bad-version",
        "bad-id",
        "no-replication",
        "bad-label",
        "bad-parent",
        "bad-filter",
    ],
)
def test_malformed_requests_are_invalid_argument(client, parent, call):
    with pytest.raises(exceptions.InvalidArgument):
        call(client, parent)


def test_payload_over_64_kib_is_invalid(client, secret):
    with pytest.raises(exceptions.InvalidArgument):
        add(client, secret, b"x" * (64 * 1024 + 1))
    assert add(client, secret, b"x" * (64 * 1024)).state == State.ENABLED
