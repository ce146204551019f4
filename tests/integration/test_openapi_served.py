"""The local functions host serves the contract it runs, with itself as the server."""

from __future__ import annotations

import json
import os

import requests

from tools.openapi import PUBLISHED


def test_the_host_serves_the_published_contract_with_itself_as_server() -> None:
    base = os.environ["SENDVIA_FUNCTIONS_URL"]
    served = requests.get(f"{base}/_openapi.json", timeout=30).json()
    published = json.loads(PUBLISHED.read_text())
    assert served["servers"] == [{"url": base}]
    assert served["paths"] == published["paths"]
    assert served["components"] == published["components"]
