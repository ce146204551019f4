"""The two messages adapters/secret_reader declares for AccessSecretVersion are the library's,
field for field: what one writes the other reads."""

from __future__ import annotations

from google.cloud import secretmanager_v1
from sendvia.adapters.secret_reader import METHOD, messages

NAME = "projects/p/secrets/sendvia-relay-password/versions/3"


def test_the_request_is_read_by_the_library_as_written():
    request_type, _ = messages()
    ours = request_type(name="projects/p/secrets/s/versions/latest").SerializeToString()
    theirs = secretmanager_v1.AccessSecretVersionRequest.pb().FromString(ours)
    assert theirs.name == "projects/p/secrets/s/versions/latest"


def test_the_libraries_response_is_read_with_its_name_and_data():
    _, response_type = messages()
    data = bytes(range(256)) * 40  # any bytes, and more than one read's worth
    theirs = secretmanager_v1.AccessSecretVersionResponse(
        name=NAME, payload=secretmanager_v1.SecretPayload(data=data, data_crc32c=123456789)
    )
    ours = response_type.FromString(type(theirs).serialize(theirs))
    assert (ours.name, ours.payload.data) == (NAME, data)


def test_the_fields_are_the_apis_own():
    request_type, response_type = messages()
    library = secretmanager_v1.AccessSecretVersionResponse.pb().DESCRIPTOR
    for ours, theirs in (
        (request_type.DESCRIPTOR, secretmanager_v1.AccessSecretVersionRequest.pb().DESCRIPTOR),
        (response_type.DESCRIPTOR, library),
        (
            response_type.DESCRIPTOR.fields_by_name["payload"].message_type,
            library.fields_by_name["payload"].message_type,
        ),
    ):
        assert ours.full_name == theirs.full_name
        for field in ours.fields:
            assert (field.number, field.type) == (
                theirs.fields_by_name[field.name].number,
                theirs.fields_by_name[field.name].type,
            )
    # …and the method's path is the one the library's gRPC transport calls.
    import inspect

    from google.cloud.secretmanager_v1.services.secret_manager_service.transports import grpc

    assert f'"{METHOD}"' in inspect.getsource(grpc.SecretManagerServiceGrpcTransport)
