"""The pipeline of triggered emails: `send` (batches of 500) → the Cloud Tasks emulator →
`deliver` → the relay, an SMTP mailbox (Dovecot) or a Gmail mailbox (the fake Google).

Headline: the CPU the functions process spends per delivered email, on each route, beside the
floor's CPU per email — a plain smtplib loop sending the same messages to the same relay over
one connection — both measured in this run. Then the end-to-end latency of a triggered email at
a light load (10 a second, one by one): p50 and p99 from `send` answering to the relay's
receipt. Throughput is printed too; with the emulators on the same two cores it mostly measures
them.

    make bench                         (starts a stack of its own)
    python bench/pipeline.py -n 2000   (against a running stack: source .stack/env first)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import smtplib
import ssl
import statistics
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared"), str(ROOT / "bench")]

from sendvia import devtools  # noqa: E402
from sendvia.adapters.google_clients import secret_manager_client  # noqa: E402

BATCH = 500


def relayed(address: str) -> int:
    listed = requests.get(
        f"{os.environ['DEFAULT_RELAY_URL']}/messages", params={"to": address}, timeout=60
    ).json()["messages"]
    return len(listed)


def floor(n: int, address: str) -> float:
    """smtplib, one connection, the same relay: the most a sender could do."""
    password = (
        secret_manager_client()
        .access_secret_version(name=os.environ["SENDVIA_RELAY_PASSWORD"])
        .payload.data.decode()
    )
    context = ssl.create_default_context(cafile=os.environ["SENDVIA_TLS_CA_FILE"])
    started = time.perf_counter()
    with smtplib.SMTP(
        os.environ["SENDVIA_RELAY_HOST"], int(os.environ["SENDVIA_RELAY_PORT"]), timeout=30
    ) as smtp:
        smtp.starttls(context=context)
        smtp.login(os.environ["SENDVIA_RELAY_USERNAME"], password)
        for index in range(n):
            smtp.sendmail(
                "noreply@platform.test",
                [address],
                f"From: noreply@platform.test\r\nTo: {address}\r\nSubject: reminder "
                f"{index}\r\n\r\nSee you tomorrow at 10:00.\r\n".encode(),
            )
    return time.perf_counter() - started


def stack_processes() -> dict[str, list[int]]:
    """The pids of the running stack's services (and their children), by service name."""
    port = os.environ["SENDVIA_FUNCTIONS_URL"].rsplit(":", 1)[-1]
    for state in (ROOT / ".stack" / "test" / "state.json", ROOT / ".stack" / "state.json"):
        if state.exists():
            saved = json.loads(state.read_text())
            if str(saved["ports"]["functions"]) == port:
                return {k: _tree(v["pid"]) for k, v in saved["processes"].items()}
    return {}


def _tree(pid: int) -> list[int]:
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found += _tree(int(entry.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def pipeline(n: int, address: str, timeout_s: float, token: str) -> float:
    """Seconds to send n emails to `address` and see them all at the relay."""
    started = time.perf_counter()
    queue(n, [address], token)
    while relayed(address) < n:
        if time.perf_counter() - started > timeout_s:
            raise SystemExit(f"only {relayed(address)} of {n} delivered in {timeout_s:g} s")
        time.sleep(0.5)
    return time.perf_counter() - started


def queue(n: int, recipients: list[str], token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{os.environ['SENDVIA_FUNCTIONS_URL']}/send/batch"
    for first in range(0, n, BATCH):
        messages = [
            {
                "to": [recipients[i % len(recipients)]],
                "subject": f"reminder {i}",
                "text": "See you tomorrow at 10:00.",
                "category": "appointment_reminder",
            }
            for i in range(first, min(first + BATCH, n))
        ]
        requests.post(
            url, json={"messages": messages}, headers=headers, timeout=300
        ).raise_for_status()


def functions_cpu_per_email(route: str, n: int, warm_up: int) -> float:
    """ms of the functions process's CPU per email delivered by `route` (cost_per_email's
    routes: the relay, an SMTP mailbox, a Gmail mailbox), after an untimed warm-up."""
    import cost_per_email as routes
    from google.cloud import firestore

    db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    clinic = routes.make_clinic(uuid.uuid4().hex[:10])
    routes.ROUTES[route](clinic, db)
    routes.deliver(db, clinic, warm_up, 0)
    pids = stack_processes()["functions"]
    before = cpu_seconds(pids)
    routes.deliver(db, clinic, n, warm_up)
    return (cpu_seconds(pids) - before) * 1000 / n


def latency(token: str, rate: float, seconds: float) -> tuple[float, float]:
    """(p50, p99) ms from `send` answering 202 to the relay's receipt, one email at a time at
    `rate` a second."""
    tag = uuid.uuid4().hex[:8]
    address = f"lat-{tag}@example.com"
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{os.environ['SENDVIA_FUNCTIONS_URL']}/send"
    accepted: dict[str, float] = {}
    started = time.time()
    for i in range(int(rate * seconds)):
        subject = f"latency {tag} {i}"
        answer = requests.post(
            url,
            json={"to": [address], "subject": subject, "text": "Tomorrow.", "mode": "queue"},
            headers=headers,
            timeout=60,
        )
        answer.raise_for_status()
        accepted[subject] = time.time()
        time.sleep(max(0.0, started + (i + 1) / rate - time.time()))
    deadline = time.time() + 120
    while relayed(address) < len(accepted) and time.time() < deadline:
        time.sleep(0.5)
    listed = requests.get(
        f"{os.environ['DEFAULT_RELAY_URL']}/messages", params={"to": address}, timeout=60
    ).json()["messages"]
    waits = sorted(
        (dt.datetime.fromisoformat(m["received_at"]).timestamp() - accepted[m["subject"]]) * 1000
        for m in listed
        if m["subject"] in accepted
    )
    if len(waits) < len(accepted):
        raise SystemExit(f"only {len(waits)} of {len(accepted)} reached the relay")
    return statistics.median(waits), waits[min(len(waits) - 1, int(len(waits) * 0.99))]


ROUTES = ("platform relay", "SMTP mailbox (+ Sent copy)", "Gmail mailbox")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=1000, help="emails per route")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--warm-up", type=int, default=400, help="emails sent first, untimed")
    args = parser.parse_args()
    token = devtools.id_token(
        tenant=f"bench-{uuid.uuid4().hex[:6]}",
        uid="bench-admin",
        role="admin",
        email="bench@clinic.example",
    )
    # A warm instance and warm emulators (the Firestore emulator's JIT compiles as it goes).
    pipeline(args.warm_up, f"warm-{uuid.uuid4().hex[:8]}@example.com", args.timeout, token)
    cpu_started = time.process_time()
    floor_s = floor(args.n, f"floor-{uuid.uuid4().hex[:8]}@example.com")
    floor_cpu = (time.process_time() - cpu_started) * 1000 / args.n
    print(f"pipeline, {args.n} triggered emails per route, {os.cpu_count()} CPUs for everything")
    print(f"  floor: smtplib, one connection            CPU {floor_cpu:5.2f} ms/email")
    for route in ROUTES:
        spent = functions_cpu_per_email(route, args.n, args.warm_up)
        print(
            f"  functions, {route:<30} CPU {spent:5.2f} ms/email   "
            f"{spent / floor_cpu:5.1f}x the floor's"
        )
    processes = stack_processes()
    before = {name: cpu_seconds(pids) for name, pids in processes.items()}
    pipeline_s = pipeline(args.n, f"pipe-{uuid.uuid4().hex[:8]}@example.com", args.timeout, token)
    spent_by = {name: cpu_seconds(pids) - before[name] for name, pids in processes.items()}
    print(
        f"  throughput (relay): {args.n / pipeline_s:.0f} emails/s against the floor's "
        f"{args.n / floor_s:.0f} ({floor_s / pipeline_s:.2f}x)"
    )
    busy = {name: s for name, s in spent_by.items() if s >= 0.05 * pipeline_s}
    share = ", ".join(
        f"{name} {s * 1000 / args.n:.1f}" for name, s in sorted(busy.items(), key=lambda kv: -kv[1])
    )
    print(f"  CPU per email by process on the relay route (ms): {share}")
    p50, p99 = latency(token, rate=10, seconds=20)
    print(f"  latency at 10 emails/s, send → relay: p50 {p50:.0f} ms, p99 {p99:.0f} ms")


if __name__ == "__main__":
    main()
