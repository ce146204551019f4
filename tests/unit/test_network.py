"""The SSRF guard: which resolved addresses a tenant's mail server may have."""

from __future__ import annotations

import ipaddress

import pytest
from sendvia.domain.network import refusal


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("8.8.8.8", None),
        ("2607:f8b0:4004:c07::6c", None),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private network"),
        ("172.16.0.1", "private network"),
        ("192.168.1.10", "private network"),
        ("169.254.169.254", "metadata server"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private network"),
        ("::ffff:10.0.0.1", "private network"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "metadata server"),
        ("0.0.0.0", "private network"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("224.0.0.1", "reserved"),
    ],
)
def test_refusals(address, reason):
    assert refusal(ipaddress.ip_address(address), allow_loopback=False) == reason


def test_the_local_stack_may_allow_loopback_only():
    assert refusal(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert refusal(ipaddress.ip_address("10.0.0.1"), allow_loopback=True) == "private network"
    assert refusal(ipaddress.ip_address("169.254.169.254"), allow_loopback=True) == (
        "metadata server"
    )


def test_the_platforms_relay_may_be_internal_a_tenants_server_never():
    """The operator's relay may live inside the VPC (security review L10); a tenant's host
    resolving there is refused."""
    from sendvia.adapters.mail_steps import StepFailed
    from sendvia.adapters.smtp_imap import MailServers

    servers = MailServers(ca_file=None, allow_loopback=False)
    assert servers.resolve("10.0.0.8", 25, trusted=True) == "10.0.0.8"
    with pytest.raises(StepFailed, match="private"):
        servers.resolve("10.0.0.8", 25)
