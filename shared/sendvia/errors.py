"""The one error model of sendvia: every failure a caller sees is an AppError.

Rendered in one place (`sendvia.web`) as `{"error": {"code", "message", "hint", "field"}}`.
Anything that is not an AppError becomes a generic 500 with no internals.
"""

from __future__ import annotations


class AppError(Exception):
    """A failure with an HTTP status, a stable machine code and a sentence for a person."""

    status = 500
    code = "internal"

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        code: str = "",
        field: str = "",
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.field = field
        self.details = details or {}  # e.g. the id of the delivery that failed
        if code:
            self.code = code

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.field:
            error["field"] = self.field
        error.update(self.details)
        return {"error": error}


class BadRequest(AppError):
    status = 400
    code = "invalid_request"


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allowed: list[str], hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.allowed = allowed  # the methods the path supports: the Allow header (RFC 9110)


class Conflict(AppError):
    status = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class Refused(AppError):
    """The request is well-formed but a rule refuses it (integration off, suppressed recipient)."""

    status = 422
    code = "refused"


class TooBusy(AppError):
    """Too many requests at once for one thing; try again shortly."""

    status = 429
    code = "too_busy"


class BadGateway(AppError):
    """A server we depend on (a tenant's mail server, a provider) failed."""

    status = 502
    code = "bad_gateway"


class Unavailable(AppError):
    status = 503
    code = "unavailable"


class ConfigError(Exception):
    """The deployment's environment is missing or malformed; raised at cold start."""
