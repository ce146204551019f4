"""Test a mailbox: its provider runs each step of connecting and sending "{Gmail|SMTP} Test
Connection from {product}" to the signed-in user (docs/sources.md: 000, 001), the delivery is
recorded like any other email, and the mailbox's state follows what the test proved.

A mailbox connected by typing settings (SMTP/IMAP) is not used until the person proves the test
email arrived: it carries a code, and `confirm` makes the mailbox active ("if you do not select yes
then SMTP will not be set up"). A mailbox connected by signing in is proven by the sign-in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sendvia.domain.failures import FailureKind, ProviderFailure
from sendvia.domain.mailbox import MailboxRecord, MailboxState
from sendvia.domain.principal import Principal
from sendvia.domain.providers import ConnectedBy, traits
from sendvia.errors import BadRequest, Conflict
from sendvia.ports import MailboxProvider, SecretUnavailable, TestRun
from sendvia.runtime import Runtime
from sendvia.services import mailboxes
from sendvia.services.settings import load_tenant

CODE_LIFETIME = dt.timedelta(hours=24)
MAX_CODE_ATTEMPTS = 5


def run(rt: Runtime, principal: Principal, requested: str) -> dict[str, Any]:
    mailbox_id = mailboxes.resolve_id(principal, requested, manage=True, own=True)
    mailbox = mailboxes.load(rt, principal, mailbox_id)
    provider = mailboxes.provider_for(rt, mailbox.provider)
    product = load_tenant(rt, principal.tenant_id).product_name
    by_code = traits(mailbox.provider).connected_by is ConnectedBy.SETTINGS
    code = f"{secrets.randbelow(10**6):06d}" if by_code else None
    message = mailboxes.test_message(
        mailbox,
        principal,
        f"{traits(mailbox.provider).label} Test Connection from {product}",
        _test_text(product, mailbox, code),
    )
    result = _run(provider, mailbox, message, principal.email)
    first_failed = next((s for s in result.steps if not s["ok"]), None)
    error = None
    if first_failed is not None and not result.sent:
        error = {k: first_failed[k] for k in ("cause", "reply", "hint")}
    delivery_id = mailboxes.record_test_delivery(
        rt,
        principal,
        mailbox_id,
        message,
        provider_message_id=result.provider_message_id,
        error=error,
    )
    now = rt.clock()
    changes: dict[str, Any] = {"last_tested_at": now}
    if code is not None and result.sent:
        salt = secrets.token_hex(8)
        changes["confirmation"] = {
            "salt": salt,
            "hash": _hash(salt, code),
            "attempts": 0,
            "expires_at": now + CODE_LIFETIME,
            "delivery_id": delivery_id,
        }
    _follow(rt, provider, mailbox, result, by_code=by_code, changes=changes)
    rt.mailboxes.update(principal.tenant_id, mailbox_id, changes)
    after = rt.mailboxes.get(principal.tenant_id, mailbox_id)
    state = after.state.value if after else None
    return {
        "ok": result.ok,
        "state": state,
        "delivery_id": delivery_id,
        "steps": result.steps,
        "confirmation": "sent"
        if code is not None and result.sent and state == MailboxState.PENDING_CONFIRMATION
        else None,
    }


def _run(
    provider: MailboxProvider, mailbox: MailboxRecord, message: Any, recipient: str
) -> TestRun:
    try:
        return provider.test(mailbox, message, recipient)
    except SecretUnavailable as gone:
        raise mailboxes.reconnect_required(mailbox) from gone
    except ProviderFailure as failure:  # before any step: no stored credentials, say
        step = {
            "name": "credentials",
            "ok": False,
            "reply": failure.reply,
            "cause": failure.code,
            "hint": provider.hint(failure),
            "elapsed_ms": 0,
        }
        return TestRun([step], None, failure)


def _follow(
    rt: Runtime,
    provider: MailboxProvider,
    mailbox: MailboxRecord,
    result: TestRun,
    *,
    by_code: bool,
    changes: dict[str, Any],
) -> None:
    """What the test proved: credentials refused break a mailbox in use (its admins are told
    once); a broken one that works again is mended, unless a code must prove it first; any other
    failure is the mailbox's last error, until a test passes."""
    failure = result.failure
    in_use = mailbox.state in (MailboxState.ACTIVE, MailboxState.BROKEN)
    if failure is not None and failure.kind is FailureKind.AUTH and in_use:
        mailboxes.mark_broken(rt, mailbox, failure)
    elif failure is not None:
        changes["last_error"] = {
            "code": failure.code,
            "message": failure.reply,
            "hint": provider.hint(failure),
            "at": rt.clock(),
        }
    elif mailbox.state is MailboxState.BROKEN and not by_code:
        mailboxes.mark_working(rt, mailbox)
    elif mailbox.state is not MailboxState.BROKEN:
        changes["last_error"] = None  # this test passed: an earlier test's failure is history


def _test_text(product: str, mailbox: MailboxRecord, code: str | None) -> str:
    text = (
        f"This is a test email from {product}, sent through {mailbox.address} using the "
        "connection you set up, so email from the practice will come from this address.\n"
    )
    if code is not None:
        text += (
            f"\nYour confirmation code is {code}.\n\nEnter it in {product} to finish setting up "
            "your email. Until you do, email keeps going from the platform's own address.\n"
        )
    return text


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def confirm(rt: Runtime, principal: Principal, requested: str, code: str) -> MailboxRecord:
    """The person read the code in the test email: the mailbox becomes active."""
    mailbox_id = mailboxes.resolve_id(principal, requested, manage=True, own=True)
    mailbox = mailboxes.load(rt, principal, mailbox_id)
    # Counted before it is compared, atomically: racing guesses each spend a try.
    pending = rt.mailboxes.spend_code_try(principal.tenant_id, mailbox_id, MAX_CODE_ATTEMPTS)
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
        raise BadRequest(
            "That code is not the one in the test email.",
            code="invalid_code",
            field="code",
            hint=f"Check the latest test email; {left} tries left.",
        )
    changes = {
        "state": MailboxState.ACTIVE.value,
        "confirmed_at": rt.clock(),
        "confirmation": None,
        "last_error": None,
        "broken_since": None,
    }
    rt.mailboxes.update(principal.tenant_id, mailbox_id, changes)
    return mailboxes.with_changes(mailbox, changes)
