"""Ports and entry-point discovery of the local stack (no processes started)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from werkzeug.test import Client

from emulators import services, stack
from emulators.functions_host import build_app, entry_points

FIXTURE = Path(__file__).resolve().parent.parent / "test_functions" / "two_functions.py"


def test_test_profile_ports_differ_from_dev_ports():
    dev = services.ports_for("dev", {})
    test = services.ports_for("test", {})
    assert dev["functions"] == 8000
    assert not set(dev.values()) & set(test.values())


def test_ports_can_be_overridden_per_profile():
    assert services.ports_for("dev", {"SENDVIA_PORT_FIRESTORE": "8181"})["firestore"] == 8181
    assert services.ports_for("test", {"SENDVIA_TEST_PORT_AUTH": "19199"})["auth"] == 19199


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1"])
def test_a_bad_port_is_named_in_the_error(value):
    with pytest.raises(services.StackError, match="SENDVIA_PORT_FUNCTIONS"):
        services.ports_for("dev", {"SENDVIA_PORT_FUNCTIONS": value})


def test_a_busy_port_is_reported_with_the_way_out():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(services.StackError) as error:
            stack.refuse_busy_ports("dev", {"firestore": port})
    message = str(error.value)
    assert f"firestore port {port} already in use" in message
    assert "SENDVIA_PORT_FIRESTORE=" in message


def test_entry_points_are_the_decorated_functions():
    assert entry_points(FIXTURE) == ["hello", "echo"]


def test_host_serves_each_entry_point_at_its_name():
    client = Client(build_app(FIXTURE))
    hello = client.get("/hello/sub/path")
    assert hello.status_code == 200
    assert hello.json == {"function": "hello", "path": "/sub/path"}
    assert client.post("/echo", json={"a": 1}).json == {"function": "echo", "body": {"a": 1}}
    assert client.get("/hello").json == {"function": "hello", "path": "/"}
    assert client.get("/_health").json == {"ok": True, "functions": ["hello", "echo"]}
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"


def test_a_missing_firestore_jar_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("FIRESTORE_EMULATOR_JAR", str(tmp_path / "missing.jar"))
    with pytest.raises(services.StackError) as error:
        services.check_prerequisites()
    message = str(error.value)
    assert "Firestore emulator is missing" in message
    assert "gcloud components install cloud-firestore-emulator" in message
    assert "FIRESTORE_EMULATOR_JAR" in message
