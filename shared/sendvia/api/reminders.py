"""`reminders`: Cloud Scheduler's target (internal): enqueue the reminder batch.

When SENDVIA_SCHEDULER_SERVICE_ACCOUNT is set (production), the caller must present Cloud
Scheduler's OIDC token for this function's URL; the local stack leaves it unset, so a developer
can run a batch with curl."""

from __future__ import annotations

from sendvia.api.internal import verify_oidc
from sendvia.services import reminders as service
from sendvia.web import Call, Reply, Router

router = Router("reminders", public=False, authenticate=False)


@router.route("POST", "/")
def run(call: Call) -> Reply:
    settings = call.runtime.settings
    account = settings.scheduler_service_account
    if account and settings.tasks is not None:
        verify_oidc(
            call,
            audience=call.request.base_url,
            service_account=account,
            certs_url=settings.tasks.certs_url,
        )
    return Reply(200, service.run(call.runtime))
