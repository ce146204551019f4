"""What the local stack runs: each service's command, ports, readiness probe and environment.

Standard library only, so `make down` works even before the virtual environment exists.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "demo-sendvia"  # the demo- prefix keeps firebase-tools offline
FIRESTORE_JAR = Path(
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
)
FIREBASE_BIN = ROOT / "emulators" / "node_modules" / ".bin" / "firebase"

# Default ports of `make up`; `make test` adds PROFILE_OFFSETS["test"] so both can run at once.
DEFAULT_PORTS = {
    "functions": 8000,
    "firestore": 8080,
    "auth": 9099,
    "auth_hub": 4400,
    "auth_logging": 4500,
    "secretmanager": 8090,
    "cloudtasks": 8123,
    "cloudtasks_http": 8124,
    "fake_google": 8200,
    "imap": 8143,
    "imaps": 8993,
    "submission": 8587,
    "submissions": 8465,
    "lmtp": 8024,
    "mail_sink": 8025,
    "mail_sink_http": 8026,
    "relay": 8030,
    "relay_http": 8031,
    "event_signer": 8300,
    "fake_microsoft": 8400,
    "dns": 8053,
    "web": 5173,
}
# "scratch" is for the stack's own tests, which start and stop a stack beside the test one.
PROFILE_OFFSETS = {"dev": 0, "test": 10000, "scratch": 20000}


GOOGLE_CLIENT_ID = "sendvia-local.apps.googleusercontent.com"
GOOGLE_CLIENT_SECRET_ID = "sendvia-google-oauth-client"  # noqa: S105 - a secret's name
GOOGLE_CLIENT_SECRET_VERSION = (
    f"projects/{PROJECT}/secrets/{GOOGLE_CLIENT_SECRET_ID}/versions/latest"
)


MICROSOFT_CLIENT_ID = "6f1f5c1e-5e1d-4c1b-9a0e-5e7d1a2b3c4d"  # an app registration's id
MICROSOFT_CLIENT_SECRET_ID = "sendvia-microsoft-oauth-client"  # noqa: S105 - a secret's name
MICROSOFT_CLIENT_SECRET_VERSION = (
    f"projects/{PROJECT}/secrets/{MICROSOFT_CLIENT_SECRET_ID}/versions/latest"
)


RELAY_USER = "apikey"
RELAY_SECRET_ID = "sendvia-default-relay"  # noqa: S105 - a secret's name
RELAY_SECRET_VERSION = f"projects/{PROJECT}/secrets/{RELAY_SECRET_ID}/versions/latest"
# The key sealing a delivery into its task (services/tickets.py): a new one at every `up`.
TICKET_KEY_SECRET_ID = "sendvia-task-ticket-key"  # noqa: S105 - a secret's name
TICKET_KEY_VERSION = f"projects/{PROJECT}/secrets/{TICKET_KEY_SECRET_ID}/versions/latest"


class StackError(Exception):
    """A problem the person running the stack can fix; the message says how."""


def ports_for(profile: str, environ: dict[str, str] | None = None) -> dict[str, int]:
    """Ports of a profile; `SENDVIA_PORT_<NAME>` (dev) or `SENDVIA_TEST_PORT_<NAME>` overrides."""
    env = os.environ if environ is None else environ
    prefix = "SENDVIA_PORT_" if profile == "dev" else f"SENDVIA_{profile.upper()}_PORT_"
    ports = {}
    for name, port in DEFAULT_PORTS.items():
        raw = env.get(prefix + name.upper())
        if raw is None:
            ports[name] = port + PROFILE_OFFSETS[profile]
            continue
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise StackError(f"{prefix}{name.upper()}={raw!r} is not a port number (1-65535)")
        ports[name] = int(raw)
    return ports


@dataclass(frozen=True)
class Service:
    name: str
    description: str
    command: list[str]
    ready: Callable[[], bool]
    ports: tuple[str, ...]
    timeout_s: float = 60.0
    cwd: Path = ROOT


def _http_ok(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    return probe


def _tcp_open(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    return probe


def _dns_answers(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        import dns.exception
        import dns.message
        import dns.query

        try:
            dns.query.udp(dns.message.make_query("clinic.test", "MX"), "127.0.0.1", 1, port)
        except (dns.exception.DNSException, OSError):
            return False
        return True

    return probe


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def check_prerequisites() -> None:
    """Fail early, saying what is missing and how to get it."""
    jar = Path(os.environ.get("FIRESTORE_EMULATOR_JAR", FIRESTORE_JAR))
    if not jar.is_file():
        raise StackError(
            f"The Firestore emulator is missing: {jar} does not exist.\n"
            "  It comes with the Google Cloud CLI: `gcloud components install "
            "cloud-firestore-emulator`,\n  or the Debian package "
            "google-cloud-cli-firestore-emulator from Google's apt repository.\n"
            "  If it is installed elsewhere, set FIRESTORE_EMULATOR_JAR to its path."
        )
    if shutil.which("java") is None:
        raise StackError(
            "Java is missing: the Firestore emulator needs it "
            "(apt-get install openjdk-17-jre-headless)."
        )
    if shutil.which("dovecot") is None:
        raise StackError(
            "Dovecot is missing: run `make setup` "
            "(apt-get install dovecot-imapd dovecot-submissiond)."
        )
    if not FIREBASE_BIN.exists():
        raise StackError(f"firebase-tools is missing ({FIREBASE_BIN}): run `make setup`.")


def environment(ports: dict[str, int]) -> dict[str, str]:
    """The variables a client needs to reach this stack (written to `.stack/env`)."""
    host = "127.0.0.1"
    return {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "FIRESTORE_EMULATOR_HOST": f"{host}:{ports['firestore']}",
        "FIREBASE_AUTH_EMULATOR_HOST": f"{host}:{ports['auth']}",
        "SECRET_MANAGER_EMULATOR_HOST": f"{host}:{ports['secretmanager']}",
        "CLOUD_TASKS_EMULATOR_HOST": f"{host}:{ports['cloudtasks']}",
        "CLOUD_TASKS_OIDC_CERTS_URL": f"http://{host}:{ports['cloudtasks_http']}/jwks",
        "SENDVIA_FUNCTIONS_URL": f"http://{host}:{ports['functions']}",
        "FAKE_GOOGLE_URL": f"http://{host}:{ports['fake_google']}",
        # sendvia's own settings, for a local run; values already in the environment win.
        "SENDVIA_PLATFORM_DOMAIN": os.environ.get("SENDVIA_PLATFORM_DOMAIN", "platform.test"),
        # The reference settings app (web/), served by the stack; the functions answer its origin.
        "SENDVIA_WEB_URL": f"http://{host}:{ports['web']}",
        "SENDVIA_CORS_ORIGINS": ",".join(
            dict.fromkeys(
                [
                    *os.environ.get(
                        "SENDVIA_CORS_ORIGINS", "http://localhost:3000,http://localhost:5173"
                    ).split(","),
                    f"http://{host}:{ports['web']}",
                ]
            )
        ),
        # "Sign in with Google" against the fake: same code path, other endpoints.
        "SENDVIA_GOOGLE_BASE_URL": f"http://{host}:{ports['fake_google']}",
        "SENDVIA_GOOGLE_CLIENT_ID": GOOGLE_CLIENT_ID,
        "SENDVIA_GOOGLE_CLIENT_SECRET": GOOGLE_CLIENT_SECRET_VERSION,
        "SENDVIA_OAUTH_CALLBACK_URL": f"http://{host}:{ports['functions']}/oauth_callback",
        # "Sign in with Microsoft" and Graph against the fake: one base URL for both.
        "FAKE_MICROSOFT_URL": f"http://{host}:{ports['fake_microsoft']}",
        "SENDVIA_MICROSOFT_BASE_URL": f"http://{host}:{ports['fake_microsoft']}",
        "SENDVIA_MICROSOFT_CLIENT_ID": MICROSOFT_CLIENT_ID,
        "SENDVIA_MICROSOFT_CLIENT_SECRET": MICROSOFT_CLIENT_SECRET_VERSION,
        # `discover` asks the stack's DNS server, which knows only its test zones.
        "SENDVIA_DNS_RESOLVER": f"{host}:{ports['dns']}",
        # The fake speaks plain http on loopback; oauthlib refuses that unless told.
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
        # Mail servers: Dovecot (IMAP, submission) relaying to the sink; TLS from the local CA.
        "MAIL_HOST": host,
        "MAIL_IMAP_PORT": str(ports["imap"]),
        "MAIL_IMAPS_PORT": str(ports["imaps"]),
        "MAIL_SUBMISSION_PORT": str(ports["submission"]),
        "MAIL_SUBMISSIONS_PORT": str(ports["submissions"]),
        "MAIL_LMTP_PORT": str(ports["lmtp"]),
        "MAIL_SINK_URL": f"http://{host}:{ports['mail_sink_http']}",
        # The stack's mail servers live on loopback, which production refuses (SSRF guard).
        "SENDVIA_MAIL_HOSTS_ALLOW": "loopback",
        # The default sender: the platform's relay (an ESP's SMTP endpoint in production).
        "SENDVIA_RELAY_HOST": host,
        "SENDVIA_RELAY_PORT": str(ports["relay"]),
        "SENDVIA_RELAY_SECURITY": "starttls",
        "SENDVIA_RELAY_USERNAME": RELAY_USER,
        "SENDVIA_RELAY_EVENT_ARGS": "sendgrid",  # the local relay stands in for SendGrid
        "SENDVIA_RELAY_PASSWORD": RELAY_SECRET_VERSION,
        "DEFAULT_RELAY_URL": f"http://{host}:{ports['relay_http']}",
        # Triggered emails: Cloud Tasks (the emulator) calls `deliver` with an OIDC token.
        "SENDVIA_DELIVER_URL": f"http://{host}:{ports['functions']}/deliver",
        "SENDVIA_TASKS_SERVICE_ACCOUNT": f"sendvia-tasks@{PROJECT}.iam.gserviceaccount.com",
        "SENDVIA_TASKS_CERTS_URL": f"http://{host}:{ports['cloudtasks_http']}/jwks",
        "SENDVIA_TASKS_TICKET_KEY": TICKET_KEY_VERSION,
        # No Cloud Scheduler here: a developer runs a reminder batch with curl. The check of its
        # token is off, explicitly (production refuses this setting).
        "SENDVIA_SCHEDULER_AUTH": "off",
        # Receiving: `sync` fans out over the receiving mailboxes (curl stands in for Cloud
        # Scheduler) and its tasks sync one mailbox each, within a short budget locally.
        "SENDVIA_SYNC_URL": f"http://{host}:{ports['functions']}/sync",
        "SENDVIA_SYNC_BUDGET_S": "20",
        # Contacts a test adds are backfilled at its next sync, not a minute later.
        "SENDVIA_SYNC_SETTLE_S": "0",
        # Short backoffs keep a local retry visible in seconds; production keeps 10 s … 10 min.
        "SENDVIA_TASKS_MIN_BACKOFF_S": "0.5",
        "SENDVIA_TASKS_MAX_BACKOFF_S": "2",
        # How long a server may take to answer the message data before the outcome is unknown:
        # short, so a local server holding its reply shows the unknown outcome in seconds.
        "SENDVIA_MAIL_REPLY_LIMIT_S": "4",
        "SENDVIA_VERIFY_AFTER_S": "3",
        # Firestore writes per document per second, for bench/hot_documents.py (`/_dev/meter`).
        "SENDVIA_METER_WRITE_PATHS": "1",
    }


def write_firebase_config(state_dir: Path, ports: dict[str, int]) -> Path:
    config = {
        "emulators": {
            "auth": {"host": "127.0.0.1", "port": ports["auth"]},
            "hub": {"host": "127.0.0.1", "port": ports["auth_hub"]},
            "logging": {"host": "127.0.0.1", "port": ports["auth_logging"]},
            "ui": {"enabled": False},
            "singleProjectMode": True,
        }
    }
    path = state_dir / "firebase.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def mail_environment(state_dir: Path) -> dict[str, str]:
    """The local CA and the demo user (made on the first `up`, kept afterwards)."""
    from emulators.mail import dovecot, tls

    certs = tls.ensure(state_dir / "tls")
    folder = state_dir / "dovecot"
    folder.mkdir(parents=True, exist_ok=True)
    users = dovecot.users_file(folder)
    known = users.read_text() if users.exists() else ""
    password = next(
        (
            line.split("{PLAIN}", 1)[1].split(":", 1)[0]
            for line in known.splitlines()
            if line.startswith(f"{dovecot.DEMO_USER}:")
        ),
        None,
    )
    if password is None:
        password = dovecot.add_user(folder, dovecot.DEMO_USER)
    return {
        "SENDVIA_TLS_CA_FILE": str(certs.ca),
        "MAIL_DEMO_USER": dovecot.DEMO_USER,
        "MAIL_DEMO_PASSWORD": password,
        "MAIL_DOVECOT_DIR": str(folder),
    }


def empty_mailboxes(state_dir: Path) -> None:
    """Every mailbox of the stack emptied, its users and passwords kept: the test profile
    starts each run with none of the mail earlier runs left, as its emulators start with none
    of their data. (Left to grow, the demo user's Sent folder held 21,000 copies after a few
    weeks of `make bench`, and every copy made Dovecot — on the same two cores as everything
    measured — list them all again: bench/pipeline.py's SMTP figure depended on how often
    the machine had run it before.)"""
    shutil.rmtree(state_dir / "dovecot" / "mail", ignore_errors=True)


def event_environment(state_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """The email services' signing keys (made on the first `up`) and what sendvia trusts."""
    from emulators import event_signer

    keys = event_signer.ensure(state_dir / "event-signer")
    signer = f"http://127.0.0.1:{ports['event_signer']}"
    return {
        "EVENT_SIGNER_URL": signer,
        "SENDVIA_SENDGRID_PUBLIC_KEY": keys.sendgrid_public_key,
        "SENDVIA_SNS_CERT_URL_PREFIXES": f"{signer}/",
        "SENDVIA_SES_TOPIC_ARNS": event_signer.TOPIC_ARN,
    }


def emulator_services(state_dir: Path, ports: dict[str, int]) -> list[Service]:
    """The emulators and mail servers, started together before the functions."""
    from emulators.mail import dovecot, tls

    dovecot_config = dovecot.write_config(
        state_dir / "dovecot", tls.ensure(state_dir / "tls"), ports
    )
    python = sys.executable
    jar = os.environ.get("FIRESTORE_EMULATOR_JAR", str(FIRESTORE_JAR))
    firebase_config = write_firebase_config(state_dir, ports)
    return [
        Service(
            "firestore",
            "Firestore emulator (official)",
            [
                "java",
                "-Duser.language=en",
                "-cp",
                jar,
                "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                "start",
                "--host=127.0.0.1",
                f"--port={ports['firestore']}",
            ],
            _http_ok(f"http://127.0.0.1:{ports['firestore']}/"),
            ("firestore",),
        ),
        Service(
            "auth",
            "Firebase Auth emulator (firebase-tools)",
            [
                str(FIREBASE_BIN),
                "emulators:start",
                "--only",
                "auth",
                "--project",
                PROJECT,
                "--config",
                str(firebase_config),
            ],
            _http_ok(f"http://127.0.0.1:{ports['auth']}/"),
            ("auth", "auth_hub", "auth_logging"),
            timeout_s=90.0,
            cwd=state_dir,
        ),
        Service(
            "secretmanager",
            "Secret Manager emulator (sendvia, gRPC)",
            [python, "-m", "emulators.secretmanager", "--port", str(ports["secretmanager"])],
            _tcp_open(ports["secretmanager"]),
            ("secretmanager",),
        ),
        Service(
            "mail_sink",
            "mail sink (aiosmtpd): what the mail servers send out",
            [
                python,
                "-m",
                "emulators.mail.sink",
                "--smtp-port",
                str(ports["mail_sink"]),
                "--http-port",
                str(ports["mail_sink_http"]),
                "--bounce-lmtp-port",
                str(ports["lmtp"]),
            ],
            _http_ok(f"http://127.0.0.1:{ports['mail_sink_http']}/healthz"),
            ("mail_sink", "mail_sink_http"),
        ),
        Service(
            "relay",
            "default relay (aiosmtpd with STARTTLS and AUTH): the platform's own sender",
            [
                python,
                "-m",
                "emulators.mail.sink",
                "--smtp-port",
                str(ports["relay"]),
                "--http-port",
                str(ports["relay_http"]),
                "--auth-user",
                RELAY_USER,
                "--auth-password-file",
                str(relay_password_file(state_dir)),
                "--tls-cert",
                str(tls.ensure(state_dir / "tls").cert),
                "--tls-key",
                str(tls.ensure(state_dir / "tls").key),
            ],
            _http_ok(f"http://127.0.0.1:{ports['relay_http']}/healthz"),
            ("relay", "relay_http"),
        ),
        Service(
            "dovecot",
            "Dovecot (IMAP + submission, app passwords)",
            ["dovecot", "-F", "-c", str(dovecot_config)],
            _tcp_open(ports["submission"]),
            ("imap", "imaps", "submission", "submissions", "lmtp"),
        ),
        Service(
            "fake_google",
            "fake Google (sendvia: OAuth consent, token, userinfo, Gmail)",
            [
                python,
                "-m",
                "emulators.fake_google.server",
                "--port",
                str(ports["fake_google"]),
                "--client-id",
                GOOGLE_CLIENT_ID,
                "--client-secret-file",
                str(client_secret_file(state_dir)),
            ],
            _http_ok(f"http://127.0.0.1:{ports['fake_google']}/_fake/accounts"),
            ("fake_google",),
        ),
        Service(
            "dns",
            "DNS (MX records of test zones, for discover)",
            [python, "-m", "emulators.dns_server", "--port", str(ports["dns"])],
            _dns_answers(ports["dns"]),
            ("dns",),
        ),
        Service(
            "fake_microsoft",
            "fake Microsoft (sendvia: identity platform v2.0, Graph mail)",
            [
                python,
                "-m",
                "emulators.fake_microsoft.server",
                "--port",
                str(ports["fake_microsoft"]),
                "--client-id",
                MICROSOFT_CLIENT_ID,
                "--client-secret-file",
                str(microsoft_secret_file(state_dir)),
                "--redirect-uri",
                f"http://127.0.0.1:{ports['functions']}/oauth_callback",
            ],
            _http_ok(f"http://127.0.0.1:{ports['fake_microsoft']}/_fake/accounts"),
            ("fake_microsoft",),
        ),
        Service(
            "event_signer",
            "email-service event signer (SendGrid ECDSA, SNS)",
            [
                python,
                "-m",
                "emulators.event_signer",
                "--port",
                str(ports["event_signer"]),
                "--folder",
                str(state_dir / "event-signer"),
            ],
            _http_ok(f"http://127.0.0.1:{ports['event_signer']}/healthz"),
            ("event_signer",),
        ),
        Service(
            "web",
            "reference settings app (web/dist) and its config.json",
            [
                python,
                "-m",
                "emulators.web_server",
                "--port",
                str(ports["web"]),
                "--functions-url",
                f"http://127.0.0.1:{ports['functions']}",
                "--auth-emulator-url",
                f"http://127.0.0.1:{ports['auth']}",
                "--project",
                PROJECT,
            ],
            _http_ok(f"http://127.0.0.1:{ports['web']}/healthz"),
            ("web",),
        ),
        Service(
            "cloudtasks",
            "Cloud Tasks emulator (sendvia, gRPC + JWKS)",
            [
                python,
                "-m",
                "emulators.cloudtasks.server",
                "--port",
                str(ports["cloudtasks"]),
                "--http-port",
                str(ports["cloudtasks_http"]),
            ],
            _http_ok(f"http://127.0.0.1:{ports['cloudtasks_http']}/healthz"),
            ("cloudtasks", "cloudtasks_http"),
        ),
    ]


def microsoft_secret_file(state_dir: Path) -> Path:
    """The fake Microsoft app's client secret, made once per stack, readable by its owner only."""
    path = state_dir / "microsoft-client-secret"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text("msft~" + secrets.token_urlsafe(30))
    return path


def client_secret_file(state_dir: Path) -> Path:
    """The fake Google's OAuth client secret, made once per stack, readable by its owner only."""
    path = state_dir / "google-client-secret"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text("GOCSPX-" + secrets.token_urlsafe(24))
    return path


def relay_password_file(state_dir: Path) -> Path:
    path = state_dir / "relay-password"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text("SG." + secrets.token_urlsafe(32))
    return path


def seed(state_dir: Path, env: dict[str, str]) -> None:
    """Put the deployment's secrets where production keeps them: Secret Manager."""
    os.environ.update({k: v for k, v in env.items() if k.endswith("_EMULATOR_HOST")})
    from google.api_core import exceptions
    from google.cloud import secretmanager_v1

    from emulators import google_seed

    google_seed.store_secret(
        GOOGLE_CLIENT_SECRET_ID,
        client_secret_file(state_dir).read_bytes(),
        project=PROJECT,
        errors=exceptions,
        sm=secretmanager_v1,
    )
    google_seed.store_secret(
        MICROSOFT_CLIENT_SECRET_ID,
        microsoft_secret_file(state_dir).read_bytes(),
        project=PROJECT,
        errors=exceptions,
        sm=secretmanager_v1,
    )
    google_seed.store_secret(
        RELAY_SECRET_ID,
        relay_password_file(state_dir).read_bytes(),
        project=PROJECT,
        errors=exceptions,
        sm=secretmanager_v1,
    )
    google_seed.store_secret(
        TICKET_KEY_SECRET_ID,
        secrets.token_bytes(32),
        project=PROJECT,
        errors=exceptions,
        sm=secretmanager_v1,
    )


def seed_demo(env: dict[str, str]) -> list[tuple[str, str, str]]:
    """The demo practice's users (role, email, password), once the functions answer."""
    keys = ("FIREBASE_AUTH_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "SENDVIA_FUNCTIONS_URL")
    os.environ.update({k: env[k] for k in keys})
    from sendvia import devtools

    return devtools.seed_demo(env["SENDVIA_WEB_URL"])


def create_queue(env: dict[str, str]) -> None:
    """Create the deliveries queue and receiving's, as Terraform does in production (the
    functions only enqueue), with the numbers of sendvia/queue.json and the stack's short
    backoffs."""
    os.environ.update({k: v for k, v in env.items() if k.endswith("_EMULATOR_HOST")})
    from google.api_core import exceptions
    from sendvia.adapters.cloud_tasks import queue_spec
    from sendvia.adapters.google_clients import cloud_tasks_client
    from sendvia.config import QUEUE, load

    tasks = load(env).tasks
    if tasks is None:
        return
    parent = f"projects/{PROJECT}/locations/{tasks.location}"
    from google.cloud import tasks_v2

    numbers = {k: v for k, v in QUEUE["sync"].items() if k != "name"}
    sync = dataclasses.replace(
        tasks,
        queue=QUEUE["sync"]["name"],
        **{**numbers, "min_backoff_s": tasks.min_backoff_s, "max_backoff_s": tasks.max_backoff_s},
    )
    client = cloud_tasks_client()
    for settings in (tasks, sync):
        spec = tasks_v2.Queue(queue_spec(settings, f"{parent}/queues/{settings.queue}"))
        try:
            client.create_queue(parent=parent, queue=spec)
        except exceptions.AlreadyExists:
            from google.protobuf import field_mask_pb2

            paths = ["retry_config", "rate_limits"]
            client.update_queue(queue=spec, update_mask=field_mask_pb2.FieldMask(paths=paths))


def functions_service(ports: dict[str, int]) -> Service:
    return Service(
        "functions",
        "sendvia functions (functions-framework)",
        [sys.executable, "-m", "emulators.functions_host", "--port", str(ports["functions"])],
        _http_ok(f"http://127.0.0.1:{ports['functions']}/_health"),
        ("functions",),
    )
