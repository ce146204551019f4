"""`deliver`: Cloud Tasks' target (internal). The caller proves itself with the OIDC token
Cloud Tasks adds (`Authorization: Bearer`), signed by Google (locally, by the emulator), for the
deliver URL as audience and the configured service account."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sendvia.api.internal import verify_oidc
from sendvia.domain.ticket import MAX_SEALED_CHARS
from sendvia.errors import BadRequest, Unavailable
from sendvia.services import deliver as service
from sendvia.web import Call, Reply, Router

router = Router("deliver", public=False, authenticate=False)


# The task's body, as `send` and `reminders` write it: two ids, and for a delivery `send` has just
# created, the delivery as created, sealed (services/tickets.py). Checked by hand, so that
# `deliver` loads no pydantic at its cold start (bench/cold_start.py).
_LIMITS = {"tenant_id": 200, "delivery_id": 100}
# A ticket as `seal` writes it: an RFC 3339 time, JSON in ASCII (at most twice what is sealed
# today, so that tasks queued before a change of that limit still read), a hex SHA-256 MAC.
_VERSION = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")
_MAC = re.compile(r"[0-9a-f]{64}")
_SEAL_FORMS: dict[str, tuple[Callable[[str], object], int, str]] = {
    "version": (_VERSION.fullmatch, 40, "an RFC 3339 time in UTC"),
    "doc": (lambda doc: doc.isascii() and doc.isprintable(), 2 * MAX_SEALED_CHARS, "JSON in ASCII"),
    "mac": (_MAC.fullmatch, 64, "64 hexadecimal digits"),
}


def _task(body: Any) -> tuple[str, str, dict[str, str] | None]:
    if not isinstance(body, dict):
        raise BadRequest(
            "The task body must be a JSON object.",
            code="invalid_body",
            hint='Send {"tenant_id": "…", "delivery_id": "…"}.',
        )
    unknown = sorted(str(name) for name in body.keys() - _LIMITS.keys() - {"as_created"})
    if unknown:
        raise BadRequest(
            f"Unknown field {unknown[0]!r}.",
            code="unknown_field",
            field=unknown[0],
            hint="A task names a tenant_id and a delivery_id, and may carry as_created.",
        )
    _check_ids(body)
    seal = body.get("as_created")
    if seal is not None:
        _check_seal(seal)
    return body["tenant_id"], body["delivery_id"], seal


def _check_seal(seal: Any) -> None:
    if not isinstance(seal, dict) or seal.keys() != _SEAL_FORMS.keys():
        raise BadRequest(
            "as_created must be an object of version, doc and mac.",
            code="invalid_value",
            field="as_created",
            hint="The task was not created by sendvia: check the caller.",
        )
    for name, (fits, longest, what) in _SEAL_FORMS.items():
        value = seal[name]
        if not (isinstance(value, str) and 0 < len(value) <= longest and fits(value)):
            raise BadRequest(
                f"as_created.{name} must be {what} (at most {longest} characters).",
                code="invalid_value",
                field=f"as_created.{name}",
                hint="The task was not created by sendvia: check the caller.",
            )


def _check_ids(body: dict[str, Any]) -> None:
    for name, longest in _LIMITS.items():
        value = body.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= longest or not _encodable(value):
            raise BadRequest(
                f"{name} must be a string of 1 to {longest} characters.",
                code="invalid_value",
                field=name,
                hint="The task was not created by sendvia: check the caller.",
            )


def _encodable(text: str) -> bool:
    """Not holding a lone surrogate, which JSON lets through and no document path takes."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _verify_task_token(call: Call) -> None:
    tasks = call.runtime.settings.tasks
    if tasks is None:
        raise Unavailable(
            "Triggered emails are not configured.",
            code="no_queue",
            hint="Set SENDVIA_DELIVER_URL and SENDVIA_TASKS_SERVICE_ACCOUNT.",
        )
    verify_oidc(
        call,
        audience=tasks.deliver_url,
        service_account=tasks.service_account,
        certs_url=tasks.certs_url,
    )


@router.route("POST", "/")
def deliver(call: Call) -> Reply:
    _verify_task_token(call)
    tenant_id, delivery_id, as_created = _task(call.json())
    status, body = service.deliver(call.runtime, tenant_id, delivery_id, as_created)
    return Reply(status, body)
