"""Building messages: header values that could smuggle headers are refused."""

from __future__ import annotations

import pytest
from sendvia.domain.message import HeaderError, Mailbox, build_message, clean_display_name


def build(**changes: object):
    values = {
        "sender": Mailbox("Riverside Clinic", "reception@clinic.example"),
        "to": ["ann@example.com"],
        "subject": "Gmail Test Connection from Riverside",
        "text": "Hello",
        "message_id_domain": "clinic.example",
    }
    values.update(changes)
    return build_message(**values)  # type: ignore[arg-type]


def test_a_message_has_the_headers_we_meant():
    message = build()
    assert message["From"] == "Riverside Clinic <reception@clinic.example>"
    assert message["To"] == "ann@example.com"
    assert message["Message-ID"].endswith("@clinic.example>")
    assert message["Date"]


def test_non_ascii_names_are_encoded():
    raw = build(sender=Mailbox("Zoë Müller", "zoe@clinic.example")).as_bytes()
    assert b"=?utf-8?" in raw
    assert "Zoë".encode() not in raw.split(b"\r\n\r\n")[0]


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("subject", {"subject": "Hi\r\nBcc: victim@evil.test"}),
        ("subject", {"subject": "=?utf-8?q?hi=0D=0ABcc:_x@evil.test?="}),  # CVE-2024-6923
        ("to", {"to": ["ann@example.com\nBcc: x@evil.test"]}),
        ("from", {"sender": Mailbox("Evil\r\nBcc: x@evil.test", "a@b.example")}),
    ],
)
def test_header_smuggling_is_refused(field, changes):
    with pytest.raises(HeaderError) as error:
        build(**changes)
    assert error.value.field == field


def test_a_providers_display_name_is_cleaned_not_refused():
    assert clean_display_name("Ann\r\nBcc: x@evil.test") == "Ann  Bcc: x@evil.test"
    assert clean_display_name("=?utf-8?q?x?=") == "utf-8?q?x?="


def test_a_composed_message_is_read_back_as_a_server_reads_it():
    """compose's last check: the From and the recipients a server would read are the ones asked
    for (here with a non-ASCII display name, which the headers carry encoded)."""
    from email.message import EmailMessage

    from sendvia.domain.outgoing import _verify, compose
    from sendvia.domain.send_request import SendRequest

    request = SendRequest.model_validate(
        {
            "to": ["Zoë Ärzt <zoe@example.com>"],
            "cc": ["b@example.com"],
            "subject": "Hi",
            "text": "x",
        }
    )
    sender = Mailbox("Praxis Müller", "desk@clinic.example")
    composed = compose(request, sender=sender, reply_to=None, message_id="<1@clinic.example>")
    assert b"=?utf-8?" in composed.as_bytes()  # the names went out encoded
    tampered = EmailMessage()
    for name, value in composed.items():
        tampered[name] = value.replace("zoe@example.com", "zoe@example.com, eve@evil.example")
    with pytest.raises(HeaderError):
        _verify(tampered, sender.address, request)
