"""Settings of a sendvia deployment, read once from the environment and validated at cold start.

Production and local runs differ only in these values: the emulator hosts are set by the local
stack (`.stack/env`) and absent in production.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sendvia import config_guards, config_sign_ins
from sendvia.config_sign_ins import GoogleSettings, MicrosoftSettings
from sendvia.domain.network import is_origin
from sendvia.errors import ConfigError

_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
# The deliveries queue's numbers, shared with Terraform (infra/modules/sendvia/tasks.tf).
# Read beside this file, as the deployed source holds it (importlib.resources' machinery costs
# every cold start 3 ms: bench/cold_start.py).
QUEUE: dict[str, Any] = json.loads(Path(__file__).with_name("queue.json").read_text("utf-8"))
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class RelaySettings:
    """The default sender: the platform's relay (an ESP's SMTP endpoint)."""

    host: str
    port: int
    security: str  # "starttls" | "tls"
    username: str
    password_version: str  # Secret Manager version holding the password
    # How the email service is told which tenant and delivery an email is, so that its events
    # name them: "sendgrid" (X-SMTPAPI unique_args), "ses" (X-SES-MESSAGE-TAGS) or "" (only our
    # Message-ID, which SendGrid leaves out of spam reports).
    event_args: str = ""


@dataclass(frozen=True)
class TasksSettings:
    """Cloud Tasks for triggered emails: the queue, and the `deliver` function it calls."""

    deliver_url: str
    service_account: str  # the identity of the OIDC tokens, checked by `deliver`
    location: str = "us-central1"
    queue: str = QUEUE["name"]
    certs_url: str = "https://www.googleapis.com/oauth2/v3/certs"
    # The queue's retries and pace (sendvia/queue.json, which Terraform reads too): `deliver`
    # fails an email on the last attempt the queue allows. Cloud Tasks allows up to 500
    # dispatches/s per queue; `deliver` instances scale with the concurrent dispatches.
    max_attempts: int = QUEUE["max_attempts"]
    min_backoff_s: float = QUEUE["min_backoff_s"]
    max_backoff_s: float = QUEUE["max_backoff_s"]
    max_doublings: int = QUEUE["max_doublings"]
    max_retry_duration_s: float = QUEUE["max_retry_duration_s"]
    max_dispatches_per_s: float = QUEUE["max_dispatches_per_s"]
    max_concurrent: float = QUEUE["max_concurrent"]
    # The Secret Manager version of the key sealing a delivery into its task, so that `deliver`
    # need not read it back (domain/ticket.py); None: tasks carry the ids only.
    ticket_key: str | None = None


@dataclass(frozen=True)
class SyncSettings:
    """Receiving: the `sync` function's URL (its tasks' target and audience, on the deliveries'
    queue), how often Cloud Scheduler calls it, and how long one mailbox's sync may run."""

    url: str
    interval_s: float = 600.0
    budget_s: float = 120.0
    queue: str = QUEUE["sync"]["name"]  # sync's own queue (sendvia/queue.json)
    # How long an address that joined the contacts' index waits before a backfill walks it:
    # the request adding it may still be committing others with earlier marks.
    settle_s: float = 60.0


@dataclass(frozen=True)
class EventSettings:
    """Who may post the default sender's events to `provider_events`."""

    sendgrid_public_key: str | None  # base64 DER (SendGrid's mail settings); None: refuse all
    ses_topic_arns: tuple[str, ...]  # SNS topics whose SES notifications are accepted
    sns_cert_url_prefixes: tuple[str, ...] = ()  # besides Amazon's own (the local signer)


@dataclass(frozen=True)
class Settings:
    project: str
    platform_domain: str
    default_product_name: str
    cors_origins: tuple[str, ...]
    firestore_emulator_host: str | None
    auth_emulator_host: str | None
    secret_manager_emulator_host: str | None
    cloud_tasks_emulator_host: str | None
    google: GoogleSettings | None = None  # None: Gmail connections are not configured
    microsoft: MicrosoftSettings | None = None  # None: Microsoft connections are not configured
    tls_ca_file: str | None = None  # extra CA trusted for tenants' mail servers (local stack)
    mail_allow_loopback: bool = False  # the local stack's mail servers live on loopback
    relay: RelaySettings | None = None  # None: no default sender configured
    tasks: TasksSettings | None = None  # None: triggered (queued) emails are not configured
    # How long an instance may reuse a tenant's settings and mailbox documents when delivering
    # queued emails (0: read them for every email).
    route_cache_s: float = 30.0
    # How long a mail server may take to answer the message data before the outcome is unknown.
    mail_reply_limit_s: float = 30.0
    # How long an attempt holds a delivery, and how long a queued delivery may wait for its
    # first attempt before `reminders` gives it a task (domain/delivery, services/reminders).
    lease_s: float = 300.0
    recover_after_s: float = 600.0
    # How long after an unknown outcome a searchable mailbox is searched for the message.
    verify_after_s: float = 120.0
    # The DNS server `discover` asks for MX records ("host:port"); None: the system's.
    dns_resolver: str | None = None
    events: EventSettings = EventSettings(None, ())
    # `reminders` requires Cloud Scheduler's OIDC token from this service account, for this
    # audience (the function's URL, as Terraform sets it), unless the check is off: only a local
    # stack may turn it off, explicitly (SENDVIA_SCHEDULER_AUTH=off).
    scheduler_service_account: str | None = None
    reminders_url: str | None = None
    scheduler_auth_off: bool = False
    # Count Firestore writes per document path, per second (metering.WRITE_PATHS), for the
    # hot-document benchmark (bench/hot_documents.py). Off in production: nothing is kept.
    meter_write_paths: bool = False
    sync: SyncSettings | None = None  # None: receiving mailboxes are not synced

    @property
    def default_sender_address(self) -> str:
        return f"noreply@{self.platform_domain}"


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; every problem is named with its variable."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    project = env.get("GOOGLE_CLOUD_PROJECT", "").strip()
    if not project:
        problems.append("GOOGLE_CLOUD_PROJECT is not set: the Google Cloud project id.")
    elif not _PROJECT.match(project):
        problems.append(f"GOOGLE_CLOUD_PROJECT={project!r} is not a valid project id.")

    domain = env.get("SENDVIA_PLATFORM_DOMAIN", "").strip().lower()
    if not domain:
        problems.append(
            "SENDVIA_PLATFORM_DOMAIN is not set: the domain of the platform's own sender "
            "(emails without a mailbox come from noreply@ that domain)."
        )
    elif not _DOMAIN.match(domain):
        problems.append(f"SENDVIA_PLATFORM_DOMAIN={domain!r} is not a domain name.")

    origins = tuple(o.strip().rstrip("/") for o in env.get("SENDVIA_CORS_ORIGINS", "").split(","))
    origins = tuple(o for o in origins if o)
    for origin in origins:
        if not is_origin(origin):
            problems.append(
                f"SENDVIA_CORS_ORIGINS contains {origin!r}, which is not an origin "
                "(scheme://host[:port], e.g. https://app.example.com)."
            )

    hosts: dict[str, str | None] = {}
    for name in (
        "FIRESTORE_EMULATOR_HOST",
        "FIREBASE_AUTH_EMULATOR_HOST",
        "SECRET_MANAGER_EMULATOR_HOST",
        "CLOUD_TASKS_EMULATOR_HOST",
    ):
        value = env.get(name, "").strip() or None
        if value is not None and not _HOST_PORT.match(value):
            problems.append(f"{name}={value!r} must be HOST:PORT, e.g. 127.0.0.1:8080.")
        hosts[name] = value

    google = config_sign_ins.google_settings(env, problems)
    microsoft = config_sign_ins.microsoft_settings(env, problems)
    relay = _relay_settings(env, problems)
    tasks = _tasks_settings(env, problems)
    ca_file = env.get("SENDVIA_TLS_CA_FILE", "").strip() or None
    if ca_file and not os.path.isfile(ca_file):
        problems.append(f"SENDVIA_TLS_CA_FILE={ca_file!r} is not a readable file.")
    allow = env.get("SENDVIA_MAIL_HOSTS_ALLOW", "").strip()
    if allow not in ("", "loopback"):
        problems.append(
            f"SENDVIA_MAIL_HOSTS_ALLOW={allow!r}: only 'loopback' (local stacks) may be allowed."
        )
    route_cache_s = _number(env, "SENDVIA_ROUTE_CACHE_SECONDS", 30.0, 0.0, 300.0, problems)
    reply_limit_s = _number(env, "SENDVIA_MAIL_REPLY_LIMIT_S", 30.0, 1.0, 600.0, problems)
    lease_s = _number(env, "SENDVIA_LEASE_S", 300.0, 10.0, 3600.0, problems)
    recover_after_s = _number(env, "SENDVIA_RECOVER_AFTER_S", 600.0, 10.0, 86400.0, problems)
    verify_after_s = _number(env, "SENDVIA_VERIFY_AFTER_S", 120.0, 1.0, 3600.0, problems)
    scheduler, reminders_url, scheduler_off = config_guards.scheduler(
        env, has_queue=tasks is not None, problems=problems
    )
    config_guards.production_guard(env, problems)
    sync = config_guards.sync(env, has_queue=tasks is not None, problems=problems)
    events = EventSettings(
        sendgrid_public_key=env.get("SENDVIA_SENDGRID_PUBLIC_KEY", "").strip() or None,
        ses_topic_arns=_list(env, "SENDVIA_SES_TOPIC_ARNS"),
        sns_cert_url_prefixes=_list(env, "SENDVIA_SNS_CERT_URL_PREFIXES"),
    )
    if problems:
        raise ConfigError("sendvia cannot start:\n  - " + "\n  - ".join(problems))
    return Settings(
        tasks=tasks,
        relay=relay,
        google=google,
        microsoft=microsoft,
        tls_ca_file=ca_file,
        mail_allow_loopback=allow == "loopback",
        route_cache_s=route_cache_s,
        mail_reply_limit_s=reply_limit_s,
        lease_s=lease_s,
        recover_after_s=recover_after_s,
        verify_after_s=verify_after_s,
        dns_resolver=_dns_resolver(env, problems),
        events=events,
        scheduler_service_account=scheduler,
        reminders_url=reminders_url,
        scheduler_auth_off=scheduler_off,
        meter_write_paths=env.get("SENDVIA_METER_WRITE_PATHS", "") == "1",
        sync=(
            SyncSettings(sync[0], sync[1], sync[2], settle_s=sync[3], **_sync_queue(env))
            if sync
            else None
        ),
        project=project,
        platform_domain=domain,
        default_product_name=env.get("SENDVIA_PRODUCT_NAME", "").strip() or "sendvia",
        cors_origins=origins,
        firestore_emulator_host=hosts["FIRESTORE_EMULATOR_HOST"],
        auth_emulator_host=hosts["FIREBASE_AUTH_EMULATOR_HOST"],
        secret_manager_emulator_host=hosts["SECRET_MANAGER_EMULATOR_HOST"],
        cloud_tasks_emulator_host=hosts["CLOUD_TASKS_EMULATOR_HOST"],
    )


def _sync_queue(env: Mapping[str, str]) -> dict[str, str]:
    name = env.get("SENDVIA_SYNC_QUEUE", "").strip()
    return {"queue": name} if name else {}


def _dns_resolver(env: Mapping[str, str], problems: list[str]) -> str | None:
    value = env.get("SENDVIA_DNS_RESOLVER", "").strip() or None
    if value is not None and not _HOST_PORT.match(value):
        problems.append(f"SENDVIA_DNS_RESOLVER={value!r} must be host:port (a DNS server).")
    return value


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in env.get(name, "").split(",") if v.strip())


def _number(  # noqa: PLR0917 - a range check reads best positionally
    env: Mapping[str, str],
    name: str,
    default: float,
    low: float,
    high: float,
    problems: list[str],
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        problems.append(f"{name}={raw!r} must be a number from {low:g} to {high:g}.")
        return default
    return value


_SECRET_VERSION = re.compile(r"^projects/[^/]+/secrets/[A-Za-z0-9_-]+/versions/(latest|\d+)$")


def _relay_settings(env: Mapping[str, str], problems: list[str]) -> RelaySettings | None:
    host = env.get("SENDVIA_RELAY_HOST", "").strip()
    if not host:
        return None
    port = env.get("SENDVIA_RELAY_PORT", "587").strip()
    security = env.get("SENDVIA_RELAY_SECURITY", "starttls").strip()
    username = env.get("SENDVIA_RELAY_USERNAME", "").strip()
    password = env.get("SENDVIA_RELAY_PASSWORD", "").strip()
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        problems.append(f"SENDVIA_RELAY_PORT={port!r} is not a port number.")
    if security not in ("starttls", "tls"):
        problems.append("SENDVIA_RELAY_SECURITY must be 'starttls' or 'tls'.")
    if not username:
        problems.append("SENDVIA_RELAY_USERNAME is not set: the relay's SMTP user name.")
    if not _SECRET_VERSION.match(password):
        problems.append(
            "SENDVIA_RELAY_PASSWORD must name the Secret Manager version holding the "
            "relay's password (projects/P/secrets/NAME/versions/latest)."
        )
    event_args = env.get("SENDVIA_RELAY_EVENT_ARGS", "").strip()
    if event_args not in ("", "sendgrid", "ses"):
        problems.append("SENDVIA_RELAY_EVENT_ARGS must be 'sendgrid', 'ses' or empty.")
    if problems:
        return None
    return RelaySettings(host, int(port), security, username, password, event_args)


def _tasks_settings(env: Mapping[str, str], problems: list[str]) -> TasksSettings | None:
    deliver_url = env.get("SENDVIA_DELIVER_URL", "").strip()
    if not deliver_url:
        return None
    account = env.get("SENDVIA_TASKS_SERVICE_ACCOUNT", "").strip()
    if not deliver_url.startswith(("https://", "http://")):
        problems.append("SENDVIA_DELIVER_URL must be the deliver function's URL.")
    if "@" not in account:
        problems.append(
            "SENDVIA_TASKS_SERVICE_ACCOUNT must be the service account Cloud Tasks "
            "signs its OIDC tokens as (the deliver function checks it)."
        )
    numbers: dict[str, float] = {}
    for key, name in (
        ("min_backoff_s", "SENDVIA_TASKS_MIN_BACKOFF_S"),
        ("max_backoff_s", "SENDVIA_TASKS_MAX_BACKOFF_S"),
        ("max_dispatches_per_s", "SENDVIA_TASKS_MAX_DISPATCHES_PER_S"),
        ("max_concurrent", "SENDVIA_TASKS_MAX_CONCURRENT"),
    ):
        raw = env.get(name, "").strip()
        if raw:
            try:
                numbers[key] = float(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not a number of seconds.")
    ticket_key = env.get("SENDVIA_TASKS_TICKET_KEY", "").strip()
    if ticket_key and not _SECRET_VERSION.match(ticket_key):
        problems.append(
            "SENDVIA_TASKS_TICKET_KEY must name the Secret Manager version holding the key "
            "that seals tasks (projects/P/secrets/NAME/versions/latest), or be unset."
        )
    if problems:
        return None
    optional = {
        k: v
        for k, v in (
            ("location", env.get("SENDVIA_TASKS_LOCATION", "").strip()),
            ("queue", env.get("SENDVIA_TASKS_QUEUE", "").strip()),
            ("certs_url", env.get("SENDVIA_TASKS_CERTS_URL", "").strip()),
            ("ticket_key", ticket_key),
        )
        if v
    }
    return TasksSettings(deliver_url, account, **optional, **numbers)  # type: ignore[arg-type]
