"""Which way to connect an address, from its domain and MX hosts (domain/discovery)."""

from __future__ import annotations

import pytest
from sendvia.domain.discovery import Discovery, domain_of, from_mx, without_lookup


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("pat@gmail.com", ("google", "gmail")),
        ("Pat@GoogleMail.com", ("google", "gmail")),
        ("pat@outlook.com", ("microsoft", "office365")),
        ("pat@hotmail.com", ("microsoft", "office365")),
        ("pat@live.com", ("microsoft", "office365")),
    ],
)
def test_well_known_consumer_domains_answer_without_a_lookup(address, expected):
    domain = domain_of(address)
    assert domain is not None
    found = without_lookup(domain)
    assert found is not None and (found.provider, found.preset) == expected


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (["aspmx.l.google.com", "alt1.aspmx.l.google.com"], ("google", "gmail")),
        (["smtp.google.com"], ("google", "gmail")),
        (["contoso-com.mail.protection.outlook.com"], ("microsoft", "office365")),
        (["mx1.smallbiz.example"], ("smtp", None)),
        ([], ("smtp", None)),
        (None, ("smtp", None)),  # the lookup failed: never an error
        (["evilgoogle.com"], ("smtp", None)),  # a suffix, not a subdomain
        (["mail.protection.outlook.com.attacker.example"], ("smtp", None)),
    ],
)
def test_mail_exchangers_decide_for_other_domains(hosts, expected):
    found = from_mx(hosts)
    assert (found.provider, found.preset) == expected


@pytest.mark.parametrize(
    "address", ["", "pat", "pat@", "@example.com", "pat@localhost", "a b@x y.z"]
)
def test_what_is_not_an_address_has_no_domain(address):
    assert domain_of(address) is None


def test_a_discovery_shows_only_what_the_contract_names():
    assert Discovery("smtp", None, looked_up=True).to_json() == {"provider": "smtp", "preset": None}
