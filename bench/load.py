"""Load: N concurrent frontends for D seconds against the public functions of the local stack,
each sending manual emails through the platform's relay (80 %) and reading the settings (20 %).
A frontend gives up on a request after its timeout and retries it with the same Idempotency-Key,
as a browser would. At the end every key is checked against what the relay received.

Prints: requests, answers by status, 5xx (must be 0), p50/p99 latency, throughput, client
retries, and the emails lost (answered sent, never received) and duplicated (received more than
once) — both must be 0.

    make load                                   (starts a stack of its own)
    python bench/load.py --users 50 --seconds 60   (against a running stack: source .stack/env)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from sendvia import devtools  # noqa: E402


def url(function: str, path: str = "") -> str:
    return f"{os.environ['SENDVIA_FUNCTIONS_URL']}/{function}{path}"


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.latencies: list[float] = []
        self.retries = 0
        self.sends: dict[str, tuple[str, int]] = {}  # key → (recipient, final status)

    def record(self, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(seconds)


def send(
    session: requests.Session,
    token: str,
    key: str,
    recipient: str,
    *,
    timeout: float,
    results: Results,
) -> None:
    body = {
        "to": [recipient],
        "subject": f"Invoice {key}",
        "text": "Attached.",
        "category": "invoice",
    }
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    status = 0
    for attempt in range(4):  # the frontend's own retries, with the same key
        started = time.perf_counter()
        try:
            answer = session.post(url("send"), json=body, headers=headers, timeout=timeout)
        except requests.Timeout:
            with results.lock:
                results.retries += 1
            continue
        status = answer.status_code
        results.record(status, time.perf_counter() - started)
        if status < 500 and status != 202:
            break
        time.sleep(0.2 * (attempt + 1))  # 202: still in flight; 5xx: try again
    with results.lock:
        results.sends[key] = (recipient, status)


def frontend(index: int, token: str, until: float, timeout: float, results: Results) -> None:
    session = requests.Session()
    rng = random.Random(index)  # noqa: S311 - a load mix, not a secret
    run = uuid.uuid4().hex[:8]
    count = 0
    while time.monotonic() < until:
        count += 1
        if rng.random() < 0.8:
            key = f"{run}-{index}-{count}"
            send(session, token, key, f"load-{key}@example.com", timeout=timeout, results=results)
        else:
            started = time.perf_counter()
            answer = session.get(
                url("settings"), headers={"Authorization": f"Bearer {token}"}, timeout=timeout * 4
            )
            results.record(answer.status_code, time.perf_counter() - started)


def relayed(address: str) -> int:
    listed = requests.get(
        f"{os.environ['DEFAULT_RELAY_URL']}/messages", params={"to": address}, timeout=60
    ).json()["messages"]
    return len(listed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=5.0, help="a frontend's request timeout")
    args = parser.parse_args()

    tenant = f"load-{uuid.uuid4().hex[:8]}"
    token = devtools.id_token(tenant=tenant, uid="admin", role="admin", name="Load Admin")
    patch = requests.patch(
        url("settings"),
        json={"product_name": "Load Clinic"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    patch.raise_for_status()

    results = Results()
    started = time.monotonic()
    until = started + args.seconds
    with ThreadPoolExecutor(max_workers=args.users) as pool:
        for index in range(args.users):
            pool.submit(frontend, index, token, until, args.timeout, results)
    elapsed = time.monotonic() - started

    lost = duplicated = unconfirmed = 0
    for recipient, status in results.sends.values():
        received = relayed(recipient)
        duplicated += received > 1
        lost += status == 200 and received == 0
        unconfirmed += status not in (200,)
    latencies = sorted(results.latencies)
    requests_made = sum(results.statuses.values())
    five = sum(n for s, n in results.statuses.items() if s >= 500)
    print(f"frontends {args.users}, {args.seconds:g} s, client timeout {args.timeout:g} s")
    print(f"requests       {requests_made}  ({requests_made / elapsed:.1f}/s)")
    print(f"by status      {dict(sorted(results.statuses.items()))}")
    print(f"5xx            {five}")
    print(
        f"latency        p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.0f} ms"
    )
    print(
        f"emails         {len(results.sends)}  (client retries after a timeout: {results.retries})"
    )
    print(f"lost           {lost}")
    print(f"duplicated     {duplicated}")
    print(f"not answered 200 in the end (counted, checked for duplicates): {unconfirmed}")
    if five or lost or duplicated:
        sys.exit(1)


if __name__ == "__main__":
    main()
