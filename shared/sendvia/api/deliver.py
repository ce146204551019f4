"""`deliver`: Cloud Tasks' target (internal). The caller proves itself with the OIDC token
Cloud Tasks adds (`Authorization: Bearer`), signed by Google (locally, by the emulator), for the
deliver URL as audience and the configured service account."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from sendvia.api.internal import verify_oidc
from sendvia.errors import Unavailable
from sendvia.services import deliver as service
from sendvia.validation import parse_model
from sendvia.web import Call, Reply, Router

router = Router("deliver", public=False, authenticate=False)


class DeliverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: StrictStr = Field(min_length=1, max_length=200)
    delivery_id: StrictStr = Field(min_length=1, max_length=100)


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
    request = parse_model(DeliverRequest, call.json())
    status, body = service.deliver(call.runtime, request.tenant_id, request.delivery_id)
    return Reply(status, body)
