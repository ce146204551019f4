"""Signatures of the email services' webhooks: right ones pass; tampered, unsigned, replayed and
foreign ones do not."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from sendvia.adapters.webhook_signatures import (
    SignatureError,
    SnsVerifier,
    cert_url_allowed,
    sns_string_to_sign,
    verify_sendgrid,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(
    EC_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def sign_sendgrid(body: bytes, at: dt.datetime = NOW) -> tuple[str, str]:
    stamp = str(int(at.timestamp()))
    signature = EC_KEY.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode(), stamp


def test_a_sendgrid_signature_is_checked():
    body = b'[{"event": "bounce"}]'
    signature, stamp = sign_sendgrid(body)
    verify_sendgrid(PUBLIC, body, signature, stamp, NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify_sendgrid(PUBLIC, body.replace(b"bounce", b"delivered"), signature, stamp, NOW)
    with pytest.raises(SignatureError, match="not signed"):
        verify_sendgrid(PUBLIC, body, "", stamp, NOW)
    old_signature, old_stamp = sign_sendgrid(body, NOW - dt.timedelta(hours=1))
    with pytest.raises(SignatureError, match="too old"):
        verify_sendgrid(PUBLIC, body, old_signature, old_stamp, NOW)
    with pytest.raises(SignatureError, match="malformed"):
        verify_sendgrid(PUBLIC, body, "***", stamp, NOW)


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.us-east-1.amazonaws.com")])
CERT = (
    x509.CertificateBuilder()
    .subject_name(NAME)
    .issuer_name(NAME)
    .public_key(RSA_KEY.public_key())
    .serial_number(1)
    .not_valid_before(NOW - dt.timedelta(days=1))
    .not_valid_after(NOW + dt.timedelta(days=1))
    .sign(RSA_KEY, hashes.SHA256())
)
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"


def sns_message(version: str = "2", **changes: str) -> dict[str, str]:
    message = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
        "Message": '{"notificationType": "Bounce"}',
        "Timestamp": "2026-11-23T11:59:00.000Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
    }
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303
    signature = RSA_KEY.sign(sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    return {**message, "Signature": base64.b64encode(signature).decode(), **changes}


def verifier() -> SnsVerifier:
    return SnsVerifier((), fetch=lambda url: CERT.public_bytes(serialization.Encoding.PEM))


@pytest.mark.parametrize("version", ["1", "2"])
def test_an_sns_signature_is_checked(version):
    verifier().verify(sns_message(version), NOW)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"Message": '{"notificationType": "Delivery"}'}, "does not match"),
        ({"Timestamp": "2026-11-23T09:00:00.000Z"}, "too old"),
        ({"SignatureVersion": "3"}, "SignatureVersion"),
        ({"SigningCertURL": "https://evil.example/cert.pem"}, "not Amazon"),
        ({"SigningCertURL": "http://sns.us-east-1.amazonaws.com/x.pem"}, "not Amazon"),
        ({"Signature": "***"}, "base64"),
    ],
)
def test_tampered_or_foreign_sns_messages_are_refused(changes, why):
    with pytest.raises(SignatureError, match=why):
        verifier().verify(sns_message(**changes), NOW)


def test_cert_urls():
    assert cert_url_allowed(CERT_URL, ())
    assert not cert_url_allowed("https://sns.us-east-1.amazonaws.com.evil.example/x.pem", ())
    assert cert_url_allowed("http://127.0.0.1:8300/sns/cert.pem", ("http://127.0.0.1:8300/",))
