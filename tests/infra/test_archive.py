"""The source archive runs: dist/functions-source.zip, unzipped into a folder of its own, in a
clean virtual environment made from its requirements.txt alone, with each entry point started by
functions-framework against the local stack, as Cloud Functions would. A real flow goes through
it: a settings read, and a queued email that Cloud Tasks (the emulator) delivers through the
archive's own `deliver` to the platform's relay. A missing file or dependency fails here before
a deploy does."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.infra.checks import entry_points
from tests.integration.api import token
from tests.integration.helpers import eventually, relay_messages
from tools import package

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive unzipped, and a virtual environment with its requirements and nothing else."""
    folder = tmp_path_factory.mktemp("archive")
    built = package.build(folder / "functions-source.zip")
    source = folder / "source"
    with zipfile.ZipFile(built) as zipped:
        zipped.extractall(source)
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [
            *(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"),
            *("--disable-pip-version-check", "-r", str(source / "requirements.txt")),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return folder


@contextlib.contextmanager
def running(archive: Path) -> Iterator[dict[str, str]]:
    """Every entry point of the archive, each in its own functions-framework process; their
    URLs. The archive's deliver is where its tasks go."""
    ports = {name: free_port() for name in entry_points()}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only the archive's code
    env["SENDVIA_DELIVER_URL"] = urls["deliver"]
    processes = []
    logs = archive / "logs"
    logs.mkdir(exist_ok=True)
    try:
        for name, port in ports.items():
            with (logs / f"{name}.log").open("w") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            str(archive / "venv" / "bin" / "functions-framework"),
                            *("--target", name, "--source", "main.py"),
                            *("--host", "127.0.0.1", "--port", str(port)),
                        ],
                        cwd=archive / "source",
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        for name, url in urls.items():
            assert eventually(lambda url=url: _answers(url), timeout=60), (
                f"{name} did not start: {(logs / f'{name}.log').read_text()[-2000:]}"
            )
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
    except requests.ConnectionError:
        return False
    return True


def test_the_archive_holds_the_entry_points_the_package_and_pinned_requirements(archive):
    with zipfile.ZipFile(archive / "functions-source.zip") as zipped:
        names = set(zipped.namelist())
        requirements = zipped.read("requirements.txt").decode().splitlines()
    assert {"main.py", "requirements.txt", "sendvia/__init__.py", "sendvia/queue.json"} <= names
    pins = [line for line in requirements if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins)
    assert any(line.lower().startswith("functions-framework==") for line in pins)
    assert not any(name.startswith(("tests/", "emulators/")) for name in names)
    # The runtime's bytecode beside every module, when a Python 3.12 was here to compile it.
    if package.target_python() is not None:
        modules = {n for n in names if n.endswith(".py")}
        compiled = {n for n in names if n.endswith(".cpython-312.pyc")}
        assert len(compiled) == len(modules), modules ^ {_source_of(n) for n in compiled}


def _source_of(pyc: str) -> str:
    folder, _, name = pyc.rpartition("__pycache__/")
    return folder + name.replace(".cpython-312.pyc", ".py")


def test_the_archive_runs_a_settings_read_and_a_queued_email_to_the_relay(archive):
    suffix = uuid.uuid4().hex[:8]
    admin = token(f"archive-{suffix}", f"admin-{suffix}", "admin", email=f"a-{suffix}@x.example")
    recipient = f"pat-{suffix}@patients.example"
    bearer = {"Authorization": f"Bearer {admin}"}
    with running(archive) as urls:
        settings = requests.get(urls["settings"], headers=bearer, timeout=30)
        assert settings.status_code == 200, settings.text
        queued = requests.post(
            urls["send"],
            headers={**bearer, "Idempotency-Key": suffix},
            json={
                "to": [recipient],
                "subject": "Your appointment tomorrow",
                "text": "See you at 9.",
                "mode": "queue",
                "category": "appointment_reminder",
            },
            timeout=30,
        )
        assert queued.status_code == 202, queued.text
        assert eventually(lambda: relay_messages(recipient), timeout=60)
        # Every other entry point loads and refuses a caller without credentials, cleanly
        # (reminders and sync's fan-out answer: the local stack turns Cloud Scheduler's
        # caller check off, explicitly).
        for name in set(urls) - {"settings", "send"}:
            answer = requests.post(urls[name], json={}, timeout=30)
            expected = (
                answer.status_code == 200
                if name in ("reminders", "sync")
                else 400 <= answer.status_code < 500
            )
            assert expected, (name, answer.status_code, answer.text)
