"""Contacts as the host product tells them, and the addresses deliveries teach them."""

from __future__ import annotations

import flask

from tests.fakes import Fakes
from tests.functional.conftest import OTHER, TENANT, Client, switch_on


def put(client: Client, token: str, contact_id: str, **body: object) -> flask.Response:
    return client.call("PUT", "activity", f"/contacts/{contact_id}", token=token, body=body)


def test_a_contact_is_created_read_replaced_and_deleted(client: Client, admin: str) -> None:
    made = put(client, admin, "c-1", name="Jo Patel", addresses=["Jo <JO@Example.org>"])
    assert made.status_code == 200, made.json
    assert made.json["addresses"] == ["jo@example.org"]
    replaced = put(client, admin, "c-1", name="Jo Patel", addresses=["jo.p@example.org"])
    assert replaced.json["addresses"] == ["jo.p@example.org"]
    read = client.call("GET", "activity", "/contacts/c-1", token=admin)
    assert read.json["name"] == "Jo Patel"
    assert read.json["addresses"] == ["jo.p@example.org"]
    assert client.call("DELETE", "activity", "/contacts/c-1", token=admin).status_code == 204
    gone = client.call("GET", "activity", "/contacts/c-1", token=admin)
    assert gone.status_code == 404
    assert gone.json["error"]["code"] == "contact_not_found"


def test_an_address_the_host_gave_another_contact_is_a_conflict_naming_it(
    client: Client, admin: str
) -> None:
    put(client, admin, "c-1", name="Jo", addresses=["jo@example.org"])
    clash = put(client, admin, "c-2", name="Sam", addresses=["sam@example.org", "jo@example.org"])
    assert clash.status_code == 409
    error = clash.json["error"]
    assert error["code"] == "address_taken"
    assert error["field"] == "addresses[1]"
    assert error["contact_id"] == "c-1"
    assert client.call("GET", "activity", "/contacts/c-2", token=admin).status_code == 404


def test_bad_contacts_are_400s_naming_the_field(client: Client, admin: str) -> None:
    cases = [
        ("c-1", {"addresses": ["not an address"]}, "addresses"),
        ("c-1", {"addresses": ["a@example.org"] * 21}, "addresses"),
        ("c-1", {"name": "Jo\r\nBcc: x@evil.example"}, "name"),
        ("c-1", {"name": 7}, "name"),
        ("c-1", {"colour": "red"}, "colour"),
        ("-bad", {"name": "Jo"}, "contact_id"),
    ]
    for contact_id, body, field in cases:
        answer = client.call("PUT", "activity", f"/contacts/{contact_id}", token=admin, body=body)
        assert answer.status_code == 400, (body, answer.json)
        assert answer.json["error"]["field"].startswith(field), answer.json


def test_a_batch_keeps_the_good_contacts_and_refuses_the_conflicting_one(
    client: Client, admin: str
) -> None:
    put(client, admin, "held", name="Held", addresses=["held@example.org"])
    answer = client.call(
        "POST",
        "activity",
        "/contacts:batch",
        token=admin,
        body={
            "contacts": [
                {"id": "a", "name": "A", "addresses": ["a@example.org"]},
                {"id": "b", "name": "B", "addresses": ["held@example.org"]},
                {"id": "c", "name": "C", "addresses": ["a@example.org"]},
                {"id": "d", "name": "D", "addresses": ["d@example.org"]},
            ]
        },
    )
    assert answer.status_code == 200, answer.json
    results = answer.json["contacts"]
    assert [r.get("error", {}).get("code") for r in results] == [
        None,
        "address_taken",
        "address_taken",
        None,
    ]
    assert results[2]["error"]["field"] == "contacts[2].addresses[0]"
    assert (answer.json["saved"], answer.json["refused"]) == (2, 2)
    twice = client.call(
        "POST",
        "activity",
        "/contacts:batch",
        token=admin,
        body={"contacts": [{"id": "e", "name": "E"}, {"id": "e", "name": "E again"}]},
    ).json
    assert twice["contacts"][1]["error"]["field"] == "contacts[1].id"
    too_many = client.call(
        "POST",
        "activity",
        "/contacts:batch",
        token=admin,
        body={"contacts": [{"id": f"x{i}"} for i in range(501)]},
    )
    assert too_many.status_code == 400
    assert too_many.json["error"]["field"] == "contacts"


def test_members_may_put_contacts_but_only_admins_delete_or_import(
    client: Client, admin: str, member: str
) -> None:
    assert put(client, member, "c-1", name="Jo", addresses=["jo@example.org"]).status_code == 200
    denied = client.call("DELETE", "activity", "/contacts/c-1", token=member)
    assert denied.status_code == 403
    batch = client.call(
        "POST", "activity", "/contacts:batch", token=member, body={"contacts": [{"id": "x"}]}
    )
    assert batch.status_code == 403


def test_contacts_are_the_callers_tenants_only(client: Client, fakes: Fakes, admin: str) -> None:
    put(client, admin, "c-1", name="Jo", addresses=["jo@example.org"])
    other = fakes.token(OTHER, "olga")
    assert client.call("GET", "activity", "/contacts/c-1", token=other).status_code == 404
    assert client.call("DELETE", "activity", "/contacts/c-1", token=other).status_code == 404
    assert put(client, other, "c-9", addresses=["jo@example.org"]).status_code == 200
    assert fakes.contacts.owners(TENANT, ["jo@example.org"]) == {"jo@example.org": "c-1"}


def test_an_email_sent_with_a_contact_id_teaches_the_contact_its_to_addresses(
    client: Client, fakes: Fakes, admin: str
) -> None:
    put(client, admin, "held", name="Held", addresses=["held@example.org"])
    switch_on(client, admin)
    sent = client.call(
        "POST",
        "send",
        token=admin,
        body={
            "to": ["Jo <jo@example.org>", "held@example.org"],
            "cc": ["colleague@clinic.test"],
            "subject": "Your appointment",
            "text": "See you on Monday.",
            "contact_id": "c-1",
            "mode": "queue",
        },
    )
    assert sent.status_code == 202, sent.json
    read = client.call("GET", "activity", "/contacts/c-1", token=admin).json
    assert read["learned_addresses"] == ["jo@example.org"]
    assert fakes.contacts.owners(TENANT, ["held@example.org", "colleague@clinic.test"]) == {
        "held@example.org": "held"
    }
    # What the host says wins over what a delivery taught.
    assert put(client, admin, "c-2", addresses=["jo@example.org"]).status_code == 200
    assert fakes.contacts.owners(TENANT, ["jo@example.org"]) == {"jo@example.org": "c-2"}
