"""A method of a Google client's API called with protobuf messages on the client's own channel.

The generated (GAPIC) clients wrap every call: request and response converted to and from
proto-plus, retry and timeout decorators built anew for the call, a logging interceptor. On the
calls every email makes (a delivery's read and writes, its task) that is a quarter of their CPU
(bench/pipeline.py). These use the same channel — its endpoint, credentials and TLS, Google's
or an emulator's — the same retry policy as the generated client's defaults, and its errors
(google.api_core.exceptions).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

Call = Callable[..., Any]
Requests = Sequence[tuple[Any, Sequence[tuple[str, str]]]]  # each request with its metadata


def unary(
    client: Any,
    method: str,
    request_type: Any,
    response_type: Any,
    *,
    timeout_s: float,
    retry_on: Sequence[type[Exception]] = (),
) -> Call:
    """`client`: a generated client (its `transport.grpc_channel`); `method`: the full method
    name (/package.Service/Method); the types: proto-plus classes whose protobuf messages go and
    come. The call takes (request, metadata) and retries what `retry_on` names as the generated
    client does: exponential backoff from 0.1 s, each try given what is left of `timeout_s`.
    The first try is made bare: the retry machinery costs about a tenth of a call's CPU, and
    nearly every call is answered at once."""
    return unary_on(
        client.transport.grpc_channel,
        method,
        request_type.pb(),
        response_type.pb(),
        timeout_s=timeout_s,
        retry_on=retry_on,
    )


def unary_on(
    channel: Any,
    method: str,
    request_type: Any,
    response_type: Any,
    *,
    timeout_s: float,
    retry_on: Sequence[type[Exception]] = (),
    first_pause_s: float = 0.1,
    pause_growth: float = 1.3,
) -> Call:
    """`unary` on a gRPC channel of our own, with protobuf message classes: for a call whose
    client library is not worth its import (adapters/secret_reader). The pauses between tries
    are the generated client's for that method."""
    import grpc
    from google.api_core import exceptions, retry

    stub = _stub(channel, method, request_type, response_type)
    retried = retry.if_exception_type(*retry_on)

    def once(request: Any, metadata: Sequence[tuple[str, str]], timeout: float) -> Any:
        try:
            return stub(request, metadata=metadata, timeout=timeout)
        except grpc.RpcError as exc:
            raise exceptions.from_grpc_error(exc) from exc  # type: ignore[no-untyped-call]

    def call(request: Any, metadata: Sequence[tuple[str, str]]) -> Any:
        started = time.monotonic()
        try:
            return once(request, metadata, timeout_s)  # most calls: no retry machinery
        except Exception as exc:
            if not retried(exc):
                raise
            failed = exc
        # Again after a pause, as the generated client would, in what is left of the time.
        deadline = started + timeout_s
        pauses = retry.exponential_sleep_generator(first_pause_s, 60.0, pause_growth)
        pause = next(pauses)
        if time.monotonic() + pause >= deadline:
            raise failed  # no time left for another try
        time.sleep(pause)
        return retry.retry_target(
            lambda: once(request, metadata, max(deadline - time.monotonic(), 0.0)),
            retried,
            pauses,
            timeout=max(deadline - time.monotonic(), 0.0),
        )

    return call


def unary_many(
    client: Any, method: str, request_type: Any, response_type: Any, *, timeout_s: float
) -> Callable[[Requests, int], list[Any]]:
    """The same call made for many requests at once from this thread, at most `in_flight`
    waiting on the server at a time (gRPC's own futures: no thread per call). It answers, in
    order, each response or the google.api_core exception of its failure; not retried."""
    import grpc
    from google.api_core import exceptions

    stub = _stub(client.transport.grpc_channel, method, request_type.pb(), response_type.pb())

    def outcome(future: Any) -> Any:
        try:
            return future.result()
        except grpc.RpcError as exc:
            return exceptions.from_grpc_error(exc)  # type: ignore[no-untyped-call]

    def call_all(requests: Requests, in_flight: int) -> list[Any]:
        waiting: list[Any] = []
        answers: list[Any] = []
        for request, metadata in requests:
            if len(waiting) >= in_flight:
                answers.append(outcome(waiting.pop(0)))
            waiting.append(stub.future(request, metadata=metadata, timeout=timeout_s))
        answers.extend(outcome(future) for future in waiting)
        return answers

    return call_all


def _stub(channel: Any, method: str, request_type: Any, response_type: Any) -> Any:
    """The method on the channel, its messages (protobuf classes) (de)serialised as such."""
    return channel.unary_unary(
        method,
        request_serializer=request_type.SerializeToString,
        response_deserializer=response_type.FromString,
    )


def routing(key: str, value: str) -> tuple[str, str]:
    """The request's routing header, as the generated client adds it."""
    from google.api_core.gapic_v1 import routing_header

    header: tuple[str, str] = routing_header.to_grpc_metadata(((key, value),))  # type: ignore[no-untyped-call]
    return header
