"""Reading a message into correspondence: what is kept, and nothing a sender writes can make
reading it fail."""

from __future__ import annotations

import pytest
from sendvia.domain.incoming import BODY_LIMIT, parse

PLAIN = (
    b"From: Jo Patel <JO@Example.org>\r\nTo: desk@clinic.test\r\nCc: sam@example.org\r\n"
    b"Subject: Re: Monday\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <reply-1@example.org>\r\nIn-Reply-To: <first@clinic.test>\r\n"
    b"References: <root@clinic.test> <first@clinic.test>\r\n\r\nSee you then.\r\n"
)


def test_a_reply_is_read_into_who_what_when_and_its_thread() -> None:
    found = parse(PLAIN)
    assert found.sender is not None and found.sender.address == "jo@example.org"
    assert [p.address for p in found.to] == ["desk@clinic.test"]
    assert [p.address for p in found.cc] == ["sam@example.org"]
    assert found.subject == "Re: Monday"
    assert found.message_id == "reply-1@example.org"
    assert found.thread == "root@clinic.test"
    assert found.text == "See you then."
    assert found.key() == parse(PLAIN.replace(b"Re: Monday", b"Re: Monday")).key()


def test_the_body_is_capped_html_read_as_text_and_attachments_named_not_kept() -> None:
    raw = (
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>there</b>&amp; "
        + b"x"
        * (BODY_LIMIT + 10)
        + b"</p><script>steal()</script>\r\n--b\r\n"
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="a.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    )
    found = parse(raw)
    assert found.text.startswith("Hello there& x")
    assert "steal" not in found.text
    assert len(found.text) == BODY_LIMIT and found.text_truncated
    [pdf] = found.attachments
    assert (pdf.filename, pdf.content_type, pdf.size) == ("a.pdf", "application/pdf", 9)


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a@example.org\r\nSubject: =?utf-8?b?a?=\r\n\r\nbody\r\n",
        b"From: a@example.org\r\nSubject: =?x-unknown?q?a?=\r\n\r\nbody\r\n",
        b'From: a@example.org\r\nContent-Type: text/plain; charset="utf\x008"\r\n\r\nbody\r\n',
        b"From: a@example.org\r\nContent-Type: text/plain; charset=nope\r\n\r\nb\xffody\r\n",
        b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%E2%28%A1\r\n\r\nx\r\n--z--\r\n",
        b"From: <<>>@@\r\nTo: ,,,;;\r\nDate: yesterday\r\n\r\n",
        b"\x00\x01\x02 not a message at all",
        b"",
    ],
)
def test_nothing_a_sender_writes_makes_reading_fail(raw: bytes) -> None:
    found = parse(raw)
    assert isinstance(found.text, str)
    assert found.key()
