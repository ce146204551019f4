"""Serve a Google API over gRPC with the message types the official client library ships.

The official Python clients (google-cloud-secret-manager, google-cloud-tasks) carry proto-plus
message classes for every request and response; a generic gRPC handler that (de)serialises with
those classes speaks the real wire protocol, so the unmodified client talks to our emulator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc

log = logging.getLogger(__name__)


class RpcError(Exception):
    """An error answered to the client with a canonical gRPC status code, as the real API does."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid_argument(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.NOT_FOUND, message)


def already_exists(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.ALREADY_EXISTS, message)


def unavailable(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.UNAVAILABLE, message)


def failed_precondition(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.FAILED_PRECONDITION, message)


@dataclass(frozen=True)
class Method:
    """One RPC: the handler and the classes that (de)serialise its request and response."""

    handler: Callable[[Any], Any]
    request: Any
    response: Any


def _serializer(cls: Any) -> Callable[[Any], bytes]:
    # proto-plus classes have a `serialize` classmethod; raw protobuf classes serialise themselves.
    if hasattr(cls, "serialize"):
        return cls.serialize
    return lambda message: message.SerializeToString()


def _deserializer(cls: Any) -> Callable[[bytes], Any]:
    if hasattr(cls, "deserialize"):
        return cls.deserialize
    return cls.FromString


def _unary(method_name: str, method: Method, latency: Callable[[], float]) -> grpc.RpcMethodHandler:
    def behaviour(request: Any, context: grpc.ServicerContext) -> Any:
        delay = latency()
        if delay > 0:
            time.sleep(delay)  # the network and the service's own time, when modelled
        try:
            return method.handler(request)
        except RpcError as exc:
            context.abort(exc.code, exc.message)
        except Exception:
            log.exception("%s failed", method_name)
            context.abort(grpc.StatusCode.INTERNAL, f"{method_name} failed in the emulator")

    return grpc.unary_unary_rpc_method_handler(
        behaviour,
        request_deserializer=_deserializer(method.request),
        response_serializer=_serializer(method.response),
    )


def serve(  # noqa: PLR0917 - a server's settings
    service_name: str,
    methods: dict[str, Method],
    host: str,
    port: int,
    workers: int = 16,
    latency: Callable[[], float] = lambda: 0.0,
) -> tuple[grpc.Server, int]:
    """Start a gRPC server for `service_name` (port 0: any free port); returns it and its port.

    Methods not listed answer UNIMPLEMENTED, as the real service does for unknown methods.
    `latency` (seconds, asked per call) models the round trip to a service across a network:
    everything here is on one machine, where a call otherwise costs only CPU.
    """
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    handlers = {name: _unary(name, method, latency) for name, method in methods.items()}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service_name, handlers),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    server.start()
    return server, bound


def page(items: list[Any], page_size: int, page_token: str, limit: int) -> tuple[list[Any], str]:
    """Cut a list into pages the way Google APIs do: an opaque token names the next offset."""
    if page_size < 0:
        raise invalid_argument("page_size must not be negative")
    size = min(page_size or limit, limit)
    try:
        start = int(page_token) if page_token else 0
    except ValueError as exc:
        raise invalid_argument("Invalid page_token") from exc
    if start < 0 or start > len(items):
        raise invalid_argument("Invalid page_token")
    end = start + size
    return items[start:end], (str(end) if end < len(items) else "")
