"""`deliver`: Cloud Tasks' target (internal). The caller proves itself with the OIDC token
Cloud Tasks adds (`Authorization: Bearer`), signed by Google (locally, by the emulator), for the
deliver URL as audience and the configured service account."""

from __future__ import annotations

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
_SEAL_LIMITS = {"version": 64, "doc": MAX_SEALED_CHARS, "mac": 128}


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
    _check_strings(body, _LIMITS, "")
    seal = body.get("as_created")
    if seal is not None:
        if not isinstance(seal, dict) or seal.keys() != _SEAL_LIMITS.keys():
            raise BadRequest(
                "as_created must be an object of version, doc and mac.",
                code="invalid_value",
                field="as_created",
                hint="The task was not created by sendvia: check the caller.",
            )
        _check_strings(seal, _SEAL_LIMITS, "as_created.")
    return body["tenant_id"], body["delivery_id"], seal


def _check_strings(body: dict[str, Any], limits: dict[str, int], prefix: str) -> None:
    for name, longest in limits.items():
        value = body.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= longest:
            raise BadRequest(
                f"{prefix}{name} must be a string of 1 to {longest} characters.",
                code="invalid_value",
                field=f"{prefix}{name}",
                hint="The task was not created by sendvia: check the caller.",
            )


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
