"""A clinic (tenant) with Gmail switched on, its admin and member, and Google sign-in helpers."""

from __future__ import annotations

from dataclasses import dataclass

from tests.integration.api import call, token
from tests.integration.google_flow import Browser, Outcome, start

RETURN_TO = "https://app.clinic.example/settings/email"


@dataclass
class Clinic:
    tenant: str
    admin: str
    member: str
    admin_email: str
    member_uid: str
    suffix: str

    def google(self, name: str) -> str:
        """A Google account address no other test uses."""
        return f"{name}-{self.suffix}@gmail.example"


def make_clinic(unique_id: str) -> Clinic:
    tenant = f"clinic-{unique_id}"
    admin_email = f"admin-{unique_id}@clinic.example"
    admin = token(tenant, f"admin-{unique_id}", "admin", email=admin_email, name="Ann Admin")
    member = token(tenant, f"member-{unique_id}", "member", email=f"m-{unique_id}@clinic.example")
    response = call(
        "PATCH",
        "settings",
        bearer=admin,
        body={
            "product_name": "Riverside Clinic",
            "integrations": {"gmail": True},
            "return_origins": ["https://app.clinic.example"],
        },
    )
    assert response.status_code == 200, response.text
    return Clinic(tenant, admin, member, admin_email, f"member-{unique_id}", unique_id)


def settings_of(bearer: str) -> dict:  # type: ignore[type-arg]
    return call("GET", "settings", bearer=bearer).json()


def connect(
    clinic: Clinic,
    account: str,
    mailbox: str = "tenant",
    bearer: str | None = None,
    browser: Browser | None = None,
    *,
    receive: bool = False,
    **consent: object,
) -> Outcome:
    url = start(bearer or clinic.admin, mailbox, receive=receive)
    return (browser or Browser()).connect(url, account, **consent)
