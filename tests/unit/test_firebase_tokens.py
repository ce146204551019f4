"""ID tokens as production sees them: signed by a key of Google's (here, one made for the test),
checked against the certificates and the account. The stack's emulator issues unsigned tokens,
so this is where the signature checks are proven; the HTTP answers are stubs."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt
from sendvia.adapters.firebase_identity import FirebaseIdentity
from sendvia.errors import Unauthenticated

from emulators.event_signer import self_signed

PROJECT = "clinic-prod"


def key_and_cert() -> tuple[Any, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, "securetoken", days=1)
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


GOOGLE_KEY, GOOGLE_CERT = key_and_cert()
OTHER_KEY, _ = key_and_cert()


def signed(key: Any = GOOGLE_KEY, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "sub": "ann",
        "auth_time": now - 60,
        "iat": now - 60,
        "exp": now + 3600,
        "tenant_id": "riverside",
        "role": "admin",
        "email": "ann@riverside.example",
        **changes,
    }
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signer = crypt.RSASigner.from_string(pem, key_id="k1")
    return jwt.encode(signer, claims).decode()  # type: ignore[no-untyped-call]


class Answer:
    def __init__(self, status: int, body: Any) -> None:
        self.status = self.status_code = status
        self.data = json.dumps(body).encode()
        self.headers: dict[str, str] = {}

    def json(self) -> Any:
        return json.loads(self.data)


class Google:
    """The certificates' URL and Identity Toolkit's accounts:lookup, as stubs."""

    def __init__(self, account: dict[str, Any] | None) -> None:
        self.account = account
        self.lookups: list[Any] = []

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Answer:
        return Answer(200, {"k1": GOOGLE_CERT})

    def post(self, url: str, json: Any, timeout: float) -> Answer:
        self.lookups.append((url, json))
        return Answer(200, {"users": [self.account]} if self.account else {})


def identity(account: dict[str, Any] | None = None, **fields: Any) -> FirebaseIdentity:
    verifier = FirebaseIdentity(PROJECT)
    google = Google(
        account
        if account is not None
        else {
            "localId": "ann",
            "customAttributes": json.dumps({"tenant_id": "riverside", "role": "admin"}),
            **fields,
        }
    )
    verifier._certs = google  # type: ignore[assignment]
    verifier._session = google
    return verifier


def refused(verifier: FirebaseIdentity, token: str) -> str:
    with pytest.raises(Unauthenticated) as raised:
        verifier.verify(token)
    return raised.value.code


def test_a_token_signed_by_google_for_this_project_is_the_account_s_principal():
    principal = identity().verify(signed())
    assert (principal.tenant_id, principal.uid, principal.role.value) == (
        "riverside",
        "ann",
        "admin",
    )


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (signed(OTHER_KEY), "invalid_token"),  # a key that is not Google's
        (signed(aud="another-project"), "invalid_token"),
        (signed(iss="https://securetoken.google.com/another-project"), "invalid_token"),
        (signed(sub=""), "invalid_token"),
        (signed(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), "token_expired"),
        (signed(auth_time=int(time.time()) + 3600), "invalid_token"),
    ],
)
def test_tokens_google_did_not_sign_for_this_project_now_are_refused(token, code):
    assert refused(identity(), token) == code


def test_an_unsigned_token_is_refused_outside_the_emulator():
    header, payload, _ = signed().split(".")
    unsigned = f"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."
    assert refused(identity(), unsigned) == "invalid_token"
    assert header != "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"


def test_the_account_decides_disabled_revoked_removed_and_changed_claims():
    now = int(time.time())
    assert refused(identity(disabled=True), signed()) == "user_disabled"
    assert refused(identity(validSince=str(now)), signed()) == "token_revoked"
    assert refused(identity(account={}), signed()) == "invalid_token"  # no such user
    demoted = json.dumps({"tenant_id": "riverside", "role": "member"})
    assert refused(identity(customAttributes=demoted), signed()) == "invalid_token"


def test_one_lookup_per_request_of_the_token_s_own_user():
    verifier = identity()
    verifier.verify(signed())
    [(url, body)] = verifier._session.lookups
    assert url.endswith(f"/v1/projects/{PROJECT}/accounts:lookup")
    assert body == {"localId": ["ann"]}
