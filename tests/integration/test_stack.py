"""The local stack as a user drives it: up, a second up, down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from emulators import stack
from emulators.functions_host import DEFAULT_SOURCE, entry_points

ROOT = Path(__file__).resolve().parents[2]


def test_running_stack_serves_every_function_of_main():
    health = requests.get(f"{os.environ['SENDVIA_FUNCTIONS_URL']}/_health", timeout=5).json()
    assert health["functions"] == entry_points(DEFAULT_SOURCE)


def test_a_second_up_says_it_is_running_instead_of_starting_twice():
    profile = next(
        p
        for p in ("test", "dev")
        if (stack.state_dir(p) / "env").exists()
        and os.environ["FIRESTORE_EMULATOR_HOST"] in (stack.state_dir(p) / "env").read_text()
    )
    with pytest.raises(stack.AlreadyRunning) as running:
        stack.up(profile, quiet=True)
    assert running.value.env["FIRESTORE_EMULATOR_HOST"] == os.environ["FIRESTORE_EMULATOR_HOST"]


def test_up_then_down_stops_exactly_what_up_started():
    """…and a test stack starts with empty mailboxes, as its emulators start with no data,
    its mail users and their passwords kept."""
    folder = stack.state_dir("scratch") / "dovecot"
    left = folder / "mail" / "clinic.test" / "reception" / "Maildir" / "cur" / "1.earlier-run:2,S"
    left.parent.mkdir(parents=True, exist_ok=True)
    left.write_bytes(b"Subject: from an earlier run\r\n\r\nStill here?\r\n")
    users = folder / "users"
    known_users = users.read_text() if users.exists() else None
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        result = subprocess.run(
            [sys.executable, "-m", "emulators.stack", "up", "--profile", "scratch"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr
        assert "The scratch stack is ready" in result.stdout
        state = stack._read_state(stack.state_dir("scratch"))
        assert state is not None
        pids = [entry["pid"] for entry in state["processes"].values()]
        assert set(state["processes"]) == {
            "firestore",
            "auth",
            "secretmanager",
            "fake_google",
            "fake_microsoft",
            "dns",
            "cloudtasks",
            "event_signer",
            "dovecot",
            "mail_sink",
            "relay",
            "functions",
            "web",
        }
        assert all(Path(f"/proc/{pid}").exists() for pid in pids)
        env = (stack.state_dir("scratch") / "env").read_text()
        for name in (
            "GOOGLE_CLOUD_PROJECT",
            "FIRESTORE_EMULATOR_HOST",
            "FIREBASE_AUTH_EMULATOR_HOST",
            "SECRET_MANAGER_EMULATOR_HOST",
            "CLOUD_TASKS_EMULATOR_HOST",
            "SENDVIA_WEB_URL",
        ):
            assert f"export {name}=" in env
        # A person can sign in to the reference app at once: the demo users are printed.
        assert "admin@demo-clinic.test / sendvia-demo" in result.stdout
        assert not left.exists()
        assert known_users is None or users.read_text() == known_users
        down = subprocess.run(
            [sys.executable, "-m", "emulators.stack", "down", "--profile", "scratch"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert down.returncode == 0
        assert all(not stack._alive(e) for e in state["processes"].values())
        assert bystander.poll() is None  # not ours to stop
        assert not (stack.state_dir("scratch") / "state.json").exists()
    finally:
        bystander.kill()
        bystander.wait()
        stack.down("scratch", quiet=True)
