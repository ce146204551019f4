"""infra/ read as data: every .tf file parsed with python-hcl2, quotes and block markers dropped,
so a test can hold the configuration against the code. Expressions stay as Terraform text
(`${local.urls["deliver"]}`); `placeholder()` turns them into values of the right shape."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MODULE = INFRA / "modules" / "sendvia"


def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        parsed: dict[str, Any] = clean(hcl2.load(handle))
    return parsed


def clean(value: Any) -> Any:
    """python-hcl2 8 keeps string literals' quotes (`"\\"512Mi\\""`) and marks blocks."""
    if isinstance(value, dict):
        return {unquote(k): clean(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, str):
        return unquote(value)
    return value


def unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"')
    return text


class Module:
    """The module's files, merged: locals, resources by type and name, variables."""

    def __init__(self, folder: Path = MODULE) -> None:
        self.files = {p.name: load(p) for p in sorted(folder.glob("*.tf"))}
        self.locals: dict[str, Any] = {}
        self.resources: dict[str, dict[str, Any]] = {}
        self.variables: dict[str, Any] = {}
        for parsed in self.files.values():
            for block in parsed.get("locals", []):
                self.locals.update(block)
            for block in parsed.get("resource", []):
                for kind, named in block.items():
                    self.resources.setdefault(kind, {}).update(named)
            for block in parsed.get("variable", []):
                self.variables.update(block)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return self.resources[kind][name]


EXPRESSION = re.compile(r"\$\{([^}]*)\}")


# What an interpolation yields, by a piece of its text: the first that matches.
EXAMPLES = [
    ("google_secret_manager_secret", "projects/acme-prod/secrets/sendvia-example"),
    (".email", "sv-example@acme-prod.iam.gserviceaccount.com"),
    ("project_id", "acme-prod"),
    ("region", "europe-west1"),
    ("relay.port", "587"),
    ("relay.security", "starttls"),
    ("relay.event_args", "sendgrid"),
    ("cors_origins", "https://app.acme.example"),
    ("platform_domain", "mail.acme.example"),
    ("ses_topic_arns", ""),
    ("sendgrid_public_key", ""),
    ("google_oauth_client_id", "123-abc.apps.googleusercontent.com"),
    ("microsoft_client_id", "6f1f5c1e-5e1d-4c1b-9a0e-5e7d1a2b3c4d"),
    ("microsoft_tenant", "common"),
    (".name", "sendvia-deliveries"),
]


def placeholder(value: str) -> str:
    """A Terraform value with each interpolation replaced by an example of what it yields."""

    def example(match: re.Match[str]) -> str:
        expression = match.group(1)
        url = re.search(r'urls\["(\w+)"\]', expression)
        if url:
            return f"https://{url.group(1).replace('_', '-')}-123456789012.europe-west1.run.app"
        return next((v for needle, v in EXAMPLES if needle in expression), "example")

    return EXPRESSION.sub(example, value)
