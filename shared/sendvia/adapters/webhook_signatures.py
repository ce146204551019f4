"""Who sent a webhook: SendGrid's ECDSA signature and Amazon SNS's RSA signature, checked.

SendGrid (twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-
security-features): ECDSA P-256 with SHA-256 over the `X-Twilio-Email-Event-Webhook-Timestamp`
header followed by the raw body; the signature (base64, ASN.1 DER) in
`X-Twilio-Email-Event-Webhook-Signature`; the public key (base64 DER SubjectPublicKeyInfo) from the
account's mail settings.

SNS (docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html): the message's fields
in a fixed order, `Name\\nvalue\\n`, signed with RSA — SHA1 for SignatureVersion 1, SHA256 for
2 — by the certificate at SigningCertURL, which must be Amazon's (https, host
`sns.<region>.amazonaws.com`) or one the deployment names (the local stack's signer).

A timestamp older than the tolerance is a replay and refused, whatever its signature.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from sendvia.domain.provider_events import SignatureError

SENDGRID_TOLERANCE = dt.timedelta(minutes=10)
SNS_TOLERANCE = dt.timedelta(hours=1)
_AMAZON_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SUBSCRIPTION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


def verify_sendgrid(
    public_key_b64: str, body: bytes, signature_b64: str, timestamp: str, now: dt.datetime
) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if not signature_b64 or not timestamp:
        raise SignatureError("the request is not signed")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise SignatureError("the signature's timestamp is not a time")
    try:
        signed_at = dt.datetime.fromtimestamp(int(timestamp[:12]), dt.UTC)
    except (ValueError, OverflowError, OSError) as exc:  # year 33658, say
        raise SignatureError("the signature's timestamp is not a time") from exc
    if abs(now - signed_at) > SENDGRID_TOLERANCE:
        raise SignatureError("the signature is too old (a replay?)")
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key_b64))
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise SignatureError("the signature or the key is malformed") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureError("the configured key is not an ECDSA key")
    try:
        key.verify(signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise SignatureError("the signature does not match") from exc


def sns_string_to_sign(message: Mapping[str, Any]) -> bytes:
    kind = message.get("Type")
    fields = _NOTIFICATION_FIELDS if kind == "Notification" else _SUBSCRIPTION_FIELDS
    parts = []
    for name in fields:
        value = message.get(name)
        if value is None and name == "Subject":
            continue
        if not isinstance(value, str):
            raise SignatureError(f"{name} is missing")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode()


def cert_url_allowed(url: str, extra_prefixes: tuple[str, ...]) -> bool:
    """A signing certificate's URL: Amazon SNS's own (a .pem), or under a configured prefix."""
    return sns_url_allowed(url, extra_prefixes) and (
        urlsplit(url).path.endswith(".pem") or _configured(url, extra_prefixes)
    )


def sns_url_allowed(url: str, extra_prefixes: tuple[str, ...]) -> bool:
    """An https URL of Amazon SNS (any region), or one under a configured prefix."""
    if _configured(url, extra_prefixes):
        return True
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(_AMAZON_SNS_HOST.match(parts.hostname or ""))


def _configured(url: str, extra_prefixes: tuple[str, ...]) -> bool:
    """Under a configured prefix, read as a whole path: `https://signer.test` does not admit
    `https://signer.test.evil.net/…` (a prefix without its slash gets one)."""
    return any(
        url.startswith(prefix if prefix.endswith("/") else f"{prefix}/")
        for prefix in extra_prefixes
    )


MAX_CERTS = 64  # SNS signs with one certificate per region at a time


class SnsVerifier:
    """Checks SNS messages; signing certificates are fetched once per URL and kept."""

    def __init__(
        self, extra_prefixes: tuple[str, ...], fetch: Callable[[str], bytes] | None = None
    ) -> None:
        self._extra = extra_prefixes
        self._fetch = fetch or _fetch
        self._certs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def url_allowed(self, url: str) -> bool:
        return cert_url_allowed(url, self._extra)

    def subscribe_url_allowed(self, url: str) -> bool:
        return sns_url_allowed(url, self._extra)

    def verify(self, message: Mapping[str, Any], now: dt.datetime) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        version = message.get("SignatureVersion")
        algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(str(version))  # noqa: S303
        if algorithm is None:
            raise SignatureError("SignatureVersion must be 1 or 2")
        url = message.get("SigningCertURL")
        if not isinstance(url, str) or not self.url_allowed(url):
            raise SignatureError("SigningCertURL is not Amazon SNS's")
        stamp = message.get("Timestamp")
        try:
            sent_at = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError as exc:
            raise SignatureError("Timestamp is not a time") from exc
        if sent_at.tzinfo is None or abs(now - sent_at) > SNS_TOLERANCE:
            raise SignatureError("the message is too old (a replay?)")
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except (ValueError, binascii.Error) as exc:
            raise SignatureError("Signature is not base64") from exc
        key = self._certificate(url, now).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SignatureError("the signing certificate has no RSA key")
        try:
            key.verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
        except InvalidSignature as exc:
            raise SignatureError("the signature does not match") from exc

    def _certificate(self, url: str, now: dt.datetime) -> Any:
        from cryptography import x509

        with self._lock:
            cert = self._certs.get(url)
        if cert is None:
            try:
                cert = x509.load_pem_x509_certificate(self._fetch(url))
            except (ValueError, OSError) as exc:
                raise SignatureError("the signing certificate could not be read") from exc
            with self._lock:
                if len(self._certs) >= MAX_CERTS:  # URLs come from requests: keep a few
                    self._certs.pop(next(iter(self._certs)))
                self._certs[url] = cert
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise SignatureError("the signing certificate is not valid now")
        return cert


def _fetch(url: str) -> bytes:
    import requests

    response = requests.get(url, timeout=10, allow_redirects=False)
    if response.status_code != 200:
        raise OSError(f"{url} answered {response.status_code}")
    return response.content[:65536]


class WebhookVerifier:
    """ports.WebhookSignatures: SendGrid's ECDSA and SNS's RSA checks, and SNS subscriptions."""

    def __init__(
        self, sns_cert_url_prefixes: tuple[str, ...], fetch: Callable[[str], bytes] | None = None
    ) -> None:
        self._sns = SnsVerifier(sns_cert_url_prefixes, fetch)
        self._extra = sns_cert_url_prefixes

    def verify_sendgrid(
        self,
        public_key_b64: str,
        body: bytes,
        signature_b64: str,
        timestamp: str,
        now: dt.datetime,
    ) -> None:
        verify_sendgrid(public_key_b64, body, signature_b64, timestamp, now)

    def verify_sns(self, message: Mapping[str, Any], now: dt.datetime) -> None:
        self._sns.verify(message, now)

    def confirm_sns_subscription(self, subscribe_url: str) -> bool:
        """SNS asks the endpoint to confirm a new subscription by visiting SubscribeURL."""
        if not sns_url_allowed(subscribe_url, self._extra):
            raise SignatureError("SubscribeURL is not Amazon SNS's")
        import requests

        answer = requests.get(subscribe_url, timeout=10, allow_redirects=False)
        return answer.status_code == 200
