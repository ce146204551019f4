"""`reminders`: Cloud Scheduler's target (internal): enqueue the reminder batch.

The caller must present Cloud Scheduler's OIDC token, from SENDVIA_SCHEDULER_SERVICE_ACCOUNT,
for SENDVIA_REMINDERS_URL: the audience comes from configuration, because behind Cloud Run's
front end the request's own URL is not the https URL the Scheduler signs for. Only a local stack
turns the check off, explicitly (SENDVIA_SCHEDULER_AUTH=off), so a developer can run a batch
with curl; config.load() refuses a deployment that has neither."""

from __future__ import annotations

from sendvia.api.internal import verify_oidc
from sendvia.errors import Unauthenticated
from sendvia.services import reminders as service
from sendvia.web import Call, Reply, Router

router = Router("reminders", public=False, authenticate=False)


@router.route("POST", "/")
def run(call: Call) -> Reply:
    settings = call.runtime.settings
    if not settings.scheduler_auth_off:
        account, audience = settings.scheduler_service_account, settings.reminders_url
        if not (account and audience and settings.tasks):  # config.load() refuses this
            raise Unauthenticated(
                "Only Cloud Scheduler may call this function, and it is not configured.",
                code="no_scheduler",
                hint="Set SENDVIA_SCHEDULER_SERVICE_ACCOUNT and SENDVIA_REMINDERS_URL.",
            )
        verify_oidc(
            call, audience=audience, service_account=account, certs_url=settings.tasks.certs_url
        )
    return Reply(200, service.run(call.runtime))
