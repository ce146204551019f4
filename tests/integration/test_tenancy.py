"""Tenant isolation: every route of every public function, called by another tenant's admin with
our tenant's ids, answers 403/404 (or acts on the caller's own tenant) and never shows our data.

The walk reads the entry points of functions/main.py and the routers registered in sendvia.api,
so a function or route added later is walked without changing this test.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from google.cloud import firestore
from sendvia import api

from emulators.functions_host import DEFAULT_SOURCE, entry_points
from tests.integration.api import call, token

PARAM = re.compile(r"\{(\w+)\}")


@pytest.fixture(scope="module")
def victim(project: str) -> dict[str, str]:
    """Tenant A, with settings, a member and a mailbox whose values are easy to spot."""
    import uuid

    suffix = uuid.uuid4().hex[:8]
    tenant, uid = f"victim-{suffix}", f"victim-user-{suffix}"
    marker = f"VICTIM-{suffix}"
    admin = token(tenant, uid, "admin", email=f"{marker.lower()}@victim.example", name=marker)
    call(
        "PATCH",
        "settings",
        bearer=admin,
        body={"product_name": f"{marker} Clinic", "return_origins": ["https://victim.example"]},
    )
    db = firestore.Client(project=project)
    for mailbox_id in ("tenant", f"user-{uid}"):
        db.document(f"tenants/{tenant}/mailboxes/{mailbox_id}").set(
            {
                "provider": "gmail",
                "state": "active",
                "address": f"{marker.lower()}@victim.example",
                "display_name": marker,
            }
        )
    # Deliveries in the states an unknown outcome leads to: one `sent_unconfirmed`, one queued
    # while its mailbox is searched for it (handed over, a cancel must not touch it).
    created = dt.datetime.now(dt.UTC)
    for delivery_id, state in (("unconfirmed", "sent_unconfirmed"), ("verifying", "queued")):
        db.document(f"tenants/{tenant}/deliveries/{marker}-{delivery_id}").set(
            {
                "kind": "triggered",
                "state": state,
                "to": [f"{marker.lower()}@patient.example"],
                "subject": marker,
                "created_at": created,
                "created_by": uid,
                "attempts": 1,
                "handed_over": 1 if state == "queued" else None,
                "handed_to": {"mailbox": "tenant", "address": f"{marker.lower()}@victim.example"},
            }
        )
    # A contact with synced correspondence, whose texts carry the marker.
    contact_id = f"{marker}-contact_id"
    db.document(f"tenants/{tenant}/contacts/{contact_id}").set({"name": marker})
    address = f"{marker.lower()}@patient.example"
    db.document(f"tenants/{tenant}/contact_addresses/{suffix}").set(
        {"address": address, "contact_id": contact_id, "source": "host", "added": "0|0"}
    )
    db.document(f"tenants/{tenant}/correspondence/{suffix}").set(
        {
            "subject": marker,
            "text": marker,
            "from": {"name": marker, "address": address},
            "contact_ids": [contact_id],
            "contact_mailboxes": [f"{contact_id}|tenant"],
            "mailbox_ids": ["tenant"],
            "date": created,
        }
    )
    return {"tenant": tenant, "uid": uid, "marker": marker}


@pytest.fixture(scope="module")
def intruder() -> str:
    import uuid

    return token(f"intruder-{uuid.uuid4().hex[:8]}", "intruder-admin", "admin")


def _foreign_value(param: str, victim: dict[str, str]) -> str:
    """The victim's id for a path parameter; unknown parameters get a value carrying its marker."""
    known = {
        "mailbox_id": f"user-{victim['uid']}",
        "uid": victim["uid"],
        "tenant_id": victim["tenant"],
        "delivery_id": f"{victim['marker']}-verifying",
    }
    return known.get(param, f"{victim['marker']}-{param}")


def public_routes() -> list[tuple[str, str, str]]:
    walked = []
    for function in entry_points(DEFAULT_SOURCE):
        assert function in api.FUNCTIONS, (
            f"functions/main.py has an entry point {function!r} that sendvia.api.FUNCTIONS does "
            "not register: register its router so this tenancy walk covers it"
        )
        router = api.router(function)
        if router.public:
            walked += [(function, spec.method, spec.template) for spec in router.routes]
    return walked


def test_every_entry_point_is_registered_and_walked():
    functions = {function for function, _, _ in public_routes()}
    assert "settings" in functions


@pytest.mark.parametrize(("function", "method", "template"), public_routes())
def test_another_tenant_never_sees_or_changes_our_data(
    function, method, template, victim, intruder, project
):
    db = firestore.Client(project=project)
    before = {
        d.id: d.to_dict() for d in db.collection(f"tenants/{victim['tenant']}/mailboxes").stream()
    }
    before_tenant = db.document(f"tenants/{victim['tenant']}").get().to_dict()
    deliveries = db.collection(f"tenants/{victim['tenant']}/deliveries")
    before_deliveries = {d.id: d.to_dict() for d in deliveries.stream()}
    synced = [
        db.collection(f"tenants/{victim['tenant']}/{name}")
        for name in ("contacts", "contact_addresses", "correspondence")
    ]
    before_synced = [{d.id: d.to_dict() for d in c.stream()} for c in synced]
    path = PARAM.sub(lambda m: _foreign_value(m.group(1), victim), template)
    bait = {"tenant_id": victim["tenant"], "mailbox": f"user-{victim['uid']}", "uid": victim["uid"]}
    body = bait if method in {"POST", "PUT", "PATCH"} else None
    response = call(method, function, path if path != "/" else "", bearer=intruder, body=body)

    assert response.status_code != 500, response.text
    if PARAM.search(template):
        # A path naming the victim's ids: refused or not found, never a success.
        assert response.status_code in {400, 403, 404, 405, 409, 422}, response.text
    assert victim["marker"] not in response.text
    assert victim["marker"].lower() not in response.text
    assert victim["tenant"] not in response.text
    assert victim["uid"] not in response.text
    # And nothing of the victim's changed.
    after = {
        d.id: d.to_dict() for d in db.collection(f"tenants/{victim['tenant']}/mailboxes").stream()
    }
    assert after == before
    assert db.document(f"tenants/{victim['tenant']}").get().to_dict() == before_tenant
    assert {d.id: d.to_dict() for d in deliveries.stream()} == before_deliveries
    assert [{d.id: d.to_dict() for d in c.stream()} for c in synced] == before_synced
