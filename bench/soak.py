"""The fault-injection soak: N triggered emails across the platform's relay, a tenant's SMTP
mailbox and a tenant's Gmail mailbox, while the stack misbehaves at random, and the functions host
is killed (SIGKILL) and restarted during the run. Then every email is checked against what the
relay, the SMTP server and the fake Google received.

Faults: transient SMTP replies (451), connections dropped before the message data and after it,
servers holding their final reply past the reply limit, Gmail 503s, 429s, answers that never
come and connections dropped after Gmail sent the message, Cloud Tasks refusing task creations,
and the killed host.

At the end every delivery must be final (or waiting for its provider's time); `sent` ones must
have reached their recipient exactly once, `failed` ones never (with a notification), and
`sent_unconfirmed` ones at most once. It prints the table and exits 1 if any email was lost or
duplicated.

    make soak                                        (starts a stack of its own)
    python bench/soak.py -n 5000 --kills 3           (against a running test stack)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import ssl
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from aiosmtpd.controller import Controller  # noqa: E402
from google.cloud import firestore  # noqa: E402
from sendvia import devtools  # noqa: E402

from emulators import stack  # noqa: E402
from emulators.mail.misbehaving import _free_port  # noqa: E402
from emulators.mail.sink import Inbox, _authenticator  # noqa: E402
from tests.integration.google_flow import Browser, start  # noqa: E402

SMTP_FAULTS = {"transient": 0.04, "drop_before_data": 0.02, "drop_after_data": 0.01, "stall": 0.004}
GMAIL_FAULTS = {
    "error_5xx": 0.04,
    "rate_limit": 0.01,
    "slow_after_send": 0.003,
    "drop_after_send": 0.005,
}
TASK_FAULTS = {"create_task_failures": 0.02}
FAST = {"SENDVIA_LEASE_S": "45", "SENDVIA_RECOVER_AFTER_S": "15"}  # drains in minutes
BATCH = 100
FINAL = {"sent", "sent_unconfirmed", "failed", "suppressed", "cancelled"}


def url(function: str, path: str = "") -> str:
    return f"{os.environ['SENDVIA_FUNCTIONS_URL']}/{function}{path}"


def call(method: str, function: str, path: str = "", token: str | None = None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kw.pop("headers", {}))
    return requests.request(method, url(function, path), headers=headers, timeout=60, **kw)


def tenant(name: str, **settings: Any) -> tuple[str, str]:
    tenant_id = f"soak-{name}-{uuid.uuid4().hex[:6]}"
    token = devtools.id_token(tenant=tenant_id, uid=tenant_id, role="admin", name="Soak Admin")
    body = {
        "product_name": f"Soak {name}",
        "return_origins": ["https://app.clinic.example"],  # where google_flow.start returns
        **settings,
    }
    call("PATCH", "settings", token=token, json=body).raise_for_status()
    return tenant_id, token


def smtp_server() -> tuple[Inbox, Controller, str]:
    """A tenant's mail server of our own, with faults, STARTTLS and AUTH like a provider's."""
    folder = Path(os.environ["SENDVIA_TLS_CA_FILE"]).parent
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    password = uuid.uuid4().hex
    inbox = Inbox()
    inbox.faults = {**SMTP_FAULTS, "stall_s": 8.0}
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticator("desk@soak.test", password),
    )
    controller.start()
    return inbox, controller, password


def connect_smtp(tenant_id: str, token: str, port: int, password: str) -> None:
    call("PATCH", "settings", token=token, json={"integrations": {"smtp_imap": True}})
    body = {
        "address": "desk@soak.test",
        "smtp": {
            "host": "127.0.0.1",
            "port": port,
            "security": "starttls",
            "username": "desk@soak.test",
            "password": password,
        },
    }
    call("PUT", "settings", "/mailboxes/tenant", token=token, json=body).raise_for_status()
    db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    db.document(f"tenants/{tenant_id}/mailboxes/tenant").update(
        {"state": "active", "confirmed_at": firestore.SERVER_TIMESTAMP}
    )


def connect_gmail(token: str, account: str) -> None:
    call("PATCH", "settings", token=token, json={"integrations": {"gmail": True}})
    # With a read scope: an answer Gmail lost is settled by searching for the Message-ID.
    outcome = Browser().connect(start(token, "tenant", receive=True), account)
    assert "sendvia_result=connected" in outcome.location, outcome


def submit(token: str, recipients: list[str], counts: Counter[str]) -> None:
    """Queue the emails in batches, each retried with its key until it is answered."""
    for first in range(0, len(recipients), BATCH):
        key = f"soak-{uuid.uuid4().hex}"
        messages = [
            {"to": [r], "subject": "Soak", "text": "Reminder.", "category": "appointment_reminder"}
            for r in recipients[first : first + BATCH]
        ]
        while True:
            try:
                answer = call(
                    "POST",
                    "send",
                    "/batch",
                    token=token,
                    json={"messages": messages},
                    headers={"Idempotency-Key": key},
                )
            except requests.RequestException:
                counts["submit_retries"] += 1
                time.sleep(0.5)
                continue
            if answer.status_code == 202:
                break
            counts["submit_retries"] += 1
            time.sleep(0.5)


def deliveries(tenant_id: str) -> list[dict[str, Any]]:
    db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    return [
        {"id": d.id, **(d.to_dict() or {})}
        for d in db.collection(f"tenants/{tenant_id}/deliveries").stream()
    ]


def settled(found: list[dict[str, Any]]) -> bool:
    return all(d["state"] in FINAL for d in found)


def waiting(found: list[dict[str, Any]]) -> Counter[str]:
    """What is not final yet, by state and why (for the report of a soak that timed out)."""
    now = time.time()
    why: Counter[str] = Counter()
    for d in found:
        if d["state"] in FINAL:
            continue
        later = d.get("send_at") and d["send_at"].timestamp() > now
        why[f"{d['state']}{' until later' if later else ''} after {d.get('attempts', 0)}"] += 1
    return why


def main() -> None:  # noqa: PLR0915 - one soak, start to finish
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5000, help="emails in all")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--drain-timeout", type=float, default=1200)
    args = parser.parse_args()
    profile = "test"
    stack.kill_functions(profile, FAST)  # short leases and recovery, so the soak drains

    relay_tenant, relay_token = tenant("relay")
    smtp_tenant, smtp_token = tenant("smtp")
    gmail_tenant, gmail_token = tenant("gmail")
    inbox, controller, password = smtp_server()
    connect_smtp(smtp_tenant, smtp_token, controller.port, password)
    account = f"soak-{uuid.uuid4().hex[:6]}@gmail.example"
    connect_gmail(gmail_token, account)

    relay_url = os.environ["DEFAULT_RELAY_URL"]
    fake = os.environ["FAKE_GOOGLE_URL"]
    tasks_http = os.environ["CLOUD_TASKS_OIDC_CERTS_URL"].rsplit("/", 1)[0]
    requests.post(f"{relay_url}/_faults", json={**SMTP_FAULTS, "stall_s": 8.0}, timeout=10)
    requests.post(f"{fake}/_fake/faults", json={**GMAIL_FAULTS, "slow_s": 35}, timeout=10)
    requests.post(f"{tasks_http}/_emulator/faults", json=TASK_FAULTS, timeout=10)

    third = args.n // 3
    plan = {
        relay_tenant: (
            relay_token,
            [f"r{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(args.n - 2 * third)],
        ),
        smtp_tenant: (
            smtp_token,
            [f"s{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(third)],
        ),
        gmail_tenant: (
            gmail_token,
            [f"g{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(third)],
        ),
    }
    counts: Counter[str] = Counter()
    done = threading.Event()
    started = time.monotonic()

    def killer() -> None:
        for _ in range(args.kills):
            if done.wait(12):
                return
            stack.kill_functions(profile, FAST)
            counts["host_killed"] += 1

    def scheduler() -> None:
        while not done.wait(5):
            with contextlib.suppress(requests.RequestException):
                requests.post(url("reminders"), timeout=30)

    threads = [threading.Thread(target=killer), threading.Thread(target=scheduler, daemon=True)]
    for thread in threads:
        thread.start()
    with ThreadPoolExecutor(max_workers=3) as pool:
        for token, recipients in plan.values():
            pool.submit(submit, token, recipients, counts)
    submitted = time.monotonic()
    threads[0].join()

    while time.monotonic() - started < args.drain_timeout:
        states = {t: deliveries(t) for t in plan}
        if all(settled(found) for found in states.values()):
            break
        time.sleep(5)
    drained = time.monotonic()
    done.set()
    requests.post(f"{relay_url}/_faults", json={}, timeout=10)
    requests.post(f"{fake}/_fake/faults", json={}, timeout=10)
    requests.post(f"{tasks_http}/_emulator/faults", json={"create_task_failures": 0}, timeout=10)

    relay_got = Counter(
        r.lower()
        for m in requests.get(f"{relay_url}/messages", timeout=60).json()["messages"]
        for r in m["rcpt_to"]
    )
    smtp_got = Counter(r.lower() for m in inbox.messages for r in m["rcpt_to"])
    gmail_got = Counter(
        r.lower()
        for m in requests.get(f"{fake}/_fake/accounts/{account}/sent", timeout=60).json()[
            "messages"
        ]
        for r in m["to"]
    )
    received = {relay_tenant: relay_got, smtp_tenant: smtp_got, gmail_tenant: gmail_got}
    by_state: Counter[str] = Counter()
    lost = duplicated = unsettled = 0
    for tenant_id, (_, recipients) in plan.items():
        found = {d["to"][0].lower(): d for d in states[tenant_id] if d.get("to")}
        for recipient in recipients:
            copies = received[tenant_id][recipient.lower()]
            delivery = found.get(recipient.lower())
            state = delivery["state"] if delivery else "missing"
            by_state[state] += 1
            duplicated += copies > 1
            if state == "missing" or (state == "sent" and copies == 0):
                lost += 1
            elif state == "failed" and copies:
                duplicated += 1  # said failed, yet went
            elif state not in FINAL:
                unsettled += 1
    untold = 0
    for tenant_id, (token, _) in plan.items():
        failed = sum(1 for d in states[tenant_id] if d["state"] == "failed")
        notices = call("GET", "activity", "/notifications", token=token).json()["notifications"]
        told = {n.get("delivery_id") for n in notices if n["kind"] == "send_failed"}
        untold += max(0, failed - len(told))
    relay_faults = requests.get(f"{relay_url}/_faults", timeout=10).json()["injected"]
    gmail_faults = requests.get(f"{fake}/_fake/faults", timeout=10).json()["injected"]
    task_faults = requests.get(f"{tasks_http}/_emulator/faults", timeout=10).json()
    controller.stop()
    print(
        f"emails            {args.n}  (relay {len(plan[relay_tenant][1])}, SMTP mailbox "
        f"{third}, Gmail {third})"
    )
    print(
        f"faults injected   relay {dict(relay_faults)}; SMTP mailbox {dict(inbox.injected)}; "
        f"Gmail {gmail_faults}; task creations refused {task_faults['failed_creations']}; "
        f"functions host killed {counts['host_killed']}×; batch requests retried "
        f"{counts['submit_retries']}"
    )
    print(f"final states      {dict(sorted(by_state.items()))}")
    print(f"lost              {lost}")
    print(f"duplicated        {duplicated}")
    print(f"unconfirmed       {by_state['sent_unconfirmed']}")
    found_later = sum(
        1
        for found in states.values()
        for d in found
        if d["state"] == "sent" and "found it in the mailbox" in str(d.get("delivery_note"))
    )
    print(f"found by a search {found_later}  (the answer was lost; the mailbox had it)")
    print(f"failed, untold    {untold}")
    failures = Counter(
        str((d.get("error") or {}).get("code"))
        for found in states.values()
        for d in found
        if d["state"] == "failed"
    )
    print(f"failed, by cause  {dict(failures)}")
    left = sum((waiting(f) for f in states.values()), Counter())
    print(f"not final         {unsettled}  {dict(left)}")
    print(
        f"time              submitted in {submitted - started:.0f} s, drained in "
        f"{drained - started:.0f} s"
    )
    print(json.dumps({"lost": lost, "duplicated": duplicated, "failed_untold": untold}))
    if lost or duplicated or untold or unsettled:
        sys.exit(1)


if __name__ == "__main__":
    main()
