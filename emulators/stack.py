"""Start, stop and use the local stack.

    python -m emulators.stack up   [--profile dev|test]   start everything, wait until ready, return
    python -m emulators.stack down [--profile dev|test]   stop exactly what `up` started
    python -m emulators.stack status
    python -m emulators.stack run --profile test -- CMD…  up, run CMD with the stack's env, down

Each profile keeps its state in its own folder (`.stack/` for dev, `.stack/test/` for test):
`state.json` (the processes it started), `env` (export lines), `logs/<service>.log`.
Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from emulators import services
from emulators.services import ROOT, Service, StackError


def state_dir(profile: str) -> Path:
    return ROOT / ".stack" if profile == "dev" else ROOT / ".stack" / profile


def _proc_start_time(pid: int) -> str | None:
    """The kernel's start time of a process, to tell our process from a later one with its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None  # exited, waiting to be reaped
    return fields[19]


def _alive(entry: dict[str, Any]) -> bool:
    return bool(_proc_start_time(entry["pid"]) == entry["start_time"])


def _read_state(folder: Path) -> dict[str, Any] | None:
    path = folder / "state.json"
    if not path.exists():
        return None
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def _write_state(folder: Path, state: dict[str, Any]) -> None:
    tmp = folder / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(folder / "state.json")


def _start(service: Service, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    log_path = folder / "logs" / f"{service.name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            service.command,
            cwd=service.cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    start_time = None
    for _ in range(100):
        start_time = _proc_start_time(process.pid)
        if start_time:
            break
        time.sleep(0.01)
    return {
        "pid": process.pid,
        "start_time": start_time,
        "log": str(log_path),
        "started_at": time.time(),
        "process": process,
    }


def _wait_ready(started: dict[str, dict[str, Any]], wanted: list[Service]) -> dict[str, float]:
    """Poll every service until ready; fail with the log's tail if one dies or times out."""
    ready: dict[str, float] = {}
    pending = {s.name: s for s in wanted}
    while pending:
        for name, service in list(pending.items()):
            entry = started[name]
            if service.ready():
                ready[name] = time.time() - entry["started_at"]
                del pending[name]
                continue
            died = entry["process"].poll() is not None
            if died or time.time() - entry["started_at"] > service.timeout_s:
                tail = "".join(
                    Path(entry["log"]).read_text(errors="replace").splitlines(True)[-15:]
                )
                what = "exited" if died else f"was not ready after {service.timeout_s:.0f} s"
                raise StackError(
                    f"{service.description} {what}. Last lines of {entry['log']}:\n{tail}"
                )
        time.sleep(0.1)
    return ready


def _stop_entries(entries: dict[str, dict[str, Any]], grace_s: float = 10.0) -> list[str]:
    """SIGTERM each process group we started, SIGKILL what remains after the grace period."""
    stopped = []
    for name, entry in entries.items():
        if _alive(entry):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(entry["pid"], signal.SIGTERM)
            stopped.append(name)
    deadline = time.time() + grace_s
    while time.time() < deadline and any(_alive(e) for e in entries.values()):
        for entry in entries.values():
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(entry["pid"], os.WNOHANG)
        time.sleep(0.1)
    for entry in entries.values():
        if _alive(entry):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(entry["pid"], signal.SIGKILL)
    return stopped


def up(profile: str, quiet: bool = False) -> dict[str, str]:
    """Start the stack of `profile` and return its environment; refuse to start it twice."""
    folder = state_dir(profile)
    state = _read_state(folder)
    if state and any(_alive(e) for e in state["processes"].values()):
        env = dict(state["env"])
        if not quiet:
            print(
                f"The {profile} stack is already running (started by an earlier `up`); "
                f"`make down` stops it."
            )
            _print_summary(state, {})
        raise AlreadyRunning(env)
    ports = services.ports_for(profile)
    refuse_busy_ports(profile, ports)
    services.check_prerequisites()
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    if profile != "dev":
        services.empty_mailboxes(folder)  # the developer's own mailboxes are kept
    env_vars = {
        **services.environment(ports),
        **services.mail_environment(folder),
        **services.event_environment(folder, ports),
    }
    child_env = {
        **os.environ,
        **env_vars,
        "PYTHONPATH": _pythonpath(),
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
        "NO_UPDATE_NOTIFIER": "1",
    }
    begun = time.time()
    started: dict[str, dict[str, Any]] = {}
    try:
        first = services.emulator_services(folder, ports)
        for service in first:
            started[service.name] = _start(service, folder, child_env)
        _save(folder, profile, ports, env_vars, started)
        ready = _wait_ready(started, first)
        services.seed(folder, env_vars)
        services.create_queue(env_vars)
        functions = services.functions_service(ports)
        started[functions.name] = _start(functions, folder, child_env)
        _save(folder, profile, ports, env_vars, started)
        ready.update(_wait_ready(started, [functions]))
        demo = services.seed_demo(env_vars)
    except BaseException:
        _stop_entries({k: _public(v) for k, v in started.items()})
        (folder / "state.json").unlink(missing_ok=True)
        raise
    _write_env(folder, env_vars)
    state = {**_save(folder, profile, ports, env_vars, started), "demo": demo}
    _write_state(folder, state)
    if not quiet:
        print(f"The {profile} stack is ready in {time.time() - begun:.1f} s.")
        _print_summary(state, ready)
    return env_vars


_RESTARTED: list[subprocess.Popen[bytes]] = []


def kill_functions(profile: str, extra_env: dict[str, str] | None = None) -> float:
    """SIGKILL the functions host of a running stack, as an instance is killed in the middle of
    its requests, and start it again; the seconds until it answers again (a soak's fault)."""
    folder = state_dir(profile)
    state = _read_state(folder)
    if not state:
        raise RuntimeError(f"the {profile} stack is not running")
    entry = state["processes"]["functions"]
    if _alive(entry):
        os.killpg(entry["pid"], signal.SIGKILL)
    for _ in range(500):
        if not _alive(entry):
            break
        time.sleep(0.01)
    begun = time.time()
    child_env = {
        **os.environ,
        **state["env"],
        "PYTHONPATH": _pythonpath(),
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
        "NO_UPDATE_NOTIFIER": "1",
        **(extra_env or {}),
    }
    functions = services.functions_service(state["ports"])
    started = {functions.name: _start(functions, folder, child_env)}
    # The new host outlives this call (the stack owns it): keep its Popen, whose collection
    # would otherwise warn that the process still runs.
    _RESTARTED.append(started[functions.name]["process"])
    _wait_ready(started, [functions])
    state["processes"][functions.name] = _public(started[functions.name])
    state["env"] = {**state["env"], **(extra_env or {})}
    _write_state(folder, state)
    return time.time() - begun


def refuse_busy_ports(profile: str, ports: dict[str, int]) -> None:
    busy = [f"{name} port {port}" for name, port in ports.items() if services.port_in_use(port)]
    if busy:
        variable = (
            "SENDVIA_PORT_<NAME>" if profile == "dev" else f"SENDVIA_{profile.upper()}_PORT_<NAME>"
        )
        raise StackError(
            f"Cannot start the {profile} stack: {', '.join(busy)} already in use by another "
            f"program.\n  Stop that program, or choose other ports with {variable}=N "
            f"(e.g. {variable.replace('<NAME>', 'FIRESTORE')}=8081)."
        )


class AlreadyRunning(Exception):  # noqa: N818 - a state, not a failure
    def __init__(self, env: dict[str, str]) -> None:
        super().__init__("already running")
        self.env = env


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "process"}


def _save(
    folder: Path,
    profile: str,
    ports: dict[str, int],
    env: dict[str, str],
    started: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    state = {
        "profile": profile,
        "ports": ports,
        "env": env,
        "processes": {k: _public(v) for k, v in started.items()},
    }
    _write_state(folder, state)
    return state


def _write_env(folder: Path, env: dict[str, str]) -> None:
    lines = [f"export {key}={value}" for key, value in env.items()]
    (folder / "env").write_text("\n".join(lines) + "\n")


def _pythonpath() -> str:
    parts = [str(ROOT), str(ROOT / "shared")]
    if os.environ.get("PYTHONPATH"):
        parts.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(parts)


def _print_summary(state: dict[str, Any], ready: dict[str, float]) -> None:
    env = state["env"]
    ports = state["ports"]
    rows = [
        ("functions", f"{env['SENDVIA_FUNCTIONS_URL']}/<function>"),
        ("web", f"{env['SENDVIA_WEB_URL']}/ (the reference settings app)"),
        ("firestore", env["FIRESTORE_EMULATOR_HOST"]),
        ("auth", env["FIREBASE_AUTH_EMULATOR_HOST"]),
        ("secretmanager", env["SECRET_MANAGER_EMULATOR_HOST"]),
        (
            "cloudtasks",
            f"{env['CLOUD_TASKS_EMULATOR_HOST']} (JWKS "
            f"http://127.0.0.1:{ports['cloudtasks_http']}/jwks)",
        ),
        ("fake_google", f"{env['FAKE_GOOGLE_URL']} (sent mail: {env['FAKE_GOOGLE_URL']}/)"),
        ("dns", f"{env['SENDVIA_DNS_RESOLVER']} (udp; test zones: emulators/dns_server.py)"),
        (
            "fake_microsoft",
            f"{env['FAKE_MICROSOFT_URL']} (Sent Items: {env['FAKE_MICROSOFT_URL']}/)",
        ),
        (
            "dovecot",
            f"IMAP {ports['imap']}/{ports['imaps']} (TLS), submission "
            f"{ports['submission']}/{ports['submissions']} (TLS); "
            f"user {env['MAIL_DEMO_USER']}",
        ),
        ("mail_sink", f"{env['MAIL_SINK_URL']}/messages"),
        (
            "relay",
            f"{env['SENDVIA_RELAY_HOST']}:{env['SENDVIA_RELAY_PORT']} "
            f"(sent: {env['DEFAULT_RELAY_URL']}/messages)",
        ),
    ]
    for name, where in rows:
        took = f"ready in {ready[name]:5.1f} s" if name in ready else ""
        print(f"  {name:<14} {where:<64} {took}")
    folder = state_dir(state["profile"])
    print(f"\n  The reference settings app: {env['SENDVIA_WEB_URL']}/  — sign in as")
    for role, email, password in state.get("demo", []):
        who = "practice admin" if role == "admin" else "practitioner"
        print(f"    {who:<15} {email} / {password}")
    print(
        f"  An SMTP/IMAP mailbox to connect: {env['MAIL_DEMO_USER']}, app password "
        f"{env['MAIL_DEMO_PASSWORD']}\n    (server 127.0.0.1, SMTP {ports['submission']} STARTTLS, "
        f"IMAP {ports['imaps']} TLS); test emails and their codes: "
        f"{env['MAIL_SINK_URL']}/messages\n"
    )
    print(f"  logs: {folder / 'logs'}/   environment: source {folder / 'env'}")


def down(profile: str, quiet: bool = False) -> None:
    folder = state_dir(profile)
    state = _read_state(folder)
    if state is None:
        if not quiet:
            print(f"The {profile} stack is not running.")
        return
    stopped = _stop_entries(state["processes"])
    (folder / "state.json").unlink(missing_ok=True)
    (folder / "env").unlink(missing_ok=True)
    if not quiet:
        print(f"Stopped the {profile} stack: {', '.join(stopped) or 'nothing was still running'}.")


def status(profile: str) -> int:
    state = _read_state(state_dir(profile))
    if state is None:
        print(f"The {profile} stack is not running.")
        return 1
    for name, entry in state["processes"].items():
        print(f"  {name:<14} pid {entry['pid']:<8} {'running' if _alive(entry) else 'STOPPED'}")
    return 0


def run(profile: str, command: list[str]) -> int:
    """Run `command` against a stack of its own, always stopping the stack afterwards."""
    down(profile, quiet=True)  # a stack left behind by a killed run
    env = up(profile)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return subprocess.call(command, env={**os.environ, **env, "PYTHONPATH": _pythonpath()})
    finally:
        signal.signal(signal.SIGTERM, previous)
        down(profile)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=["up", "down", "status", "run"])
    parser.add_argument("--profile", choices=sorted(services.PROFILE_OFFSETS), default="dev")
    argv = sys.argv[1:] if argv is None else argv
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    try:
        if args.action == "up":
            up(args.profile)
        elif args.action == "down":
            down(args.profile)
        elif args.action == "status":
            return status(args.profile)
        else:
            if not command:
                parser.error("run needs a command after --")
            return run(args.profile, command)
    except AlreadyRunning:
        return 0
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
