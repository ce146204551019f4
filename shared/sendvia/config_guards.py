"""What a deployment must set and must not set, checked by config.load() at cold start.

The internal functions fail closed: `deliver` accepts only Cloud Tasks' token and `reminders`
only Cloud Scheduler's, each for an audience from configuration (its URL, set by Terraform). In
production (K_SERVICE is set) the settings that weaken a check, which only a local stack may use,
are refused.
"""

from __future__ import annotations

from collections.abc import Mapping

# Settings that weaken a check, for local stacks: in production they are refused.
_LOCAL_ONLY = (
    ("FIRESTORE_EMULATOR_HOST", "points Firestore at an emulator"),
    ("FIREBASE_AUTH_EMULATOR_HOST", "turns off ID token signature checks"),
    ("SECRET_MANAGER_EMULATOR_HOST", "points Secret Manager at an emulator"),
    ("CLOUD_TASKS_EMULATOR_HOST", "points Cloud Tasks at an emulator"),
    ("SENDVIA_MAIL_HOSTS_ALLOW", "lets tenants' mail servers live on loopback"),
    ("OAUTHLIB_INSECURE_TRANSPORT", "allows OAuth over plain http"),
    ("SENDVIA_SNS_CERT_URL_PREFIXES", "trusts SNS certificates from other hosts"),
    ("SENDVIA_TLS_CA_FILE", "trusts an extra certificate authority"),
    ("SENDVIA_SCHEDULER_AUTH", "turns off the check of Cloud Scheduler's token on `reminders`"),
)
_URLS = (
    "SENDVIA_MICROSOFT_BASE_URL",
    "SENDVIA_OAUTH_CALLBACK_URL",
    "SENDVIA_DELIVER_URL",
    "SENDVIA_REMINDERS_URL",
    "SENDVIA_GOOGLE_BASE_URL",
)


def production_guard(env: Mapping[str, str], problems: list[str]) -> None:
    """On Cloud Run / Cloud Functions (K_SERVICE is set), refuse what only a local stack may
    set, unless SENDVIA_ALLOW_LOCAL_SETTINGS=1 says the deployment is a test one on purpose."""
    if not env.get("K_SERVICE") or env.get("SENDVIA_ALLOW_LOCAL_SETTINGS") == "1":
        return
    for name, weakens in _LOCAL_ONLY:
        if env.get(name, "").strip():
            problems.append(
                f"{name} {weakens}: it is for local stacks, refused in production (K_SERVICE is "
                "set). Unset it, or set SENDVIA_ALLOW_LOCAL_SETTINGS=1 for a test deployment."
            )
    for name in _URLS:
        if env.get(name, "").strip().startswith("http://"):
            problems.append(f"{name} must be an https URL in production (K_SERVICE is set).")


def scheduler(
    env: Mapping[str, str], *, has_queue: bool, problems: list[str]
) -> tuple[str | None, str | None, bool]:
    """Who may call `reminders`: Cloud Scheduler's service account, and the audience its OIDC
    tokens carry (the function's URL). The internal functions fail closed: a deployment with a
    queue but without them does not start; in production (K_SERVICE) the queue itself, and so
    `deliver`'s caller, is required too."""
    switch = env.get("SENDVIA_SCHEDULER_AUTH", "").strip().lower()
    if switch not in ("", "on", "off"):
        problems.append(f"SENDVIA_SCHEDULER_AUTH={switch!r}: only 'on' or 'off' (local stacks).")
    account = env.get("SENDVIA_SCHEDULER_SERVICE_ACCOUNT", "").strip() or None
    url = env.get("SENDVIA_REMINDERS_URL", "").strip() or None
    if env.get("K_SERVICE") and not has_queue:
        problems.append(
            "SENDVIA_DELIVER_URL and SENDVIA_TASKS_SERVICE_ACCOUNT are not set: in production "
            "`deliver` must know the one caller it accepts (Cloud Tasks' service account)."
        )
    if switch == "off":
        return None, None, True
    if account is not None and "@" not in account:
        problems.append(
            f"SENDVIA_SCHEDULER_SERVICE_ACCOUNT={account!r} must be the service account Cloud "
            "Scheduler signs its OIDC tokens as (an email address)."
        )
    if url is not None and not url.startswith(("https://", "http://")):
        problems.append(f"SENDVIA_REMINDERS_URL={url!r} must be the reminders function's URL.")
    if not has_queue:
        if account or url:
            problems.append(
                "SENDVIA_SCHEDULER_SERVICE_ACCOUNT is set but triggered emails are not "
                "(SENDVIA_DELIVER_URL): reminders have no queue to fill."
            )
        return account, url, False
    if account is None or url is None:
        problems.append(
            "SENDVIA_SCHEDULER_SERVICE_ACCOUNT and SENDVIA_REMINDERS_URL must both be set: "
            "`reminders` accepts only Cloud Scheduler's OIDC token from that account, for that "
            "URL. (A local stack may set SENDVIA_SCHEDULER_AUTH=off instead.)"
        )
    return account, url, False


def sync(
    env: Mapping[str, str], *, has_queue: bool, problems: list[str]
) -> tuple[str, float, float, float] | None:
    """Receiving's (url, interval_s, budget_s, settle_s): its tasks are signed as the
    deliveries' are (SENDVIA_TASKS_SERVICE_ACCOUNT), so it needs them configured; None when
    SENDVIA_SYNC_URL is not set (no mailbox is synced)."""
    url = env.get("SENDVIA_SYNC_URL", "").strip()
    if not url:
        return None
    if not url.startswith(("https://", "http://")):
        problems.append(f"SENDVIA_SYNC_URL={url!r} must be the sync function's URL.")
    if not has_queue:
        problems.append(
            "SENDVIA_SYNC_URL is set but SENDVIA_DELIVER_URL is not: sync's tasks are "
            "signed as the deliveries' are (SENDVIA_TASKS_SERVICE_ACCOUNT)."
        )
    numbers = []
    for name, default, low, high in (
        ("SENDVIA_SYNC_INTERVAL_S", 600.0, 60.0, 86400.0),
        ("SENDVIA_SYNC_BUDGET_S", 120.0, 1.0, 1500.0),
        ("SENDVIA_SYNC_SETTLE_S", 60.0, 0.0, 3600.0),
    ):
        raw = env.get(name, "").strip()
        try:
            value = float(raw) if raw else default
        except ValueError:
            value = default
            problems.append(f"{name}={raw!r} must be a number of seconds.")
        if not low <= value <= high:
            problems.append(f"{name}={raw!r} must be from {low:g} to {high:g} seconds.")
        numbers.append(value)
    return url, numbers[0], numbers[1], numbers[2]
