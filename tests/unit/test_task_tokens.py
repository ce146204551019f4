"""Cloud Tasks' and Cloud Scheduler's OIDC tokens as production sees them: signed by a key of
Google's (here, one made for the test) and published as a JWK set. The verifier parses the set
once per copy of it; these prove that what it accepts did not change with that."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from jwt.algorithms import RSAAlgorithm
from sendvia.adapters.oidc import GoogleOidc
from sendvia.errors import Forbidden, Unauthenticated

from tests.unit.test_firebase_tokens import GOOGLE_CERT, GOOGLE_KEY, OTHER_KEY, Answer

CERTS = "https://www.googleapis.com/oauth2/v3/certs"
AUDIENCE = "https://europe-west1-clinic.cloudfunctions.net/deliver"
ACCOUNT = "sendvia-tasks@clinic.iam.gserviceaccount.com"


def jwks(*keys: tuple[str, Any]) -> dict[str, Any]:
    listed = []
    for kid, key in keys:
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        listed.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
    return {"keys": listed}


def token(key: Any = GOOGLE_KEY, kid: str = "k1", **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "sub": "1234567890",
        "email": ACCOUNT,
        "email_verified": True,
        "iat": now - 10,
        "exp": now + 3600,
        **changes,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


class Certs:
    """The certificates' URL, as a stub that counts its fetches."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.fetches = 0

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Answer:
        self.fetches += 1
        return Answer(200, self.body)


def verifier(stub: Certs) -> GoogleOidc:
    oidc = GoogleOidc()
    oidc._certs._fetch = stub  # type: ignore[method-assign]
    return oidc


def verify(oidc: GoogleOidc, value: str, audience: str = AUDIENCE) -> None:
    oidc.verify(value, audience=audience, service_account=ACCOUNT, certs_url=CERTS)


def test_a_token_signed_by_a_published_key_is_accepted_and_the_keys_are_fetched_once():
    stub = Certs(jwks(("k0", OTHER_KEY), ("k1", GOOGLE_KEY)))
    oidc = verifier(stub)
    for _ in range(3):
        verify(oidc, token())
    assert stub.fetches == 1


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(lambda: token(key=OTHER_KEY), id="signed by another key"),
        pytest.param(lambda: token(kid="k9"), id="a key id not published"),
        pytest.param(lambda: token(aud="https://elsewhere.example/deliver"), id="another audience"),
        pytest.param(lambda: token(exp=int(time.time()) - 60), id="expired"),
        pytest.param(lambda: token()[:-4] + "AAAA", id="signature altered"),
        pytest.param(
            lambda: jwt.encode({"aud": AUDIENCE, "email": ACCOUNT}, "", algorithm="none"),
            id="unsigned",
        ),
        pytest.param(lambda: "not.a.token", id="garbage"),
    ],
)
def test_a_token_google_did_not_sign_for_this_url_is_refused(forged):
    oidc = verifier(Certs(jwks(("k1", GOOGLE_KEY))))
    with pytest.raises(Unauthenticated) as refused:
        verify(oidc, forged())
    assert refused.value.code == "invalid_token"


@pytest.mark.parametrize(
    "claims",
    [{"email": "someone@clinic.iam.gserviceaccount.com"}, {"email_verified": False}],
    ids=["another service account", "an unverified email"],
)
def test_a_token_of_another_caller_is_forbidden(claims):
    oidc = verifier(Certs(jwks(("k1", GOOGLE_KEY))))
    with pytest.raises(Forbidden):
        verify(oidc, token(**claims))


def test_a_key_published_after_our_copy_is_fetched_and_then_accepted(monkeypatch):
    stub = Certs(jwks(("k1", GOOGLE_KEY)))
    oidc = verifier(stub)
    verify(oidc, token())
    stub.body = jwks(("k1", GOOGLE_KEY), ("k2", OTHER_KEY))  # Google rotates its keys
    monkeypatch.setattr("sendvia.adapters.oidc.REFETCH_AFTER_S", 0.0)
    verify(oidc, token(key=OTHER_KEY, kid="k2"))
    assert stub.fetches == 2


def test_the_x509_form_of_the_certificates_is_still_understood():
    oidc = verifier(Certs({"k1": GOOGLE_CERT}))
    verify(oidc, token())
    with pytest.raises(Unauthenticated):
        verify(oidc, token(key=OTHER_KEY))


class Counted:
    """jwt.decode, counting the signatures it checks."""

    def __init__(self) -> None:
        self.checks = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.checks += 1
        return jwt.api_jwt.decode(*args, **kwargs)


def test_a_token_accepted_once_is_accepted_again_without_its_signature_checked(monkeypatch):
    decode = Counted()
    monkeypatch.setattr(jwt, "decode", decode)
    oidc = verifier(Certs(jwks(("k1", GOOGLE_KEY))))
    same = token()
    for _ in range(5):
        verify(oidc, same)
    assert decode.checks == 1
    verify(oidc, token(iat=int(time.time()) - 11))  # another token is checked
    assert decode.checks == 2


class ByUrl(Certs):
    """Certificates that differ by URL."""

    def __init__(self, bodies: dict[str, dict[str, Any]]) -> None:
        super().__init__({})
        self.bodies = bodies

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Answer:
        self.fetches += 1
        return Answer(200, self.bodies[url])


def flipped(value: str) -> str:
    """The token with one character of its signature changed."""
    return value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1:]


OTHER_CERTS = "https://certs.elsewhere.example/jwks"


@pytest.mark.parametrize(
    ("presented", "checks", "refusal"),
    [
        pytest.param(flipped, {}, Unauthenticated, id="one character of the signature changed"),
        pytest.param(
            lambda value: value,
            {"audience": "https://elsewhere.example/deliver"},
            Unauthenticated,
            id="another audience",
        ),
        pytest.param(
            lambda value: value,
            {"service_account": "someone@clinic.iam.gserviceaccount.com"},
            Forbidden,
            id="another service account",
        ),
        pytest.param(
            lambda value: value,
            {"certs_url": OTHER_CERTS},
            Unauthenticated,
            id="other certificates",
        ),
    ],
)
def test_what_was_accepted_stands_for_that_token_and_those_checks_only(presented, checks, refusal):
    stub = ByUrl({CERTS: jwks(("k1", GOOGLE_KEY)), OTHER_CERTS: jwks(("k1", OTHER_KEY))})
    oidc = verifier(stub)
    accepted = token()
    verify(oidc, accepted)
    asked = {"audience": AUDIENCE, "service_account": ACCOUNT, "certs_url": CERTS, **checks}
    with pytest.raises(refusal):
        oidc.verify(presented(accepted), **asked)


def test_a_token_is_accepted_again_no_longer_than_the_certificates_it_was_checked_with(
    monkeypatch,
):
    decode = Counted()
    monkeypatch.setattr(jwt, "decode", decode)
    oidc = verifier(Certs(jwks(("k1", GOOGLE_KEY))))
    now = time.time()
    same = token()
    monkeypatch.setattr(oidc._certs, "age", lambda url: 250.0)  # a copy kept 50 s more
    verify(oidc, same)
    set_clock(monkeypatch, now + 60)
    verify(oidc, same)
    assert decode.checks == 2  # checked again: its copy of the certificates is gone


def test_a_refused_token_is_refused_every_time():
    oidc = verifier(Certs(jwks(("k1", GOOGLE_KEY))))
    forged = token(key=OTHER_KEY)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            verify(oidc, forged)
    with pytest.raises(Forbidden):
        verify(oidc, token(email="someone@clinic.iam.gserviceaccount.com"))
    with pytest.raises(Forbidden):
        verify(oidc, token(email="someone@clinic.iam.gserviceaccount.com"))


def set_clock(monkeypatch: pytest.MonkeyPatch, at: float) -> None:
    """Our clock and PyJWT's, moved to `at`."""
    import datetime as dt

    class Shifted(dt.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return dt.datetime.fromtimestamp(at, tz)

    monkeypatch.setattr(time, "time", lambda: at)
    monkeypatch.setattr("jwt.api_jwt.datetime", Shifted)


def test_an_accepted_token_is_refused_once_it_expires_and_rechecked_with_fresh_keys(monkeypatch):
    decode = Counted()
    monkeypatch.setattr(jwt, "decode", decode)
    oidc = verifier(Certs(jwks(("k1", GOOGLE_KEY))))
    now = time.time()
    short = token(exp=int(now) + 60)
    verify(oidc, short)
    set_clock(monkeypatch, now + 61)
    with pytest.raises(Unauthenticated):
        verify(oidc, short)
    # A long-lived token is checked again when a copy of the certificates would be renewed:
    # a key Google withdrew stops counting.
    set_clock(monkeypatch, now)
    long = token()
    verify(oidc, long)
    checks = decode.checks
    set_clock(monkeypatch, now + 301)
    verify(oidc, long)
    assert decode.checks == checks + 1
