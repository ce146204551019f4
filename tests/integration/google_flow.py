"""A person's browser going through "Sign in with Google" against the fake Google.

It does what a person does: open the link sendvia gave, fill in the account on the consent page,
untick what they do not want, press Allow or Cancel, and follow the redirects back. Each Browser
has its own cookies, like a real one.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import requests

from tests.integration.api import call

GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
GMAIL_READ = "https://www.googleapis.com/auth/gmail.readonly"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
_BOX = re.compile(r'<input type="checkbox" name="scope" value="([^"]+)" checked>')


@dataclass
class Outcome:
    status: int
    location: str
    body: str

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}


class Browser:
    def __init__(self) -> None:
        self.session = requests.Session()

    def open_link(self, url: str) -> requests.Response:
        return self.session.get(url, allow_redirects=False, timeout=30)

    def google_url(self, authorization_url: str) -> str:
        response = self.open_link(authorization_url)
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def consent(
        self, google_url: str, email: str, *, allow: bool = True, untick: tuple[str, ...] = ()
    ) -> str:
        """Fill in the consent page; returns where Google sends the browser (the callback)."""
        page = self.session.get(google_url, timeout=30)
        assert page.status_code == 200, page.text
        fields = [(k, html.unescape(v)) for k, v in _HIDDEN.findall(page.text)]
        fields += [
            ("scope", html.unescape(s))
            for s in _BOX.findall(page.text)
            if html.unescape(s) not in untick
        ]
        fields += [("email", email), ("decision", "allow" if allow else "cancel")]
        base = os.environ["FAKE_GOOGLE_URL"]
        answer = self.session.post(
            f"{base}/o/oauth2/v2/auth", data=fields, allow_redirects=False, timeout=30
        )
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def land(self, callback_url: str) -> Outcome:
        response = self.open_link(callback_url)
        return Outcome(response.status_code, response.headers.get("Location", ""), response.text)

    def connect(self, authorization_url: str, email: str, **consent: object) -> Outcome:
        callback = self.consent(self.google_url(authorization_url), email, **consent)  # type: ignore[arg-type]
        return self.land(callback)


def start(
    token: str,
    mailbox: str = "tenant",
    *,
    receive: bool = False,
    return_to: str = "https://app.clinic.example/settings/email",
) -> str:
    response = call(
        "POST",
        "oauth_start",
        bearer=token,
        body={"provider": "google", "mailbox": mailbox, "receive": receive, "return_to": return_to},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["authorization_url"])


def fake(path: str, method: str = "GET", **kwargs: object) -> requests.Response:
    return requests.request(method, f"{os.environ['FAKE_GOOGLE_URL']}{path}", timeout=30, **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def gmail_drops_the_answer() -> Iterator[None]:
    """The fake Google sends each message, then closes the connection without answering."""
    fake("/_fake/faults", "POST", json={"drop_after_send": 1.0})
    try:
        yield
    finally:
        fake("/_fake/faults", "POST", json={})
