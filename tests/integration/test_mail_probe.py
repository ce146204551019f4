"""The SMTP/IMAP adapter's stepwise test against Dovecot and the misbehaving provider: each
failure becomes the right cause, and a stalled server cannot hang it."""

from __future__ import annotations

import os
import time

import pytest
from sendvia.adapters.mail_steps import Steps
from sendvia.adapters.smtp_imap import Endpoint, MailServers

from emulators.mail.misbehaving import Behaviour, misbehaving

MESSAGE = b"From: reception@clinic.test\r\nTo: ann@example.com\r\nSubject: t\r\n\r\nhi\r\n"


@pytest.fixture
def servers() -> MailServers:
    return MailServers(
        ca_file=os.environ["SENDVIA_TLS_CA_FILE"],
        allow_loopback=True,
        step_limit_s=3,
        greeting_limit_s=2,
    )


def demo(port_name: str, security: str) -> Endpoint:
    return Endpoint(
        "127.0.0.1",
        int(os.environ[f"MAIL_{port_name}_PORT"]),
        security,
        os.environ["MAIL_DEMO_USER"],
    )


def smtp_steps(servers: MailServers, endpoint: Endpoint, password: str) -> Steps:
    steps = Steps()
    client = servers.open_smtp(endpoint, password, steps)
    if client is not None:
        steps.run(
            "send", lambda: servers.send(client, endpoint.username, ["ann@example.com"], MESSAGE)
        )
        client.close()
    return steps


def last(steps: Steps) -> dict:
    return steps.results[-1]


@pytest.mark.parametrize(("port", "security"), [("SUBMISSION", "starttls"), ("SUBMISSIONS", "tls")])
def test_dovecot_passes_every_step(servers, port, security):
    steps = smtp_steps(servers, demo(port, security), os.environ["MAIL_DEMO_PASSWORD"])
    assert steps.ok, steps.results
    assert [s["name"] for s in steps.results] == ["resolve", "connect", "tls", "auth", "send"]
    assert "TLSv1.3" in steps.results[2]["reply"]


def test_wrong_password_at_dovecot(servers):
    steps = smtp_steps(servers, demo("SUBMISSION", "starttls"), "not-the-password")
    assert (last(steps)["name"], last(steps)["cause"]) == ("auth", "wrong_password")
    assert "535" in last(steps)["reply"]
    assert "app password" in last(steps)["hint"]


@pytest.mark.parametrize(
    ("behaviour", "step", "cause", "words"),
    [
        (Behaviour.WRONG_PASSWORD, "auth", "wrong_password", "535 5.7.8"),
        (Behaviour.APP_PASSWORD_REQUIRED, "auth", "app_password_required", "534 5.7.9"),
        (Behaviour.BASIC_AUTH_DISABLED, "auth", "basic_auth_disabled", "5.7.139"),
        (Behaviour.BUSY_GREETING, "tls", "server_unavailable", "421"),
        (Behaviour.TEMPORARY_FAILURE, "send", "temporary_failure", "451"),
        (Behaviour.DROP_IN_DATA, "send", "connection_dropped", ""),
        (Behaviour.UNTRUSTED_CERTIFICATE, "tls", "certificate_untrusted", "certificate"),
    ],
)
def test_misbehaving_providers_are_classified(servers, certs, behaviour, step, cause, words):
    with misbehaving(behaviour, certs) as port:
        steps = smtp_steps(servers, Endpoint("127.0.0.1", port, "starttls", "u@x.example"), "pw")
    failed = last(steps)
    assert (failed["name"], failed["ok"], failed["cause"]) == (step, False, cause)
    assert words in failed["reply"]
    assert failed["hint"]


def test_a_stalled_server_times_out_naming_the_step(servers, certs):
    started = time.monotonic()
    with misbehaving(Behaviour.STALL, certs) as port:
        steps = smtp_steps(servers, Endpoint("127.0.0.1", port, "starttls", "u@x.example"), "pw")
    assert time.monotonic() - started < 3 + 2 + 2  # the step's limit, not forever
    assert (last(steps)["name"], last(steps)["cause"]) == ("tls", "timeout")
    assert "tls" in last(steps)["reply"]


def test_tls_on_a_starttls_port_is_a_mismatch(servers):
    steps = smtp_steps(servers, demo("SUBMISSION", "tls"), os.environ["MAIL_DEMO_PASSWORD"])
    assert (last(steps)["name"], last(steps)["cause"]) == ("tls", "tls_mismatch")


def test_starttls_on_a_tls_port_is_a_mismatch(servers):
    steps = smtp_steps(servers, demo("SUBMISSIONS", "starttls"), os.environ["MAIL_DEMO_PASSWORD"])
    assert (last(steps)["name"], last(steps)["cause"]) == ("tls", "tls_mismatch")
    assert "expects TLS" in last(steps)["reply"]


def test_nothing_listening_is_unreachable(servers):
    steps = smtp_steps(servers, Endpoint("127.0.0.1", 9, "starttls", "u"), "pw")
    assert (last(steps)["name"], last(steps)["cause"]) == ("connect", "unreachable")


def test_an_unknown_host_is_unreachable(servers):
    steps = smtp_steps(servers, Endpoint("no-such-host.invalid", 587, "starttls", "u"), "pw")
    assert (last(steps)["name"], last(steps)["cause"]) == ("resolve", "unreachable")


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "10.0.0.8", "169.254.169.254", "192.168.0.1", "[::1]"]
)
def test_internal_addresses_are_refused_in_production(host):
    production = MailServers(ca_file=None, allow_loopback=False, step_limit_s=2)
    steps = smtp_steps(production, Endpoint(host.strip("[]"), 587, "starttls", "u"), "pw")
    assert (last(steps)["name"], last(steps)["cause"]) == ("resolve", "host_not_allowed")
    assert [s["name"] for s in steps.results] == ["resolve"]  # never connected


def test_imap_login_folders_and_a_sent_copy(servers):
    client = servers.open_imap(demo("IMAPS", "tls"), os.environ["MAIL_DEMO_PASSWORD"])
    folders = servers.folders(client)
    assert {"name": "Sent", "special_use": "\\Sent"} in folders
    subject = f"copy-{time.time_ns()}"
    raw = MESSAGE.replace(b"Subject: t", f"Subject: {subject}".encode())
    servers.append_sent(client, "Sent", raw)
    client.select_folder("Sent", readonly=True)
    assert client.search(["SUBJECT", subject])
    client.logout()


# How the message goes with APPEND: unasked (Dovecot's LITERAL+), unasked up to 4 KiB (Gmail's
# LITERAL-), or after the server's go-ahead (a server with neither). The capabilities the server
# sent are narrowed to make it the second or the third.
LITERALS = {"LITERAL+": None, "LITERAL-": {b"LITERAL-"}, "neither": set()}


def with_literals(client, literals: set[bytes] | None):
    if literals is not None:
        offered = [c for c in client.capabilities() if not c.startswith(b"LITERAL")]
        client._cached_capabilities = (*offered, *literals)
    appended = []
    asked = client.append
    client.append = lambda *args, **kwargs: appended.append(args[0]) or asked(*args, **kwargs)
    return appended  # the folders of the APPENDs that waited for the go-ahead


@pytest.mark.parametrize("literals", LITERALS, ids=list(LITERALS))
@pytest.mark.parametrize("folder", ["Éléments envoyés", 'Sent "2026"'])
def test_a_copy_lands_in_its_folder_however_the_server_takes_it(servers, literals, folder):
    client = servers.open_imap(demo("IMAPS", "tls"), os.environ["MAIL_DEMO_PASSWORD"])
    if not client.folder_exists(folder):
        client.create_folder(folder)
    asked = with_literals(client, LITERALS[literals])
    small, large = (f"copy-{time.time_ns()}-{n}" for n in ("small", "large"))
    for subject, size in ((small, 200), (large, 5000)):
        raw = MESSAGE.replace(b"Subject: t", f"Subject: {subject}".encode()).replace(
            b"hi\r\n", b"x" * size + b"\r\n"
        )
        servers.append_sent(client, folder, raw)
    # Nothing the server said is kept on a connection that is kept (an APPENDUID an email).
    assert client._imap.untagged_responses == {}
    # The folder stays open, read-only, for the next copy (half of Dovecot's cost of one).
    assert (client._imap.state, client._imap.is_readonly) == ("SELECTED", True)
    # Unasked only as the server allows: Gmail's LITERAL- stops at 4096 bytes.
    assert asked == {"LITERAL+": [], "LITERAL-": [folder], "neither": [folder] * 2}[literals]
    client.select_folder(folder, readonly=True)
    assert client.search(["SUBJECT", small]) and client.search(["SUBJECT", large])
    client.logout()


@pytest.mark.parametrize("literals", LITERALS, ids=list(LITERALS))
def test_a_missing_folder_is_named_and_the_connection_goes_on(servers, literals):
    client = servers.open_imap(demo("IMAPS", "tls"), os.environ["MAIL_DEMO_PASSWORD"])
    with_literals(client, LITERALS[literals])
    from sendvia.adapters.mail_steps import StepFailed

    with pytest.raises(StepFailed) as refused:
        servers.append_sent(client, "No such folder", MESSAGE)
    assert refused.value.cause == "folder_missing"
    subject = f"after-{time.time_ns()}"
    servers.append_sent(
        client, "Sent", MESSAGE.replace(b"Subject: t", f"Subject: {subject}".encode())
    )
    client.select_folder("Sent", readonly=True)
    assert client.search(["SUBJECT", subject])
    client.logout()


@pytest.mark.parametrize(("port_name", "security"), [("IMAPS", "tls"), ("IMAP", "starttls")])
def test_imap_goes_to_the_address_that_passed_the_check(servers, monkeypatch, port_name, security):
    """A name that resolves to a public address for the check and to an internal one a moment
    later (DNS rebinding) cannot steer IMAP: it connects to the checked address, and TLS still
    verifies the name (security review M3). Here the name resolves nowhere at all: reaching
    Dovecot's certificate proves the checked address was used."""
    import ssl

    monkeypatch.setattr(servers, "resolve", lambda host, port: "127.0.0.1")
    endpoint = Endpoint(
        "imap.rebinding.invalid",
        int(os.environ[f"MAIL_{port_name}_PORT"]),
        security,
        os.environ["MAIL_DEMO_USER"],
    )
    with pytest.raises(ssl.SSLCertVerificationError):  # not socket.gaierror: no second lookup
        servers.open_imap(endpoint, os.environ["MAIL_DEMO_PASSWORD"])
