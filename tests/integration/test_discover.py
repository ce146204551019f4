"""`GET /settings/discover?address=` against the stack's DNS server (real lookups with
dnspython, test zones in emulators/dns_server.py)."""

from __future__ import annotations

import pytest

from tests.integration.api import call


@pytest.mark.parametrize(
    ("address", "provider", "preset"),
    [
        ("front@riverside.example", "google", "gmail"),  # MX at Google
        ("front@contoso.example", "microsoft", "office365"),  # MX at Exchange Online
        ("front@smallbiz.example", "smtp", None),  # its own mail server
        ("front@nomx.example", "smtp", None),  # no MX
        ("front@unknown-domain.example", "smtp", None),  # NXDOMAIN
        ("someone@gmail.com", "google", "gmail"),  # no lookup
        ("someone@outlook.com", "microsoft", "office365"),
    ],
)
def test_discover_answers_which_way_to_connect(clinic, address, provider, preset):
    answer = call("GET", "settings", f"/discover?address={address}", bearer=clinic.member)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"provider": provider, "preset": preset}


def test_not_an_address_is_a_400_naming_the_field(clinic):
    answer = call("GET", "settings", "/discover?address=reception", bearer=clinic.member)
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "address"
