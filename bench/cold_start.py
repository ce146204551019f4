"""Cold start of each entry point, as a ratio to the floor, measured side by side in one run.

For every entry point of functions/main.py: the wall time of a fresh Python process that imports
it through functions-framework (`create_app`, as a deployment does) and serves its first request
(an authenticated GET against the local stack). The floor: a fresh process that imports only
functions-framework and google-cloud-firestore, timed just before each subject's run, so drift on
the machine hits both alike and the floor's median is taken over every one of them; medians are
reported.

Our modules run from bytecode, as the deployed archive carries it (tools/package.py: checked-hash
.pyc for the runtime's Python); the libraries' bytecode comes from their installation, as in
production. Without it, every cold start would also compile sendvia's modules.

    make bench                      (starts a stack of its own)
    python bench/cold_start.py -n 9 (against a running stack: source .stack/env first)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from sendvia import devtools  # noqa: E402

from emulators.functions_host import DEFAULT_SOURCE, entry_points  # noqa: E402

FLOOR = "import functions_framework\nimport google.cloud.firestore\n"

SUBJECT = """
import json
import functions_framework
app = functions_framework.create_app({target!r}, {source!r})
method, path, body, token, extra = {first!r}
response = app.test_client().open(path, method=method, data=json.dumps(body) if body else None,
                                  headers={{"Authorization": "Bearer " + token,
                                           "Content-Type": "application/json", **extra}})
if response.status_code >= ({strict!r} and 400 or 500):
    raise SystemExit(f"first request failed: {{response.status_code}} {{response.get_data()}}")
"""

# The first request each function typically serves after a cold start.
FIRST_REQUESTS: dict[str, tuple[str, str, object]] = {
    "settings": ("GET", "/", None),
    "oauth_start": ("POST", "/", {"mailbox": "tenant", "return_to": "http://localhost:3000/x"}),
    "oauth_callback": ("GET", "/?state=not-a-state&code=x", None),
    "test_connection": ("POST", "/", {"mailbox": "tenant"}),
    "activity": ("GET", "/notifications", None),
    # An invoice sent now, through the platform's relay.
    "send": ("POST", "/", {"to": ["pat@example.com"], "subject": "Invoice", "text": "Attached."}),
    "reminders": ("POST", "/", None),  # Cloud Scheduler's call
}
TENANT = "bench-tenant"
STRICT = {
    "send",
    "deliver",
    "reminders",
    "settings",
    "activity",
    "provider_events",
}  # these must succeed


def task_token() -> str:
    """An OIDC token as Cloud Tasks sends `deliver`: a task aimed at a catcher here, whose
    Authorization header is kept."""
    import http.server
    import threading

    from google.cloud import tasks_v2
    from sendvia.adapters.google_clients import cloud_tasks_client

    caught: list[str] = []

    class Catcher(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            caught.append(self.headers.get("Authorization", "").removeprefix("Bearer "))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Catcher)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = cloud_tasks_client()
    parent = f"projects/{os.environ['GOOGLE_CLOUD_PROJECT']}/locations/us-central1"
    queue = f"{parent}/queues/bench-token-{uuid.uuid4().hex[:6]}"
    client.create_queue(parent=parent, queue={"name": queue})
    client.create_task(
        parent=queue,
        task=tasks_v2.Task(
            http_request=tasks_v2.HttpRequest(
                url=f"http://127.0.0.1:{server.server_address[1]}/",
                http_method=tasks_v2.HttpMethod.POST,
                oidc_token=tasks_v2.OidcToken(
                    service_account_email=os.environ["SENDVIA_TASKS_SERVICE_ACCOUNT"],
                    audience=os.environ["SENDVIA_DELIVER_URL"],
                ),
            )
        ),
    )
    deadline = time.monotonic() + 10
    while not caught and time.monotonic() < deadline:
        time.sleep(0.05)
    server.shutdown()
    client.delete_queue(name=queue)
    if not caught:
        raise SystemExit("no task reached the catcher within 10 s")
    return caught[0]


def signed_bounce() -> tuple[str, str, object, str, dict[str, str]]:
    """A SendGrid bounce as the Event Webhook posts it, signed by the stack's event signer."""
    import json

    events = [
        {
            "email": "pat@example.com",
            "timestamp": int(time.time()),
            "event": "bounce",
            "type": "bounce",
            "sg_event_id": uuid.uuid4().hex,
            "smtp-id": f"<{uuid.uuid4().hex}@platform.test>",
        }
    ]
    signed = requests.post(
        f"{os.environ['EVENT_SIGNER_URL']}/sendgrid/sign", data=json.dumps(events), timeout=10
    ).json()["headers"]
    return ("POST", "/sendgrid", events, "", signed)


def queued_delivery() -> dict[str, Any]:
    """A triggered email waiting for `deliver`, as `send` (mode queue) leaves it, and the body
    of its task: with the delivery as created, sealed (decision 0009), as `send` writes it."""
    from google.cloud import firestore
    from sendvia.adapters.google_clients import secret_manager_client
    from sendvia.domain import ticket
    from sendvia.domain.send_request import SendRequest

    content = SendRequest.model_validate(
        {"to": ["pat@example.com"], "subject": "Reminder", "text": "Tomorrow at 10:00."}
    ).model_dump(mode="json")
    delivery_id = uuid.uuid4().hex
    doc = {
        "kind": "triggered",
        "state": "queued",
        "attempts": 0,
        "content": content,
        "to": content["to"],
        "subject": content["subject"],
        "sender": {"uid": "bench-admin", "email": "", "name": "", "role": "admin"},
    }
    written = (
        firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
        .document(f"tenants/{TENANT}/deliveries/{delivery_id}")
        .create(doc)
    )
    key = secret_manager_client().access_secret_version(name=os.environ["SENDVIA_TASKS_TICKET_KEY"])
    version = written.update_time.timestamp_pb().ToJsonString()
    sealed = ticket.seal(key.payload.data, TENANT, delivery_id, version, doc)
    return {"tenant_id": TENANT, "delivery_id": delivery_id, "as_created": sealed}


SETTLE_S = 0.3  # the stack finishes what the last process asked of it before the next starts


def timed(code: str, env: dict[str, str]) -> float:
    time.sleep(SETTLE_S)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--runs", type=int, default=9)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'shared'}"}
    token = devtools.id_token(tenant=TENANT, uid="bench-admin", role="admin")
    oidc = task_token()
    requests.patch(
        f"{os.environ['SENDVIA_FUNCTIONS_URL']}/settings",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
        json={"integrations": {"gmail": True}, "return_origins": ["http://localhost:3000"]},
    ).raise_for_status()
    functions = entry_points(DEFAULT_SOURCE)
    subprocess.run(  # the bytecode the archive carries, for this interpreter
        [
            *(sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "checked-hash"),
            *(str(ROOT / "shared" / "sendvia"), str(ROOT / "functions")),
        ],
        check=True,
    )

    timed(FLOOR, env)  # warm the OS file cache once, for every process alike
    # A floor beside every subject's run, not one a round: seven floors made the floor's median,
    # and with it every ratio of a run, move by up to 0.1 from one run to the next. Each process
    # starts on a settled stack, so neither kind inherits the work the one before left behind.
    floors: list[float] = []
    subjects: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(args.runs):
        for name in functions:
            floors.append(timed(FLOOR, env))
            if name == "deliver":
                first = ("POST", "/", queued_delivery(), oidc, {})
            elif name == "provider_events":
                first = signed_bounce()
            else:
                first = (*FIRST_REQUESTS.get(name, ("GET", "/", None)), token, {})
            code = SUBJECT.format(
                target=name, source=str(DEFAULT_SOURCE), first=first, strict=name in STRICT
            )
            subjects[name].append(timed(code, env))

    floor = statistics.median(floors)
    print(f"cold start, median of {args.runs} fresh processes each, a floor timed beside each")
    print(f"  {'floor (functions-framework + firestore)':<42} {floor * 1000:7.0f} ms   1.00x")
    for name, runs in subjects.items():
        median = statistics.median(runs)
        print(
            f"  {name + ' (import + first request)':<42} {median * 1000:7.0f} ms   "
            f"{median / floor:4.2f}x"
        )


if __name__ == "__main__":
    main()
