"""Bad input is a 4xx naming the field, never a 5xx and never a retried send (security review
M6, L1)."""

from __future__ import annotations

import pytest

from tests.fakes import Fakes
from tests.functional.conftest import Client

NESTED = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize(
    ("to", "field"),
    [("bød@example.com", "to.0"), ("bob@exämple.com", "to.0"), ("Bø <bød@example.com>", "to.0")],
)
def test_a_non_ascii_address_is_a_400_naming_it(client: Client, fakes: Fakes, admin, to, field):
    body = {"to": [to], "subject": "Hi", "text": "Hello."}
    answer = client.call("POST", "send", token=admin, body=body)
    assert (answer.status_code, answer.json["error"]["field"]) == (400, field)
    assert "xn--" in answer.json["error"]["message"]
    assert fakes.relay.sent == []


def test_an_ascii_form_of_an_international_domain_is_fine(client: Client, fakes: Fakes, admin):
    body = {"to": ["bob@xn--exmple-cua.com"], "subject": "Hi", "text": "Hello."}
    assert client.call("POST", "send", token=admin, body=body).status_code == 200


@pytest.mark.parametrize(("function", "path"), [("settings", "/"), ("send", "/")])
def test_deeply_nested_json_is_a_400(client: Client, admin, function, path):
    method = "PATCH" if function == "settings" else "POST"
    answer = client.call(method, function, path, token=admin, raw=NESTED)
    assert (answer.status_code, answer.json["error"]["code"]) == (400, "invalid_json")
