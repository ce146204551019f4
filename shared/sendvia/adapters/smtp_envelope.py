"""The envelope of an email on an SMTP connection — MAIL, each RCPT, DATA — up to the server's
354, or the reason it cannot go: the sender refused, every recipient refused, or some of them.

A server that offers PIPELINING (RFC 2920: Gmail, Microsoft 365, Dovecot) gets the commands in
one write and answers them in order; one that does not, each after the last was answered.
"""

from __future__ import annotations

import contextlib
import smtplib

from sendvia.adapters.mail_sockets import abandon
from sendvia.adapters.mail_steps import StepFailed, text_of
from sendvia.domain.outgoing import PLAIN_ADDRESS


def envelope(client: smtplib.SMTP, sender: str, recipients: list[str]) -> None:
    """Raises the server's refusal (smtplib's exceptions, or StepFailed "rejected" for some of
    the recipients); on return the server waits for the message data."""
    if client.has_extn("pipelining"):
        _pipelined(client, sender, recipients)
    else:
        _one_by_one(client, sender, recipients)


def quoted(address: str) -> str:
    """The address as MAIL and RCPT carry it, as smtplib quotes it: a plain one as it is."""
    if PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def _one_by_one(client: smtplib.SMTP, sender: str, recipients: list[str]) -> None:
    """MAIL, each RCPT and DATA, each answered before the next is sent."""
    code, text = client.docmd("mail", f"FROM:{quoted(sender)}")  # smtplib's mail(), no options
    if code != 250:
        _reset(client)
        raise smtplib.SMTPSenderRefused(code, text, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    try:
        for recipient in recipients:
            code, text = client.docmd("rcpt", f"TO:{quoted(recipient)}")
            if code not in (250, 251):
                refused[recipient] = (code, text)
    except smtplib.SMTPServerDisconnected:
        known = _recipients_refusal(refused, recipients)
        if known is None:
            raise
        raise known from None  # it may hang up after a refusal: that refusal is the answer
    refusal = _recipients_refusal(refused, recipients)
    if refusal is None:
        code, text = client.docmd("DATA")
        if code == 354:
            return
        refusal = smtplib.SMTPDataError(code, text)
    _reset(client)
    raise refusal


def _pipelined(client: smtplib.SMTP, sender: str, recipients: list[str]) -> None:
    """MAIL, every RCPT and DATA in one write, then their replies in order: two round trips
    fewer per email, for most of the CPU of talking to the server (bench/pipeline.py).

    When the server refused the sender or a recipient but still said 354 to DATA, it waits
    for the message: hanging up is the one way to deliver nothing (a server discards a
    message whose data did not end, RFC 5321 §4.1.1.4), so the connection is abandoned."""
    commands = [
        f"mail FROM:{quoted(sender)}",
        *(f"rcpt TO:{quoted(recipient)}" for recipient in recipients),
        "data",
    ]
    if any("\r" in command or "\n" in command for command in commands):
        raise ValueError("command and arguments contain prohibited newline characters")
    client.send("".join(f"{command}\r\n" for command in commands))
    mail: tuple[int, bytes] | None = None
    refused: dict[str, tuple[int, bytes]] = {}
    try:
        mail = client.getreply()
        for recipient in recipients:
            code, text = client.getreply()
            if code not in (250, 251):
                refused[recipient] = (code, text)
        code, text = client.getreply()
    except smtplib.SMTPServerDisconnected:
        # A server may hang up after a refusal (a DATA with no one to deliver to, too many
        # unknown recipients): the refusal it gave is the answer.
        known = _refusal(sender, mail, refused, recipients) if mail is not None else None
        if known is None:
            raise
        raise known from None
    refusal = _refusal(sender, mail, refused, recipients)
    if refusal is None and code == 354:
        return
    if code == 354:
        abandon(client)
    else:
        _reset(client)
    raise refusal or smtplib.SMTPDataError(code, text)


def _reset(client: smtplib.SMTP) -> None:
    """RSET, so that the connection can carry the next email; if the server has hung up, the
    refusal it gave is what counts (the connection is not kept after a failed step)."""
    with contextlib.suppress(smtplib.SMTPServerDisconnected, OSError):
        client.rset()


def _refusal(
    sender: str,
    mail: tuple[int, bytes],
    refused: dict[str, tuple[int, bytes]],
    recipients: list[str],
) -> Exception | None:
    """Why the envelope cannot go, if it cannot: the sender refused, or the recipients."""
    if mail[0] != 250:
        return smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
    return _recipients_refusal(refused, recipients)


def _recipients_refusal(
    refused: dict[str, tuple[int, bytes]], recipients: list[str]
) -> Exception | None:
    """Every recipient refused, or some of them (sending to the others would deliver part of
    an email: it is refused whole, with the server's words)."""
    if len(refused) == len(recipients):
        return smtplib.SMTPRecipientsRefused(refused)
    if refused:
        code, text = next(iter(refused.values()))
        return StepFailed("rejected", f"{code} {text_of(text)}")
    return None
