"""The calls made with protobuf messages on a client's channel keep the generated client's
error types and retries: a busy server is asked again, a refusal is raised at once."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.api_core import exceptions
from google.cloud.firestore_v1.types import document
from google.cloud.firestore_v1.types import firestore as requests
from sendvia.adapters import grpc_calls


class Refusal(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._code.name

    def trailing_metadata(self) -> Any:
        return ()


class Channel:
    """A channel whose one method answers from a script: a status code to fail with, or a
    response."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.calls: list[tuple[Any, Any]] = []
        self.timeouts: list[float] = []

    def unary_unary(self, method: str, **kwargs: Any) -> Any:
        def stub(request: Any, metadata: Any, timeout: float) -> Any:
            self.calls.append((request, metadata))
            self.timeouts.append(timeout)
            answer = self.script.pop(0)
            if isinstance(answer, grpc.StatusCode):
                raise Refusal(answer)
            return answer

        return stub


class Client:
    def __init__(self, channel: Channel) -> None:
        self.transport = type("Transport", (), {"grpc_channel": channel})()


def get_document(channel: Channel, retry_on: tuple[type[Exception], ...]) -> Any:
    return grpc_calls.unary(
        Client(channel),
        "/google.firestore.v1.Firestore/GetDocument",
        requests.GetDocumentRequest,
        document.Document,
        timeout_s=5.0,
        retry_on=retry_on,
    )


FOUND = document.Document.pb()(name="projects/p/databases/(default)/documents/a/b")
REQUEST = requests.GetDocumentRequest.pb()(name=FOUND.name)


def test_a_busy_server_is_asked_again_with_the_same_request():
    channel = Channel(grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, FOUND)
    call = get_document(channel, (exceptions.ServiceUnavailable, exceptions.ResourceExhausted))
    assert call(REQUEST, [grpc_calls.routing("name", FOUND.name)]) == FOUND
    assert [request for request, _ in channel.calls] == [REQUEST] * 3
    routed = "name=projects/p/databases/%28default%29/documents/a/b"  # as the client encodes it
    assert channel.calls[0][1] == [("x-goog-request-params", routed)]
    # Each try gets what is left of the call's time, as the generated client gives it.
    assert channel.timeouts[0] <= 5.0
    assert channel.timeouts[2] < channel.timeouts[1] < channel.timeouts[0]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (grpc.StatusCode.NOT_FOUND, exceptions.NotFound),
        (grpc.StatusCode.FAILED_PRECONDITION, exceptions.FailedPrecondition),
        (grpc.StatusCode.ALREADY_EXISTS, exceptions.AlreadyExists),
    ],
)
def test_a_refusal_is_raised_at_once_as_the_generated_client_raises_it(code, error):
    channel = Channel(code, FOUND)
    with pytest.raises(error):
        get_document(channel, (exceptions.ServiceUnavailable,))(REQUEST, [])
    assert len(channel.calls) == 1


def test_without_retries_a_busy_server_is_the_callers_to_handle():
    channel = Channel(grpc.StatusCode.UNAVAILABLE, FOUND)
    with pytest.raises(exceptions.ServiceUnavailable):
        get_document(channel, ())(REQUEST, [])
    assert len(channel.calls) == 1


class Answered:
    """A gRPC future that has its answer."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def result(self) -> Any:
        if isinstance(self.answer, grpc.StatusCode):
            raise Refusal(self.answer)
        return self.answer


class ManyChannel(Channel):
    def unary_unary(self, method: str, **kwargs: Any) -> Any:
        channel = self

        class Stub:
            def future(self, request: Any, metadata: Any, timeout: float) -> Answered:
                channel.calls.append((request, metadata))
                return Answered(channel.script.pop(0))

        return Stub()


def test_many_calls_answer_in_order_each_with_its_response_or_its_error():
    channel = ManyChannel(FOUND, grpc.StatusCode.ALREADY_EXISTS, FOUND, grpc.StatusCode.UNAVAILABLE)
    call_all = grpc_calls.unary_many(
        Client(channel),
        "/google.cloud.tasks.v2.CloudTasks/CreateTask",
        requests.GetDocumentRequest,
        document.Document,
        timeout_s=5.0,
    )
    answers = call_all([(REQUEST, [])] * 4, 2)
    assert answers[0] == answers[2] == FOUND
    assert isinstance(answers[1], exceptions.AlreadyExists)
    assert isinstance(answers[3], exceptions.ServiceUnavailable)
    assert len(channel.calls) == 4


def test_a_busy_server_is_not_asked_again_when_no_time_is_left_for_a_pause(monkeypatch):
    from google.api_core import retry

    # The generated client's pauses are jittered; this one is the longest the first can be.
    monkeypatch.setattr(retry, "exponential_sleep_generator", lambda *args: iter([0.1] * 9))
    channel = Channel(grpc.StatusCode.UNAVAILABLE, FOUND)
    call = grpc_calls.unary(
        Client(channel),
        "/google.firestore.v1.Firestore/GetDocument",
        requests.GetDocumentRequest,
        document.Document,
        timeout_s=0.05,  # less than the first pause (0.1 s)
        retry_on=(exceptions.ServiceUnavailable,),
    )
    with pytest.raises(exceptions.ServiceUnavailable):
        call(REQUEST, [])
    assert len(channel.calls) == 1
