"""Contacts, as the host product tells them (docs/api.md § contacts).

Who may: sendvia keeps no list of which person sees which contact — the host product decides
that on its own screens, and calls with the person's token — so any member of the tenant may
create or update a contact (a practitioner correcting a client's address on the client's page);
deleting a contact and importing a batch are for admins. An address the host gave another
contact is a conflict (409 for one contact; in a batch, that contact is refused and the others
are kept).
"""

from __future__ import annotations

from typing import Any

from sendvia.domain.contacts import AddressTaken, Contact, valid_contact_id
from sendvia.domain.principal import Principal
from sendvia.errors import BadRequest, Conflict, NotFound
from sendvia.runtime import Runtime
from sendvia.services.settings import require_admin
from sendvia.validation import parse_model


def check_id(contact_id: str) -> None:
    if not valid_contact_id(contact_id):
        raise BadRequest(
            "contact_id must be 1 to 128 letters, digits, '_', '-' or '.', starting with a "
            "letter or digit.",
            field="contact_id",
            code="invalid_value",
            hint="Use the host product's own id of the contact.",
        )


def _taken(exc: AddressTaken, prefix: str = "") -> Conflict:
    return Conflict(
        f"{exc.address} already belongs to another contact ({exc.owner}).",
        code="address_taken",
        field=f"{prefix}addresses[{exc.index}]",
        hint="Remove it from the other contact first, or leave it out here.",
        details={"address": exc.address, "contact_id": exc.owner},
    )


def get(rt: Runtime, principal: Principal, contact_id: str) -> Contact:
    check_id(contact_id)
    found = rt.contacts.get(principal.tenant_id, contact_id)
    if found is None:
        raise NotFound(
            "There is no such contact.",
            code="contact_not_found",
            hint="Create it with PUT /contacts/{contact_id}.",
        )
    return found


def put(rt: Runtime, principal: Principal, contact_id: str, body: Any) -> Contact:
    check_id(contact_id)
    from sendvia.domain.contact_requests import ContactIn  # pydantic: only a change needs it

    wanted = parse_model(ContactIn, body)
    try:
        return rt.contacts.put(
            principal.tenant_id, contact_id, wanted.name, wanted.addresses, rt.clock()
        )
    except AddressTaken as exc:
        raise _taken(exc) from exc


def put_batch(rt: Runtime, principal: Principal, body: Any) -> dict[str, Any]:
    """Each contact is put on its own; one that conflicts (with a stored contact, or with an
    earlier one of the batch) is refused with its error, and the rest are kept."""
    require_admin(principal, "import contacts")
    from sendvia.domain.contact_requests import ContactBatch

    batch = parse_model(ContactBatch, body)
    results: list[dict[str, Any] | None] = [None] * len(batch.contacts)
    claimed: dict[str, str] = {}
    todo: list[int] = []
    for i, contact in enumerate(batch.contacts):
        if any(batch.contacts[j].id == contact.id for j in todo):
            twice = BadRequest(
                f"Contact {contact.id} appears twice in the batch.",
                field=f"contacts[{i}].id",
                code="duplicate_contact",
                hint="Give each contact once, with all its addresses.",
            )
            results[i] = {"id": contact.id, **twice.body()}
            continue
        clash = next(
            (
                (n, a)
                for n, a in enumerate(contact.addresses)
                if claimed.get(a, contact.id) != contact.id
            ),
            None,
        )
        if clash is not None:
            error = _taken(AddressTaken(clash[1], clash[0], claimed[clash[1]]), f"contacts[{i}].")
            results[i] = {"id": contact.id, **error.body()}
            continue
        claimed.update({a: contact.id for a in contact.addresses})
        todo.append(i)

    stored = rt.contacts.put_many(
        principal.tenant_id,
        [(c.id, c.name, c.addresses) for c in (batch.contacts[i] for i in todo)],
        rt.clock(),
    )
    for i, result in zip(todo, stored, strict=True):
        if isinstance(result, AddressTaken):
            results[i] = {"id": batch.contacts[i].id, **_taken(result, f"contacts[{i}].").body()}
        else:
            results[i] = result.to_json()
    refused = sum(1 for r in results if r and "error" in r)
    return {"contacts": results, "saved": len(results) - refused, "refused": refused}


def delete(rt: Runtime, principal: Principal, contact_id: str) -> None:
    require_admin(principal, "delete contacts")
    check_id(contact_id)
    # Its correspondence first: a retry after a failure in between finds the contact still there.
    rt.correspondence.forget_contact(principal.tenant_id, contact_id)
    if not rt.contacts.delete(principal.tenant_id, contact_id):
        raise NotFound(
            "There is no such contact.",
            code="contact_not_found",
            hint="List the host product's contacts to see their ids.",
        )
