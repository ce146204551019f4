"""Test a mailbox: for Gmail, refresh access and send "Gmail Test Connection from {product}" to
the signed-in user (seed 000), recording the delivery and reporting each step."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.principal import Principal
from sendvia.errors import Refused
from sendvia.runtime import Runtime
from sendvia.services import mailboxes
from sendvia.services.settings import load_tenant

_CAUSES = {
    "token_revoked": "token_revoked",
    "refresh_failed": "token_revoked",
    "unauthorized": "token_revoked",
    "scope_missing": "scope_missing",
}


def run(rt: Runtime, principal: Principal, requested: str) -> dict[str, Any]:
    mailbox_id = mailboxes.resolve_id(principal, requested, manage=True)
    doc = mailboxes.load(rt, principal, mailbox_id)
    if doc.get("provider") == "smtp":
        from sendvia.services import smtp_mailboxes

        return smtp_mailboxes.test(rt, principal, mailbox_id, doc)
    if doc.get("provider") != "gmail":
        raise Refused(
            "Testing this kind of mailbox is not available yet.",
            code="provider_unavailable",
            hint="Connect a Gmail or SMTP mailbox.",
        )
    tenant = load_tenant(rt, principal.tenant_id)
    steps: list[dict[str, Any]] = []
    credentials = _step(steps, "refresh", lambda: _refresh(rt, doc))
    delivery_id = None
    if credentials is not None:
        message = mailboxes.test_message(
            doc,
            principal,
            f"Gmail Test Connection from {tenant.product_name}",
            f"This is a test email from {tenant.product_name}.\n\nIt was sent through the "
            f"Gmail account {doc['address']} using the connection you set up, so email "
            "from the practice will come from this address and land in its Sent folder.\n",
        )
        sent = _step(
            steps,
            "send",
            lambda: rt.gmail.send(  # type: ignore[union-attr]
                doc["secret_version"], credentials, message.as_bytes()
            ),
        )
        error = None if sent else {k: steps[-1].get(k) for k in ("cause", "reply", "hint")}
        delivery_id = mailboxes.record_test_delivery(
            rt, principal, mailbox_id, message, provider_message_id=sent, error=error
        )
    ok = all(step["ok"] for step in steps)
    failure = next((s["failure"] for s in steps if "failure" in s), None)
    if failure is not None and failure.kind is FailureKind.AUTH:
        mailboxes.mark_broken(rt, principal.tenant_id, mailbox_id, doc, failure)
    elif ok and doc.get("state") == "broken":
        mailboxes.mark_working(rt, principal.tenant_id, mailbox_id, doc)
    rt.mailboxes.update(principal.tenant_id, mailbox_id, {"last_tested_at": rt.clock()})
    state = rt.mailboxes.get(principal.tenant_id, mailbox_id) or {}
    for step in steps:
        step.pop("failure", None)
    return {"ok": ok, "state": state.get("state"), "delivery_id": delivery_id, "steps": steps}


def _refresh(rt: Runtime, doc: dict[str, Any]) -> Any:
    if not doc.get("secret_version"):
        raise ProviderFailure(
            FailureKind.AUTH, "reauthorize_required", "No Google access is stored for this mailbox."
        )
    return mailboxes.check_google_access(rt, doc)


def _step(steps: list[dict[str, Any]], name: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    try:
        result = action()
    except ProviderFailure as failure:
        steps.append(
            {
                "name": name,
                "ok": False,
                "reply": failure.reply,
                "cause": _CAUSES.get(failure.code, failure.code),
                "hint": mailboxes.hint_for(failure),
                "elapsed_ms": round((time.perf_counter() - started) * 1000),
                "failure": failure,
            }
        )
        return None
    reply = (
        f"Gmail accepted the message (id {result})"
        if name == "send"
        else ("Google issued a fresh access token")
    )
    steps.append(
        {
            "name": name,
            "ok": True,
            "reply": reply,
            "cause": None,
            "hint": None,
            "elapsed_ms": round((time.perf_counter() - started) * 1000),
        }
    )
    return result
