"""Pipeline throughput: N triggered emails through `send` (batches of 500) → the Cloud Tasks
emulator → `deliver` → the default relay, against the floor of a plain smtplib loop sending the
same messages to the same relay over one connection. Both measured here, in one run.

    make bench                         (starts a stack of its own)
    python bench/pipeline.py -n 2000   (against a running stack: source .stack/env first)
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import ssl
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

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
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{os.environ['SENDVIA_FUNCTIONS_URL']}/send/batch"
    started = time.perf_counter()
    for first in range(0, n, BATCH):
        messages = [
            {
                "to": [address],
                "subject": f"reminder {i}",
                "text": "See you tomorrow at 10:00.",
                "category": "appointment_reminder",
            }
            for i in range(first, min(first + BATCH, n))
        ]
        requests.post(
            url, json={"messages": messages}, headers=headers, timeout=300
        ).raise_for_status()
    while relayed(address) < n:
        if time.perf_counter() - started > timeout_s:
            raise SystemExit(f"only {relayed(address)} of {n} delivered in {timeout_s:g} s")
        time.sleep(0.5)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--warm-up", type=int, default=500, help="emails sent first, untimed")
    args = parser.parse_args()
    token = devtools.id_token(
        tenant=f"bench-{uuid.uuid4().hex[:6]}",
        uid="bench-admin",
        role="admin",
        email="bench@clinic.example",
    )
    # A warm instance and warm emulators (the Firestore emulator's JIT compiles as it goes).
    pipeline(args.warm_up, f"warm-{uuid.uuid4().hex[:8]}@example.com", args.timeout, token)
    floor_s = floor(args.n, f"floor-{uuid.uuid4().hex[:8]}@example.com")
    processes = stack_processes()
    before = {name: cpu_seconds(pids) for name, pids in processes.items()}
    pipeline_s = pipeline(args.n, f"pipe-{uuid.uuid4().hex[:8]}@example.com", args.timeout, token)
    spent = {name: cpu_seconds(pids) - before[name] for name, pids in processes.items()}
    print(f"pipeline throughput, {args.n} emails, {os.cpu_count()} CPUs for everything")
    print(f"  floor (smtplib, one connection)   {args.n / floor_s:8.0f} emails/s   1.00x")
    print(
        f"  send → tasks → deliver → relay    {args.n / pipeline_s:8.0f} emails/s   "
        f"{floor_s / pipeline_s:4.2f}x"
    )
    busy = {name: s for name, s in spent.items() if s >= 0.05 * pipeline_s}
    if busy:
        share = ", ".join(
            f"{name} {s * 1000 / args.n:.1f}"
            for name, s in sorted(busy.items(), key=lambda kv: -kv[1])
        )
        print(f"  CPU per email of the pipeline (ms): {share}")


if __name__ == "__main__":
    main()
