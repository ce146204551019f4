"""Developer tools for the local stack: users with claims and ID tokens from the Auth emulator.

These talk only to the Firebase Auth emulator; they refuse to run without
FIREBASE_AUTH_EMULATOR_HOST, so they cannot touch a real project.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from sendvia.domain.principal import Role


class DevToolError(Exception):
    """A problem the developer can fix; the message says how."""


def load_stack_env(start: Path | None = None) -> None:
    """Fill unset variables from the nearest `.stack/env` (written by `make up`)."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        env_file = candidate / ".stack" / "env"
        if env_file.is_file():
            for line in env_file.read_text().splitlines():
                key, _, value = line.removeprefix("export ").partition("=")
                if key and value:
                    os.environ.setdefault(key.strip(), value.strip())
            return


def _emulator(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    env = os.environ if environ is None else environ
    host = env.get("FIREBASE_AUTH_EMULATOR_HOST")
    project = env.get("GOOGLE_CLOUD_PROJECT")
    if not host or not project:
        raise DevToolError(
            "The Auth emulator is not configured (FIREBASE_AUTH_EMULATOR_HOST or "
            "GOOGLE_CLOUD_PROJECT unset). Run `make up`, then `source .stack/env`."
        )
    return host, project


def firebase_app() -> Any:
    """firebase-admin bound to the Auth emulator of the stack."""
    import firebase_admin

    _, project = _emulator()
    try:
        return firebase_admin.get_app("sendvia-dev")
    except ValueError:
        return firebase_admin.initialize_app(options={"projectId": project}, name="sendvia-dev")


def ensure_user(
    uid: str,
    *,
    email: str,
    name: str | None,
    claims: Mapping[str, Any],
    password: str | None = None,
) -> None:
    """Create or update a user of the Auth emulator and set exactly these custom claims (and,
    given one, the password the person signs in with)."""
    from firebase_admin import auth

    app = firebase_app()
    fields: dict[str, Any] = {"email": email, "display_name": name or None}
    if password is not None:
        fields["password"] = password
    try:
        auth.update_user(uid, app=app, **fields)
    except auth.UserNotFoundError:
        auth.create_user(uid=uid, app=app, **fields)
    auth.set_custom_user_claims(uid, dict(claims), app=app)


def sign_in(uid: str) -> str:
    """An ID token for `uid`, as the user's browser would get one (custom-token sign-in)."""
    from firebase_admin import auth

    host, _ = _emulator()
    custom = auth.create_custom_token(uid, app=firebase_app()).decode()
    try:
        response = requests.post(
            f"http://{host}/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken"
            "?key=local-dev",
            json={"token": custom, "returnSecureToken": True},
            timeout=10,
        )
    except requests.RequestException as exc:
        raise DevToolError(f"The Auth emulator at {host} did not answer; is the stack up?") from exc
    if response.status_code != 200:
        raise DevToolError(f"The Auth emulator refused the sign-in: {response.text[:200]}")
    token: str = response.json()["idToken"]
    return token


def id_token(
    *,
    tenant: str,
    uid: str,
    role: str,
    email: str | None = None,
    name: str | None = None,
    password: str | None = None,
) -> str:
    """Create or update `uid` with tenant/role claims in the Auth emulator (with a password to
    sign in with on a page, if given); return an ID token."""
    _emulator()
    if role not in {r.value for r in Role}:
        raise DevToolError(f"--role must be admin or member, not {role!r}.")
    ensure_user(
        uid,
        email=email or f"{uid}@{tenant}.example.com",
        name=name,
        claims={"tenant_id": tenant, "role": role},
        password=password,
    )
    return sign_in(uid)


# The demo practice `make up` creates, so that a person can sign in to the reference app at once.
DEMO_TENANT = "demo-clinic"
DEMO_PASSWORD = "sendvia-demo"  # noqa: S105 - a local emulator's demo user, printed by make up
DEMO_USERS = (
    ("demo-admin", "admin", "admin@demo-clinic.test", "Dana Admin"),
    ("demo-practitioner", "member", "practitioner@demo-clinic.test", "Pat Practitioner"),
)


def seed_demo(web_url: str) -> list[tuple[str, str, str]]:
    """The demo practice's users, each signing in with DEMO_PASSWORD, and the reference app's
    origin among its allowed return origins; (role, email, password) of each."""
    functions = os.environ.get("SENDVIA_FUNCTIONS_URL")
    if not functions:
        raise DevToolError("SENDVIA_FUNCTIONS_URL is unset: run `make up` first.")
    tokens = {
        role: id_token(
            tenant=DEMO_TENANT, uid=uid, role=role, email=email, name=name, password=DEMO_PASSWORD
        )
        for uid, role, email, name in DEMO_USERS
    }
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    current = requests.get(f"{functions}/settings", headers=headers, timeout=30)
    if current.status_code != 200:
        raise DevToolError(f"settings answered {current.status_code}: {current.text[:300]}")
    origins = current.json()["tenant"]["return_origins"]
    if web_url not in origins:
        patched = requests.patch(
            f"{functions}/settings",
            headers=headers,
            json={"return_origins": [*origins, web_url]},
            timeout=30,
        )
        if patched.status_code != 200:
            raise DevToolError(f"settings answered {patched.status_code}: {patched.text[:300]}")
    return [(role, email, DEMO_PASSWORD) for _, role, email, _ in DEMO_USERS]


def sign_in_link(
    *, tenant: str, uid: str, mailbox: str, receive: bool, provider: str = "google"
) -> str:
    """As an admin of `tenant`: switch the provider on (Gmail for "google", Microsoft for
    "microsoft"), allow the local return page, start the flow."""
    functions = os.environ.get("SENDVIA_FUNCTIONS_URL")
    if not functions:
        raise DevToolError("SENDVIA_FUNCTIONS_URL is unset: run `make up` first.")
    headers = {"Authorization": f"Bearer {id_token(tenant=tenant, uid=uid, role='admin')}"}
    current = requests.get(f"{functions}/settings", headers=headers, timeout=30)
    if current.status_code != 200:
        raise DevToolError(f"settings answered {current.status_code}: {current.text[:300]}")
    origins = current.json()["tenant"]["return_origins"]
    changes: dict[str, Any] = {
        "integrations": {_integration(provider): True},
        "return_origins": sorted({*origins, functions}),
    }
    if mailbox == "me":
        changes["mailbox_policy"] = "per_user"
    patched = requests.patch(f"{functions}/settings", headers=headers, json=changes, timeout=30)
    if patched.status_code != 200:
        raise DevToolError(f"settings answered {patched.status_code}: {patched.text[:300]}")
    started = requests.post(
        f"{functions}/oauth_start",
        headers=headers,
        timeout=30,
        json={
            "provider": provider,
            "mailbox": mailbox,
            "receive": receive,
            "return_to": f"{functions}/_dev/return",
        },
    )
    if started.status_code != 200:
        raise DevToolError(f"oauth_start answered {started.status_code}: {started.text[:300]}")
    url: str = started.json()["authorization_url"]
    return url


def add_mail_user(address: str) -> str:
    """A new user of the stack's Dovecot, with a fresh app password (returned)."""
    import subprocess
    import sys

    folder = os.environ.get("MAIL_DOVECOT_DIR")
    if not folder:
        raise DevToolError("MAIL_DOVECOT_DIR is unset: run `make up` first.")
    root = next((p for p in Path(folder).parents if (p / "emulators" / "mail").is_dir()), None)
    if root is None:
        raise DevToolError(f"Cannot find the sendvia checkout above {folder}.")
    result = subprocess.run(  # noqa: S603 - our own module, arguments from the developer
        [sys.executable, "-m", "emulators.mail.dovecot", "add-user", address, "--folder", folder],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DevToolError(result.stderr.strip() or "could not add the mail user")
    return result.stdout.strip()


def deliver_mail(to: str, raw: bytes, *, sender: str = "") -> str:
    """Deliver a message to a user of the stack's Dovecot over LMTP, as its MX would."""
    import smtplib

    port = os.environ.get("MAIL_LMTP_PORT")
    if not port:
        raise DevToolError("MAIL_LMTP_PORT is unset: run `make up` first.")
    if not raw.strip():
        raise DevToolError("Give the message (RFC 5322) on standard input.")
    try:
        with smtplib.LMTP("127.0.0.1", int(port)) as lmtp:
            lmtp.sendmail(sender, [to], raw)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DevToolError(f"Dovecot refused {to}: is it a mail user (mail-user add)?") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise DevToolError(f"Could not deliver: {exc}") from exc
    return f"Delivered to {to}."


def make_undeliverable(addresses: list[str]) -> str:
    """Mail the stack's servers send to these addresses bounces back to its sender."""
    import requests

    sink = os.environ.get("MAIL_SINK_URL")
    if not sink:
        raise DevToolError("MAIL_SINK_URL is unset: run `make up` first.")
    answer = requests.post(f"{sink}/_undeliverable", json={"addresses": addresses}, timeout=10)
    answer.raise_for_status()
    return "Undeliverable: " + ", ".join(answer.json()["undeliverable"])


EVENT_KINDS = ("bounce", "soft-bounce", "complaint", "delivered", "suppressed")


def last_relayed_message_id(address: str) -> str | None:
    """The Message-ID of the newest email the platform's relay took for `address`, if any."""
    import email

    relay = os.environ.get("DEFAULT_RELAY_URL")
    if not relay:
        return None
    listed = requests.get(f"{relay}/messages", params={"to": address}, timeout=10)
    messages = listed.json().get("messages", []) if listed.status_code == 200 else []
    if not messages:
        return None
    found = email.message_from_string(messages[-1]["raw"]).get("Message-ID")
    return str(found) if found else None


def post_sendgrid(events: list[dict[str, Any]]) -> requests.Response:
    """A batch of SendGrid events, signed by the stack's event signer, posted to the local
    `provider_events` as SendGrid's Event Webhook would."""
    import json

    signer = os.environ.get("EVENT_SIGNER_URL")
    functions = os.environ.get("SENDVIA_FUNCTIONS_URL")
    if not signer or not functions:
        raise DevToolError("EVENT_SIGNER_URL is unset: run `make up` first.")
    body = json.dumps(events).encode()
    signed = requests.post(f"{signer}/sendgrid/sign", data=body, timeout=30).json()["headers"]
    return requests.post(
        f"{functions}/provider_events/sendgrid",
        data=body,
        headers={**signed, "Content-Type": "application/json"},
        timeout=300,
    )


def post_event(kind: str, address: str, *, provider: str, message_id: str | None) -> str:
    """Post a real, signed email-service event about `address` (and the email with
    `message_id`; by default the newest the platform's relay took for the address) to the local
    `provider_events`, as SendGrid or SES would."""
    import time
    import uuid

    signer = os.environ.get("EVENT_SIGNER_URL")
    functions = os.environ.get("SENDVIA_FUNCTIONS_URL")
    if not signer or not functions:
        raise DevToolError("EVENT_SIGNER_URL is unset: run `make up` first.")
    message_id = message_id or last_relayed_message_id(address)
    reason = "550 5.1.1 The email account that you tried to reach does not exist"
    if provider == "sendgrid":
        event: dict[str, object] = {
            "email": address,
            "timestamp": int(time.time()),
            "sg_event_id": uuid.uuid4().hex,
            "sg_message_id": f"{uuid.uuid4().hex}.filter",
            **({"smtp-id": f"<{message_id.strip('<>')}>"} if message_id else {}),
            **{
                "bounce": {"event": "bounce", "type": "bounce", "reason": reason},
                "soft-bounce": {"event": "bounce", "type": "blocked", "reason": "421 try later"},
                "complaint": {"event": "spamreport"},
                "delivered": {"event": "delivered", "response": "250 OK"},
                "suppressed": {"event": "dropped", "reason": "Bounced Address"},
            }[kind],
        }
        answer = post_sendgrid([event])
        return f"{answer.status_code} {answer.text}"
    note_type, details = {
        "bounce": ("Bounce", {"bounceType": "Permanent", "bounceSubType": "General"}),
        "soft-bounce": ("Bounce", {"bounceType": "Transient", "bounceSubType": "General"}),
        "complaint": ("Complaint", {"complaintFeedbackType": "abuse"}),
        "delivered": ("Delivery", {}),
        "suppressed": ("Bounce", {"bounceType": "Permanent", "bounceSubType": "Suppressed"}),
    }[kind]
    mid = f"<{message_id.strip('<>')}>" if message_id else ""
    note = ses_notification(note_type, address, mid, **details)
    envelope = requests.post(f"{signer}/ses/sign", json={"message": note}, timeout=10).json()
    answer = requests.post(f"{functions}/provider_events/ses", json=envelope, timeout=30)
    return f"{answer.status_code} {answer.text}"


def ses_notification(
    note_type: str, address: str, message_id: str, **details: object
) -> dict[str, object]:
    """An SES notification (Bounce, Complaint or Delivery) about one recipient, as SNS carries it
    in `Message`."""
    import time

    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    key, listed = {
        "Bounce": ("bounce", "bouncedRecipients"),
        "Complaint": ("complaint", "complainedRecipients"),
        "Delivery": ("delivery", "recipients"),
    }[note_type]
    recipients = [address] if note_type == "Delivery" else [{"emailAddress": address}]
    return {
        "notificationType": note_type,
        key: {"timestamp": now, listed: recipients, **details},
        "mail": {"timestamp": now, "commonHeaders": {"messageId": message_id}},
    }


def _integration(sign_in: str) -> str:
    """The tenant switch of the provider a sign-in ("google") connects ("gmail")."""
    from sendvia.domain.providers import provider_for_sign_in, traits

    provider = provider_for_sign_in(sign_in)
    if provider is None:
        raise DevToolError(f"unknown sign-in {sign_in!r}")
    return traits(provider).integration
