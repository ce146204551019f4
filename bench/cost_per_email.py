"""Cost per delivered email on a warm instance: Firestore document reads and writes, Secret
Manager accesses and OAuth token refreshes, for each route — the platform's relay, an SMTP
mailbox (the stack's Dovecot, with a copy in Sent), a Gmail mailbox (the fake Google) and a
Microsoft mailbox (the fake Microsoft, through Graph).

Each route gets a warm-up batch first (the instance reads its settings, secrets and tokens
then), the meter of the functions host is reset (`/_dev/meter`, counted by the adapters:
sendvia/metering.py), then N triggered emails go through `send` (batch) → Cloud Tasks →
`deliver`, and the meter is read once all of them are sent. Both functions run in the one local
host, so a figure is what `send` and `deliver` spend together for an email.

    make bench                                (starts a stack of its own)
    python bench/cost_per_email.py -n 200     (against a running stack: source .stack/env)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from google.cloud import firestore  # noqa: E402

from tests.integration.api import call  # noqa: E402
from tests.integration.clinic import Clinic, connect, make_clinic  # noqa: E402

WARM_UP = 100  # emails first, to the same patients the run writes to
# The practice's patients: a warm instance has read their suppression shards (256 per tenant,
# by the address's hash) in the warm-up, as it has for the patients it emails every day.
PATIENTS = [f"pat-{i:03d}-{uuid.uuid4().hex[:6]}@example.com" for i in range(50)]
TARGET = {"firestore_reads": 1, "firestore_writes": 3, "secret_accesses": 0, "token_refreshes": 0}


def meter(reset: bool = False) -> dict[str, int]:
    url = f"{os.environ['SENDVIA_FUNCTIONS_URL']}/_dev/meter"
    counts: dict[str, int] = requests.get(
        url, params={"reset": "1"} if reset else {}, timeout=10
    ).json()
    return counts


def sent_count(db: firestore.Client, clinic: Clinic) -> int:
    query = (
        db.collection(f"tenants/{clinic.tenant}/deliveries")
        .where(filter=firestore.FieldFilter("state", "==", "sent"))
        .count()
    )
    return int(query.get()[0][0].value)


def send_batch(clinic: Clinic, n: int) -> None:
    """n triggered emails, in batches of at most 500 (send/batch's limit)."""
    for first in range(0, n, 500):
        messages = [
            {
                "to": [PATIENTS[i % len(PATIENTS)]],
                "subject": f"Reminder {i}: your appointment tomorrow",
                "text": "See you tomorrow at 10:00.",
                "category": "appointment_reminder",
            }
            for i in range(first, min(first + 500, n))
        ]
        body = {"messages": messages}
        response = call("POST", "send", "/batch", bearer=clinic.admin, body=body)
        response.raise_for_status()
        errors = [r["error"] for r in response.json()["results"] if "error" in r]
        assert not errors, errors[:3]


def deliver(db: firestore.Client, clinic: Clinic, n: int, already: int) -> None:
    send_batch(clinic, n)
    deadline = time.monotonic() + 300
    while sent_count(db, clinic) < already + n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sent_count(db, clinic) - already} of {n} sent in 300 s")
        time.sleep(0.3)


def relay_route(clinic: Clinic, db: firestore.Client) -> None:
    """No mailbox: the platform's relay."""


def smtp_route(clinic: Clinic, db: firestore.Client) -> None:
    call("PATCH", "settings", bearer=clinic.admin, body={"integrations": {"smtp_imap": True}})
    host, user = os.environ["MAIL_HOST"], os.environ["MAIL_DEMO_USER"]
    saved = call(
        "PUT",
        "settings",
        "/mailboxes/tenant",
        bearer=clinic.admin,
        body={
            "preset": "custom",
            "address": user,
            "display_name": "Riverside Reception",
            "smtp": {
                "host": host,
                "port": int(os.environ["MAIL_SUBMISSION_PORT"]),
                "security": "starttls",
                "username": user,
                "password": os.environ["MAIL_DEMO_PASSWORD"],
            },
            "imap": {"host": host, "port": int(os.environ["MAIL_IMAPS_PORT"]), "security": "tls"},
        },
    )
    saved.raise_for_status()
    # Confirmed, as the user would by the code in the test email (not what is measured here).
    db.document(f"tenants/{clinic.tenant}/mailboxes/tenant").update({"state": "active"})


def gmail_route(clinic: Clinic, db: firestore.Client) -> None:
    account = clinic.google("bench")
    outcome = connect(clinic, account)
    assert "sendvia_result=connected" in outcome.location, outcome.location
    # Gmail's own limits (sends a minute and a day, quota units a minute) are not measured here.
    requests.post(
        f"{os.environ['FAKE_GOOGLE_URL']}/_fake/accounts/{account}:limits",
        json={"per_minute": 100_000, "daily_limit": 100_000, "units_per_minute": 10_000_000},
        timeout=10,
    ).raise_for_status()


def microsoft_route(clinic: Clinic, db: firestore.Client) -> None:
    from tests.integration import microsoft_flow
    from tests.integration.google_flow import Browser

    switched = call(
        "PATCH", "settings", bearer=clinic.admin, body={"integrations": {"microsoft": True}}
    )
    assert switched.status_code == 200, switched.text
    account = f"bench-{clinic.suffix}@contoso.example"
    outcome = microsoft_flow.connect(Browser(), microsoft_flow.start(clinic.admin), account)
    assert "sendvia_result=connected" in outcome.location, outcome.location
    # Exchange's 30 messages a minute is not what is measured here.
    microsoft_flow.fake(
        f"/_fake/accounts/{account}:limits", "POST", json={"per_minute": 100_000}
    ).raise_for_status()


ROUTES: dict[str, Callable[[Clinic, firestore.Client], None]] = {
    "platform relay": relay_route,
    "SMTP mailbox (+ Sent copy)": smtp_route,
    "Gmail mailbox": gmail_route,
    "Microsoft mailbox (Graph)": microsoft_route,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()
    db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    print(f"cost per delivered email, warm instance, {args.n} triggered emails per route")
    print(f"  {'route':28s} {'reads':>7s} {'writes':>7s} {'secrets':>8s} {'refreshes':>10s}")
    for name, setup in ROUTES.items():
        clinic = make_clinic(uuid.uuid4().hex[:10])
        setup(clinic, db)
        deliver(db, clinic, WARM_UP, 0)
        meter(reset=True)
        deliver(db, clinic, args.n, WARM_UP)
        spent = meter()
        per = {k: spent[k] / args.n for k in TARGET}
        print(
            f"  {name:28s} {per['firestore_reads']:7.3f} {per['firestore_writes']:7.3f} "
            f"{per['secret_accesses']:8.3f} {per['token_refreshes']:10.3f}"
        )
    print(
        f"  {'target':28s} {'<= 1':>7s} {'<= 3':>7s} {'0':>8s} {'0':>10s}"
        "   (reads: none while tasks carry their delivery, decision 0009;"
        " writes: create, claim with hand-over, outcome)"
    )


if __name__ == "__main__":
    main()
