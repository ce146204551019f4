"""`deliver`: Cloud Tasks' target (internal). The caller proves itself with the OIDC token
Cloud Tasks adds (`Authorization: Bearer`), signed by Google (locally, by the emulator), for the
deliver URL as audience and the configured service account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from sendvia.domain.validation import parse_model
from sendvia.errors import Forbidden, Unauthenticated, Unavailable
from sendvia.services import deliver as service
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
    scheme, _, token = call.request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(
            "Only Cloud Tasks may call deliver.",
            code="missing_token",
            hint="Create the task with an OIDC token.",
        )
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    try:
        claims: Mapping[str, Any] = id_token.verify_token(
            token, google_requests.Request(), audience=tasks.deliver_url, certs_url=tasks.certs_url
        )
    except Exception as exc:  # any failure to verify is a refusal
        raise Unauthenticated(
            "The task's token is not valid.",
            code="invalid_token",
            hint="Check the queue's OIDC settings.",
        ) from exc
    if claims.get("email") != tasks.service_account or not claims.get("email_verified"):
        raise Forbidden(
            "The task's token is not from the configured service account.",
            code="wrong_caller",
            hint="Check SENDVIA_TASKS_SERVICE_ACCOUNT.",
        )


@router.route("POST", "/")
def deliver(call: Call) -> Reply:
    _verify_task_token(call)
    request = parse_model(DeliverRequest, call.json())
    status, body = service.deliver(call.runtime, request.tenant_id, request.delivery_id)
    return Reply(status, body)
