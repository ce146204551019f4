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
    assert b"=?utf-8?" in composed.raw  # the names went out encoded
    tampered = EmailMessage()
    for name, value in composed.message.items():
        tampered[name] = value.replace("zoe@example.com", "zoe@example.com, eve@evil.example")
    with pytest.raises(HeaderError):
        _verify(tampered.as_bytes(), sender.address, request)


def library_composed(request, sender: Mailbox, reply_to, message_id) -> bytes:
    """What the email library writes for the email, every header parsed and folded by it."""
    from email import policy
    from email.message import EmailMessage

    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender.header()
    message["To"] = ", ".join(request.to)
    if request.cc:
        message["Cc"] = ", ".join(request.cc)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = request.subject
    message["Date"] = "Wed, 02 Dec 2026 09:00:00 +0000"
    message["Message-ID"] = message_id
    if request.text is not None:
        message.set_content(request.text)
    if request.html is not None:
        if request.text is None:
            message.set_content(request.html, subtype="html")
        else:
            message.add_alternative(request.html, subtype="html")
    for attachment in request.attachments:
        maintype, subtype = attachment.content_type.split("/", 1)
        message.add_attachment(
            attachment.data(), maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message.as_bytes()


def without_date_and_boundaries(raw: bytes) -> bytes:
    import re

    raw = re.sub(rb"\r\nDate: [^\r]*", b"", raw)
    return re.sub(rb"=+[0-9]{10,}==", b"BOUNDARY", raw)


REMINDER = {"to": ["pat@example.com"], "subject": "Your appointment tomorrow", "text": "At 10."}


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="a plain reminder"),
        pytest.param({"cc": ["a@example.com", "b@example.com"]}, id="copies"),
        pytest.param({"to": ["Ann Example <ann@example.com>"]}, id="a display name"),
        pytest.param({"to": ["Zoë Ärzt <zoe@example.com>"]}, id="a non-ASCII name"),
        pytest.param({"subject": "Rendez-vous confirmé"}, id="a non-ASCII subject"),
        pytest.param({"subject": "Your appointment " * 6}, id="a subject to fold"),
        pytest.param({"subject": "Two  spaces"}, id="a run of spaces"),
        pytest.param({"text": "Grüße aus der Praxis.\nBis morgen."}, id="a non-ASCII text"),
        pytest.param({"text": "word " * 40}, id="a long line"),
        pytest.param({"text": "one\r\ntwo\rthree\n\nfour"}, id="mixed line ends"),
        pytest.param({"text": ""}, id="an empty text"),
        pytest.param({"text": None, "html": "<p>At <b>10</b>.</p>"}, id="HTML only"),
        pytest.param({"html": "<p>At 10.</p>"}, id="text and HTML"),
        pytest.param(
            {
                "attachments": [
                    {"filename": "a.txt", "content_type": "text/plain", "content": "aGk="}
                ]
            },
            id="an attachment",
        ),
    ],
)
@pytest.mark.parametrize("reply_to", [None, "desk@clinic.example"])
@pytest.mark.parametrize("name", ["Riverside Clinic", "Dr. Ann O'Neil", "Praxis Müller"])
def test_compose_writes_the_bytes_the_email_library_writes(changes, reply_to, name):
    """compose stores what the library would write as it was given, unparsed; the bytes must
    be the library's own, whichever way each header and body went."""
    from sendvia.domain.outgoing import compose
    from sendvia.domain.send_request import SendRequest

    request = SendRequest.model_validate({**REMINDER, **changes})
    sender = Mailbox(name, "noreply@platform.test")
    composed = compose(request, sender=sender, reply_to=reply_to, message_id="<1@platform.test>")
    expected = library_composed(request, sender, reply_to, "<1@platform.test>")
    assert without_date_and_boundaries(composed.raw) == without_date_and_boundaries(expected)


@pytest.mark.parametrize("name", ["Ann\r\nBcc: eve@evil.example", "Ann\nX-Spam: no"])
def test_a_line_break_in_a_name_is_never_written_as_it_is(name):
    """compose stores a plain header as written; one with a line break goes to the library,
    which refuses it."""
    from sendvia.domain.outgoing import compose
    from sendvia.domain.send_request import SendRequest

    sender = Mailbox(name, "noreply@platform.test")
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        compose(
            SendRequest.model_validate(REMINDER), sender=sender, reply_to=None, message_id="<1@x>"
        )


# The pieces addresses are made of, and the characters that make them something else.
ADDRESS_PIECES = [*"abZ09.@.@!#$%&'*+/=?^_`{|}~- <>\"(),:;[]\\é", "ann", "example", "com"]


@pytest.mark.parametrize(
    "recipients",
    [
        ["ann@example.com"],
        ["o'neil+reminders@clinic.example", "a.b.c@sub.domain.example"],
        ["Ann <ann@example.com>", "bob@example.com"],
        ['"Neil, O." <neil@example.com>'],
        ["ann@example.com (Ann)"],
        ["a..b@example.com", ".a@example.com", "a@example.com."],
        ["ann@[192.0.2.1]"],
    ],
)
def test_addresses_are_those_the_parser_finds(recipients):
    from email.utils import getaddresses

    from sendvia.domain.outgoing import addresses

    assert addresses(recipients) == [address for _, address in getaddresses(recipients)]


def test_whatever_is_written_the_addresses_are_those_the_parser_finds():
    """Plain addresses are taken as written (most of them, a few times per email); the
    answer must be the parser's, whatever the recipient holds."""
    from email.utils import getaddresses

    from hypothesis import given, settings
    from hypothesis import strategies as st
    from sendvia.domain.outgoing import addresses

    written = st.lists(st.sampled_from(ADDRESS_PIECES), min_size=1, max_size=12).map("".join)

    @settings(max_examples=2000, deadline=None)
    @given(st.lists(written, min_size=1, max_size=3))
    def same(recipients: list[str]) -> None:
        assert addresses(recipients) == [address for _, address in getaddresses(recipients)]

    same()


def test_whatever_the_address_mail_and_rcpt_carry_it_as_smtplib_quotes_it():
    import smtplib

    from hypothesis import given, settings
    from hypothesis import strategies as st
    from sendvia.adapters.smtp_envelope import quoted

    @settings(max_examples=2000, deadline=None)
    @given(st.lists(st.sampled_from(ADDRESS_PIECES), min_size=0, max_size=12).map("".join))
    def same(address: str) -> None:
        assert quoted(address) == smtplib.quoteaddr(address)

    same()


def test_a_message_written_as_given_gets_the_verdict_reading_it_back_would_give():
    """Whatever the sender's name, the recipients, the Reply-To and the subject hold: when
    compose writes every header as given, and so reads back only the From, its verdict is the
    one of `_verify`, which parses the whole message as a server reads it."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from sendvia.domain import outgoing
    from sendvia.domain.outgoing import StoredContent, compose

    plain = st.from_regex(r"[a-z0-9.'+_-]{1,12}@[a-z0-9-]{1,10}\.(com|example)", fullmatch=True)
    garbage = st.lists(st.sampled_from(ADDRESS_PIECES), min_size=1, max_size=10).map("".join)
    written = plain | plain | plain | garbage
    typed = st.lists(st.sampled_from([*ADDRESS_PIECES, "  ", "\t", "\r\nBcc: e@evil.example"]))
    as_written, read_back = outgoing._verify_as_written, outgoing._verify
    compared = []

    def verdict(check) -> bool:
        try:
            check()
        except HeaderError:
            return False
        return True

    @settings(max_examples=1500, deadline=None)
    @given(
        name=typed.map("".join),
        to=st.lists(written, min_size=1, max_size=3),
        cc=st.lists(written, max_size=2),
        reply_to=st.none() | written,
        subject=typed.map("".join),
    )
    def same(name, to, cc, reply_to, subject) -> None:
        request = StoredContent(to=to, cc=cc, subject=subject, text="At 10.")
        sender = Mailbox(name, "noreply@platform.test")
        took = []
        outgoing._verify_as_written = lambda *_: took.append("as written")
        outgoing._verify = lambda *_: took.append("read back")
        try:
            composed = compose(request, sender=sender, reply_to=reply_to, message_id="<1@x>")
        except Exception:  # what the library makes of garbage is not the point:
            return  # refused, or not writable, before either check (validation refuses it)
        finally:
            outgoing._verify_as_written, outgoing._verify = as_written, read_back
        if took == ["as written"]:
            compared.append(composed.raw)
            assert verdict(lambda: as_written(sender)) == verdict(
                lambda: read_back(composed.raw, sender.address, request)
            )

    same()
    assert len(compared) > 50  # the cases that matter were drawn
