"""The local stand-in for the email services' signing: SendGrid's ECDSA key and an SNS signing
certificate, so tests and a person can post real, signed events to `provider_events`.

Keys are made once per stack (`ensure`) and sendvia is told the public halves through its usual
settings (SENDVIA_SENDGRID_PUBLIC_KEY; SENDVIA_SNS_CERT_URL_PREFIXES naming this server).

    POST /sendgrid/sign[?timestamp=UNIX]   body: the exact webhook body → {"headers": {…}}
    POST /ses/sign                         {"message": SES notification, "type", "timestamp",
                                            "message_id", "version"} → the signed SNS envelope
    GET  /sns/cert.pem                     the signing certificate (SigningCertURL)

    python -m emulators.event_signer --port 8300 --folder .stack/event-signer
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import threading
import uuid
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from emulators.http_json import JsonHandler

TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:sendvia-ses-events"


@dataclass(frozen=True)
class Keys:
    ec_key: ec.EllipticCurvePrivateKey
    rsa_key: rsa.RSAPrivateKey
    cert_pem: bytes

    @property
    def sendgrid_public_key(self) -> str:
        der = self.ec_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()


def self_signed(key: rsa.RSAPrivateKey, common_name: str, days: int) -> x509.Certificate:
    """A certificate of `key` signed by itself, valid from yesterday for `days` days (the
    stack's SNS signer; tests' stand-ins for Google's and Amazon's signing certificates)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def ensure(folder: Path) -> Keys:
    """The signer's keys, made on first use and kept in `folder` (readable by its owner only)."""
    folder.mkdir(parents=True, exist_ok=True)
    ec_file, rsa_file, cert_file = (folder / n for n in ("sendgrid.pem", "sns.pem", "sns.crt"))
    if not (ec_file.exists() and rsa_file.exists() and cert_file.exists()):
        ec_key = ec.generate_private_key(ec.SECP256R1())
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = self_signed(rsa_key, "sns.local.sendvia", days=3650)
        for path, data in (
            (ec_file, _pem(ec_key)),
            (rsa_file, _pem(rsa_key)),
            (cert_file, cert.public_bytes(serialization.Encoding.PEM)),
        ):
            path.write_bytes(data)
            path.chmod(0o600)
    ec_loaded = serialization.load_pem_private_key(ec_file.read_bytes(), None)
    rsa_loaded = serialization.load_pem_private_key(rsa_file.read_bytes(), None)
    if not isinstance(ec_loaded, ec.EllipticCurvePrivateKey) or not isinstance(
        rsa_loaded, rsa.RSAPrivateKey
    ):
        raise ValueError(f"unexpected keys in {folder}: remove the folder to make new ones")
    return Keys(ec_loaded, rsa_loaded, cert_file.read_bytes())


def _pem(key: Any) -> bytes:
    data: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


def sign_sendgrid(keys: Keys, body: bytes, timestamp: int) -> dict[str, str]:
    signature = keys.ec_key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp),
    }


def sign_sns(keys: Keys, request: dict[str, Any], cert_url: str) -> dict[str, str]:
    from sendvia.adapters.webhook_signatures import sns_string_to_sign

    message = request.get("message", {})
    kind = str(request.get("type", "Notification"))
    envelope = {
        "Type": kind,
        "MessageId": str(request.get("message_id") or uuid.uuid4()),
        "TopicArn": str(request.get("topic_arn") or TOPIC_ARN),
        "Message": message if isinstance(message, str) else json.dumps(message),
        "Timestamp": str(
            request.get("timestamp")
            or dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        ),
        "SignatureVersion": str(request.get("version", "2")),
        "SigningCertURL": cert_url,
    }
    if kind != "Notification":
        envelope["Token"] = uuid.uuid4().hex
        envelope["SubscribeURL"] = f"{cert_url.rsplit('/', 2)[0]}/sns/confirm"
    algorithm = hashes.SHA1() if envelope["SignatureVersion"] == "1" else hashes.SHA256()  # noqa: S303
    signature = keys.rsa_key.sign(sns_string_to_sign(envelope), padding.PKCS1v15(), algorithm)
    return {**envelope, "Signature": base64.b64encode(signature).decode()}


def serve(keys: Keys, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/sns/cert.pem":
                self.send_response(200)
                self.send_header("Content-Type", "application/x-pem-file")
                self.send_header("Content-Length", str(len(keys.cert_pem)))
                self.end_headers()
                self.wfile.write(keys.cert_pem)
            elif path in ("/healthz", "/sns/confirm"):
                self.send_json(200, {"ok": True})
            else:
                self.send_json(404, {"error": "not found"})

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if parts.path == "/sendgrid/sign":
                query = parse_qs(parts.query)
                stamp = int(query.get("timestamp", [dt.datetime.now(dt.UTC).timestamp()])[0])
                self.send_json(200, {"headers": sign_sendgrid(keys, body, stamp)})
            elif parts.path == "/ses/sign":
                cert_url = f"http://{host}:{port}/sns/cert.pem"
                self.send_json(200, sign_sns(keys, json.loads(body or b"{}"), cert_url))
            else:
                self.send_json(404, {"error": "not found"})

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="event-signer", daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="Signs email-service events for the local stack")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    server = serve(ensure(args.folder), args.host, args.port)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
