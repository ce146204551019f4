"""SMTP/IMAP mailboxes with app passwords (seeds 001, 003; DESIGN.md §4–6).

Save the settings (passwords only to Secret Manager), list the IMAP folders, run the stepwise test
that sends the user a confirmation code, and confirm it: the mailbox stays `pending_confirmation`
until the person proves the test email arrived (WriteUpp: "if you do not select yes then SMTP will
not be set up").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

from sendvia.adapters.secret_manager import mailbox_secret_id
from sendvia.adapters.smtp_imap import Endpoint, Steps
from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox_settings import (
    MailboxSettingsIn,
    SettingsError,
    resolve,
)
from sendvia.domain.principal import Principal
from sendvia.domain.tenant import MailboxPolicy, Tenant
from sendvia.domain.validation import parse_model
from sendvia.errors import BadGateway, BadRequest, Conflict, Refused
from sendvia.runtime import Runtime
from sendvia.services import mailboxes
from sendvia.services.settings import load_tenant

CODE_LIFETIME = dt.timedelta(hours=24)
MAX_CODE_ATTEMPTS = 5
AUTH_CAUSES = {"wrong_password", "app_password_required", "basic_auth_disabled"}


def _check_allowed(rt: Runtime, principal: Principal, mailbox_id: str) -> Tenant:
    tenant = load_tenant(rt, principal.tenant_id)
    if not tenant.integrations.smtp_imap:
        raise Refused(
            "SMTP/IMAP is switched off for your practice.",
            code="integration_off",
            hint="An administrator can switch on SMTP/IMAP in the email settings.",
        )
    if mailbox_id != "tenant" and tenant.mailbox_policy is not MailboxPolicy.PER_USER:
        raise Refused(
            "Your practice sends from one shared mailbox, not from each user's.",
            code="policy_tenant_mailbox",
            hint="An administrator sets up the practice's mailbox instead.",
        )
    return tenant


def save(rt: Runtime, principal: Principal, requested: str, body: Any) -> dict[str, Any]:
    """PUT the settings: stored, password in Secret Manager, state pending_confirmation."""
    mailbox_id = mailboxes.resolve_id(principal, requested, manage=True)
    _check_allowed(rt, principal, mailbox_id)
    try:
        settings = resolve(parse_model(MailboxSettingsIn, body))
    except SettingsError as problem:
        raise BadRequest(
            str(problem),
            code="invalid_value",
            field=problem.field,
            hint="Fill it in, or choose a preset.",
        ) from problem
    existing = rt.mailboxes.get(principal.tenant_id, mailbox_id)
    if existing and existing.get("provider") != "smtp":
        raise Conflict(
            "This mailbox is connected with Sign in with Google.",
            code="mailbox_in_use",
            hint="Forget that connection first.",
        )
    stored = _passwords(rt, existing) if existing and existing.get("secret_version") else {}
    passwords = {
        "smtp": settings.smtp_password or stored.get("smtp"),
        "imap": settings.imap_password or stored.get("imap") or stored.get("smtp"),
    }
    if not passwords["smtp"]:
        raise BadRequest(
            "smtp.password is required.",
            code="invalid_value",
            field="smtp.password",
            hint="Enter the mailbox's (app) password.",
        )
    version = (existing or {}).get("secret_version")
    if passwords != stored:
        version = rt.secrets.add_version(
            mailbox_secret_id(principal.tenant_id, mailbox_id),
            json.dumps(passwords).encode(),
            {"tenant": principal.tenant_id, "mailbox": mailbox_id},
        )
    servers = {
        "smtp": settings.smtp.to_doc(),
        "imap": settings.imap.to_doc() if settings.imap else None,
    }
    unchanged = (
        existing is not None
        and passwords == stored
        and existing.get("address") == settings.address
        and all(existing.get(k) == v for k, v in servers.items())
    )
    doc = {
        **(existing or {}),
        "provider": "smtp",
        "address": settings.address,
        "display_name": settings.display_name,
        **servers,
        "sent_folder": settings.sent_folder,
        "receive": settings.receive,
        "secret_version": version,
        "warnings": list(settings.warnings),
        "saved_at": rt.clock(),
        "saved_by": principal.uid,
    }
    if not unchanged:  # new servers or credentials must be proven again
        doc.update(
            {
                "state": "pending_confirmation",
                "confirmation": None,
                "confirmed_at": None,
                "last_error": None,
            }
        )
    rt.mailboxes.put(principal.tenant_id, mailbox_id, doc)
    if version and existing and existing.get("secret_version") not in (None, version):
        rt.secrets.destroy_older(mailbox_secret_id(principal.tenant_id, mailbox_id), version)
    return mailboxes.to_json(mailbox_id, doc)


def _passwords(rt: Runtime, doc: dict[str, Any]) -> dict[str, str]:
    stored: dict[str, str] = json.loads(rt.secrets.access(doc["secret_version"]))
    return stored


def _endpoint(server: dict[str, Any]) -> Endpoint:
    return Endpoint(server["host"], int(server["port"]), server["security"], server["username"])


def folders(rt: Runtime, principal: Principal, requested: str) -> dict[str, Any]:
    """The IMAP folders, with the special-use `\\Sent` one suggested."""
    mailbox_id = mailboxes.resolve_id(principal, requested, manage=False)
    doc = mailboxes.load(rt, principal, mailbox_id)
    if doc.get("provider") != "smtp" or not doc.get("imap"):
        raise Refused(
            "This mailbox has no IMAP settings.",
            code="no_imap",
            hint="Add the IMAP server in the mailbox settings.",
        )
    steps = Steps()
    client = steps.run(
        "imap_login", lambda: rt.mail.open_imap(_endpoint(doc["imap"]), _passwords(rt, doc)["imap"])
    )
    listed = steps.run("folders", lambda: rt.mail.folders(client)) if client else None
    if client is not None:
        client.logout()
    if listed is None:
        failed = steps.results[-1]
        raise BadGateway(
            f"The IMAP server: {failed['reply']}",
            hint=failed["hint"] or "",
            code=failed["cause"] or "mail_server_failed",
        )
    sent = next((f["name"] for f in listed if f["special_use"] == "\\Sent"), None)
    return {"folders": listed, "suggested_sent": sent}


def test(rt: Runtime, principal: Principal, mailbox_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Resolve, connect, TLS, log in, send the test email with a code, log in to IMAP, and keep
    a copy in the Sent folder — each step with its limit, cause and fix."""
    tenant = load_tenant(rt, principal.tenant_id)
    passwords = _passwords(rt, doc)
    code = f"{secrets.randbelow(10**6):06d}"
    message = mailboxes.test_message(
        doc,
        principal,
        f"SMTP Test Connection from {tenant.product_name}",
        f"This is a test email from {tenant.product_name}, sent through {doc['address']}.\n"
        f"\nYour confirmation code is {code}.\n\nEnter it in {tenant.product_name} to "
        "finish setting up your email. Until you do, email keeps going from the "
        "platform's own address.\n",
    )
    raw = message.as_bytes()
    steps = Steps()
    client = rt.mail.open_smtp(_endpoint(doc["smtp"]), passwords["smtp"], steps)
    if client is not None:
        steps.run(
            "send",
            lambda: rt.mail.send(client, doc["address"], [principal.email], raw),
            describe=lambda _: f"Accepted for {principal.email}",
        )
        client.close()
    sent = steps.ok
    if sent and doc.get("imap"):
        imap = steps.run(
            "imap_login",
            lambda: rt.mail.open_imap(_endpoint(doc["imap"]), passwords["imap"]),
            describe=lambda _: "Logged in",
        )
        if imap is not None:
            steps.run(
                "sent_folder",
                lambda: rt.mail.append_sent(
                    imap, doc.get("sent_folder") or _sent_of(rt, imap), raw
                ),
                describe=str,
            )
            imap.logout()
    now = rt.clock()
    error = None if sent else {k: steps.results[-1][k] for k in ("cause", "reply")}
    delivery_id = mailboxes.record_test_delivery(
        rt, principal, mailbox_id, message, provider_message_id=None, error=error
    )
    changes: dict[str, Any] = {"last_tested_at": now}
    if sent:
        salt = secrets.token_hex(8)
        changes["confirmation"] = {
            "salt": salt,
            "hash": _hash(salt, code),
            "attempts": 0,
            "expires_at": now + CODE_LIFETIME,
            "delivery_id": delivery_id,
        }
    failed = next((s for s in steps.results if not s["ok"]), None)
    if failed and failed["cause"] in AUTH_CAUSES and doc.get("state") == "active":
        failure = ProviderFailure(FailureKind.AUTH, failed["cause"], failed["reply"])
        mailboxes.mark_broken(rt, principal.tenant_id, mailbox_id, doc, failure)
    elif failed:
        changes["last_error"] = {
            "code": failed["cause"],
            "message": failed["reply"],
            "hint": failed["hint"],
            "at": now,
        }
    rt.mailboxes.update(principal.tenant_id, mailbox_id, changes)
    state = (rt.mailboxes.get(principal.tenant_id, mailbox_id) or {}).get("state")
    return {
        "ok": steps.ok,
        "state": state,
        "delivery_id": delivery_id,
        "steps": steps.results,
        "confirmation": "sent" if sent and state == "pending_confirmation" else None,
    }


def _sent_of(rt: Runtime, imap: Any) -> str:
    listed = rt.mail.folders(imap)
    return str(next((f["name"] for f in listed if f["special_use"] == "\\Sent"), "Sent"))


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def confirm(rt: Runtime, principal: Principal, requested: str, code: str) -> dict[str, Any]:
    """The person read the code in the test email: the mailbox becomes active."""
    mailbox_id = mailboxes.resolve_id(principal, requested, manage=True)
    doc = mailboxes.load(rt, principal, mailbox_id)
    pending = doc.get("confirmation")
    if not pending:
        raise Conflict(
            "There is no test email to confirm.",
            code="nothing_to_confirm",
            hint="Run the connection test first; it sends an email with a code.",
        )
    if pending["expires_at"] <= rt.clock():
        raise BadRequest(
            "That code has expired.",
            code="code_expired",
            field="code",
            hint="Run the connection test again for a new code.",
        )
    if pending["attempts"] >= MAX_CODE_ATTEMPTS:
        raise BadRequest(
            "Too many wrong codes.",
            code="too_many_attempts",
            field="code",
            hint="Run the connection test again for a new code.",
        )
    if not secrets.compare_digest(_hash(pending["salt"], code.strip()), pending["hash"]):
        left = MAX_CODE_ATTEMPTS - pending["attempts"] - 1
        rt.mailboxes.update(
            principal.tenant_id,
            mailbox_id,
            {"confirmation": {**pending, "attempts": pending["attempts"] + 1}},
        )
        raise BadRequest(
            "That code is not the one in the test email.",
            code="invalid_code",
            field="code",
            hint=f"Check the latest test email; {left} tries left.",
        )
    changes = {
        "state": "active",
        "confirmed_at": rt.clock(),
        "confirmation": None,
        "last_error": None,
        "broken_since": None,
    }
    rt.mailboxes.update(principal.tenant_id, mailbox_id, changes)
    return mailboxes.to_json(mailbox_id, {**doc, **changes})
