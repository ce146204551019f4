"""Bounce and complaint reports as each sender writes them (emulators/bounces), read into the
events that feed suppression."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy

import pytest
from sendvia.domain import provider_events as pe
from sendvia.domain.incoming import parse
from sendvia.domain.reports import Outcome, read_report

from emulators.bounces import render

ORIGINAL = "20261201.abc123@sendvia.riverside.example"
AT = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def report_of(sample: str, recipient: str = "gone@example.org"):  # type: ignore[no-untyped-def]
    raw = render(sample, original_id=ORIGINAL, recipient=recipient, receiver="desk@clinic.example")
    message = message_from_bytes(raw, policy=policy.compat32)
    return read_report(message, parse(raw).message_id or "x", AT)


@pytest.mark.parametrize(
    ("sample", "status", "diagnostic_start"),
    [
        ("gmail_failure", "5.1.1", "550 5.1.1 The email account"),
        ("exchange_ndr", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound"),
        ("postfix_dsn", "5.1.1", "550 5.1.1 <gone@example.org>"),
    ],
)
def test_each_senders_permanent_failure_names_the_original_address_status_and_cause(
    sample: str, status: str, diagnostic_start: str
) -> None:
    report = report_of(sample)
    assert report is not None
    assert report.about[0] == ORIGINAL
    [failed] = report.recipients
    assert (failed.address, failed.outcome, failed.status) == (
        "gone@example.org",
        Outcome.FAILED,
        status,
    )
    assert failed.diagnostic.startswith(diagnostic_start)
    assert failed.hard
    [event] = report.events(ORIGINAL, "t", "d", ("gone@example.org",))
    assert event.kind is pe.EventKind.BOUNCED and event.hard
    assert event.reason.startswith(status)


def test_a_delayed_report_is_a_deferral_that_suppresses_nothing() -> None:
    report = report_of("postfix_delayed")
    assert report is not None
    [delayed] = report.recipients
    assert (delayed.outcome, delayed.status, delayed.hard) == (Outcome.DELAYED, "4.4.1", False)
    [event] = report.events(ORIGINAL, "t", "d", ("gone@example.org",))
    updated, suppressed = pe.apply(pe.recipient_from_doc("gone@example.org", None), event)
    assert not suppressed and updated.status is pe.Status.ACTIVE


def test_an_abuse_report_is_a_complaint_about_the_original() -> None:
    report = report_of("arf_complaint")
    assert report is not None and report.kind == "feedback-report"
    assert report.about[0] == ORIGINAL
    [event] = report.events(ORIGINAL, "t", "d", ("gone@example.org",))
    assert (event.kind, event.address) == (pe.EventKind.COMPLAINED, "gone@example.org")


def test_a_complaint_with_the_complainant_redacted_is_placed_only_on_a_one_recipient_email() -> (
    None
):
    raw = render(
        "arf_complaint", original_id=ORIGINAL, recipient="x", receiver="desk@clinic.example"
    ).replace(b"Original-Rcpt-To: <x>", b"Original-Rcpt-To: <redacted>")
    report = read_report(message_from_bytes(raw, policy=policy.compat32), "r1", AT)
    assert report is not None
    assert [e.address for e in report.events(ORIGINAL, "t", "d", ("jo@example.org",))] == [
        "jo@example.org"
    ]
    assert report.events(ORIGINAL, "t", "d", ("a@example.org", "b@example.org")) == []


def test_a_bounce_in_no_standard_form_is_read_by_flufl_bounce() -> None:
    report = report_of("qmail_bounce")
    assert report is not None and report.kind == "non-standard"
    assert [r.address for r in report.recipients] == ["gone@example.org"]
    assert report.about[0] == ORIGINAL  # the copy quoted in its text


def test_an_ordinary_message_or_a_reply_is_no_report() -> None:
    raw = (
        b"From: Jo <jo@example.org>\r\nTo: desk@clinic.example\r\nSubject: Undeliverable: x\r\n"
        b"In-Reply-To: <" + ORIGINAL.encode() + b">\r\n\r\nThanks, see you then.\r\n"
    )
    assert read_report(message_from_bytes(raw, policy=policy.compat32), "r", AT) is None


def test_a_success_notice_is_no_report() -> None:
    raw = render(
        "postfix_dsn", original_id=ORIGINAL, recipient="ok@example.org", receiver="d@c.example"
    ).replace(b"Action: failed", b"Action: delivered")
    assert read_report(message_from_bytes(raw, policy=policy.compat32), "r", AT) is None
