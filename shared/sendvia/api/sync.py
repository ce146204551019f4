"""`sync` (internal): Cloud Scheduler's call fans out one task per receiving mailbox (`POST /`);
each task syncs one mailbox (`POST /mailbox`, from Cloud Tasks). Both callers prove themselves
with Google-signed OIDC tokens for SENDVIA_SYNC_URL: Cloud Scheduler's service account for the
fan-out (unless a local stack turned that check off, as for `reminders`), the tasks' for a
mailbox."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from sendvia.api.internal import verify_oidc
from sendvia.config import SyncSettings
from sendvia.errors import Unauthenticated, Unavailable
from sendvia.services import sync as service
from sendvia.validation import parse_model
from sendvia.web import Call, Reply, Router

router = Router("sync", public=False, authenticate=False)


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: StrictStr = Field(min_length=1, max_length=200)
    mailbox_id: StrictStr = Field(min_length=1, max_length=200)


def _configured(call: Call) -> SyncSettings:
    settings = call.runtime.settings
    if settings.sync is None or settings.tasks is None:
        raise Unavailable(
            "Mailbox sync is not configured.",
            code="no_sync",
            hint="Set SENDVIA_SYNC_URL (and SENDVIA_DELIVER_URL for its queue).",
        )
    return settings.sync


@router.route("POST", "/")
def fan_out(call: Call) -> Reply:
    sync = _configured(call)
    settings = call.runtime.settings
    if not settings.scheduler_auth_off:
        account, tasks = settings.scheduler_service_account, settings.tasks
        if account is None or tasks is None:  # config.load() refuses this with a queue
            raise Unauthenticated(
                "Only Cloud Scheduler may call this function, and it is not configured.",
                code="no_scheduler",
                hint="Set SENDVIA_SCHEDULER_SERVICE_ACCOUNT.",
            )
        verify_oidc(call, audience=sync.url, service_account=account, certs_url=tasks.certs_url)
    return Reply(200, service.fan_out(call.runtime))


@router.route("POST", "/mailbox")
def one_mailbox(call: Call) -> Reply:
    sync = _configured(call)
    tasks = call.runtime.settings.tasks
    assert tasks is not None  # noqa: S101 - _configured checked it
    verify_oidc(
        call, audience=sync.url, service_account=tasks.service_account, certs_url=tasks.certs_url
    )
    request = parse_model(SyncRequest, call.json())
    run = service.sync_mailbox(call.runtime, request.tenant_id, request.mailbox_id)
    # Another sync holds the mailbox: 409, so that Cloud Tasks tries again later — after the
    # holder finished, or its lease passed because it died — rather than dropping this one.
    return Reply(409 if run["state"] == "busy" else 200, run)
