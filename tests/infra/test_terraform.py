"""infra/ checked offline, as no machine here can run Terraform or reach Google: every file
parses, checkov's policies pass (skips carry their reason in the code), and the configuration is
held against the code (tests/infra/checks.py). Each rule is also shown failing on a copy of the
module with one thing broken."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.infra import checks
from tests.infra.terraform import INFRA, ROOT, Module, load

RULES: list[Callable[[Module], list[str]]] = [
    checks.functions_match_entry_points,
    checks.settings_complete,
    checks.internal_functions_closed,
    checks.scheduler_calls_reminders,
    checks.queue_matches_code,
    checks.roles_used,
    checks.firestore_matches_code,
]


@pytest.fixture(scope="module")
def module() -> Module:
    return Module()


def test_every_terraform_file_parses():
    files = checks.all_tf_files()
    assert len(files) >= 10
    for path in files:
        assert load(path), path  # raises on a syntax error


def test_the_google_provider_is_pinned():
    for path in (INFRA / "modules/sendvia/versions.tf", INFRA / "envs/example/main.tf"):
        providers = load(path)["terraform"][0]["required_providers"][0]
        assert providers["google"]["version"].startswith("~> 6."), path


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_the_configuration_keeps_the_codes_rules(module, rule):
    assert rule(module) == []


def _parent(twin: Module, path: list[Any]) -> Any:
    target: Any = twin.locals if path[0] == "locals" else twin
    for step in path[1:-1]:
        target = target[step]
    return target


def _set(path: list[Any], value: Any) -> Callable[[Module], None]:
    def change(twin: Module) -> None:
        _parent(twin, path)[path[-1]] = value

    return change


def _drop(path: list[Any]) -> Callable[[Module], None]:
    def change(twin: Module) -> None:
        del _parent(twin, path)[path[-1]]

    return change


BROKEN = {
    "deliver made public": (
        checks.internal_functions_closed,
        _set(["locals", "functions", "deliver", "public"], True),
    ),
    "reminders invokable by anyone": (
        checks.internal_functions_closed,
        _set(["locals", "internal_invokers", "reminders"], "allUsers"),
    ),
    "a required setting missing": (
        checks.settings_complete,
        _drop(["locals", "environment_base", "SENDVIA_REMINDERS_URL"]),
    ),
    "the project id missing": (
        checks.settings_complete,
        _drop(["locals", "environment_base", "GOOGLE_CLOUD_PROJECT"]),
    ),
    "an entry point without a function": (
        checks.functions_match_entry_points,
        _drop(["locals", "functions", "activity"]),
    ),
    "the scheduler signing for another audience": (
        checks.scheduler_calls_reminders,
        lambda twin: twin.resource("google_cloud_scheduler_job", "reminders")["http_target"][0][
            "oidc_token"
        ][0].update(audience='${google_cloudfunctions2_function.fn["reminders"].url}'),
    ),
    "a queue number of its own": (
        checks.queue_matches_code,
        lambda twin: twin.resource("google_cloud_tasks_queue", "deliveries")["retry_config"][
            0
        ].update(max_attempts=100),
    ),
    "a role the code never uses": (
        checks.roles_used,
        _set(["locals", "roles", "activity", "relay_password"], "because"),
    ),
    "a role the code needs, missing": (
        checks.roles_used,
        _drop(["locals", "roles", "send", "enqueuer"]),
    ),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_each_rule_fails_when_the_configuration_breaks_it(module, broken):
    rule, change = BROKEN[broken]
    assert rule(checks.mutated(module, change)), f"{rule.__name__} did not notice: {broken}"


def test_checkov_passes_with_every_skip_explained(tmp_path):
    checkov = ROOT / ".venv-infra" / "bin" / "checkov"
    assert checkov.exists(), "make setup installs checkov in .venv-infra"
    result = subprocess.run(
        [
            str(checkov),
            "-d",
            str(INFRA),
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r["results"].get("failed_checks", [])]
    assert failed == [], [(c["check_id"], c["resource"]) for c in failed]
    skipped = [c for r in reports for c in r["results"].get("skipped_checks", [])]
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 20, f"{check['check_id']} is skipped without a reason"
