"""The layering holds, read from the source: no import cycle, no SDK or adapter in the domain or
the services, only the composition root knows the adapters, no provider-name comparison outside
the providers' own modules, and every module of one concept stays small."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "sendvia"
SDKS = (
    "google",
    "googleapiclient",
    "google_auth_oauthlib",
    "google_auth_httplib2",
    "firebase_admin",
    "grpc",
    "requests",
    "httplib2",
    "oauthlib",
    "smtplib",
    "imaplib",
    "imapclient",
    "cryptography",
    "flask",
    "functions_framework",
)
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, at the top level?) for every import, TYPE_CHECKING ones included."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in tree.body:  # imports under `if TYPE_CHECKING:` count as top-level
        if isinstance(node, ast.If):
            top |= {id(child) for child in node.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found += [(n, id(node) in top) for n in [node.module, *names]]
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {target for target, _ in imports(path) if target in known and target != name}
        for name, path in known.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components larger than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle():
    edges = graph()
    # A package's __init__ importing its own modules is not a cycle of concepts.
    edges = {m: {t for t in ts if not m.startswith(f"{t}.")} for m, ts in edges.items()}
    assert cycles(edges) == []


@pytest.mark.parametrize("layer", ["domain", "services", "ports"])
def test_the_inner_layers_import_no_sdk_and_no_adapter(layer):
    offending = []
    for name, path in modules().items():
        if not name.startswith(f"sendvia.{layer}"):
            continue
        for target, _ in imports(path):
            root = target.split(".")[0]
            if root in SDKS or target.startswith(("sendvia.adapters", "sendvia.api")):
                offending.append(f"{name} imports {target}")
    assert offending == []


def test_the_domain_imports_only_the_domain():
    offending = [
        f"{name} imports {target}"
        for name, path in modules().items()
        if name.startswith("sendvia.domain")
        for target, _ in imports(path)
        if target.startswith("sendvia") and not target.startswith("sendvia.domain")
    ]
    assert offending == []


def test_only_the_composition_root_knows_the_adapters():
    offending = [
        f"{name} imports {target}"
        for name, path in modules().items()
        if not name.startswith(("sendvia.adapters", "sendvia.runtime", "sendvia.devtools"))
        for target, _ in imports(path)
        if target.startswith("sendvia.adapters")
    ]
    assert offending == []


# Imported by the requests that need them, not at every cold start (bench/cold_start.py): each
# loads pydantic and models only a change of settings or a mailbox's details validates.
LOADED_ON_USE = {
    "sendvia.domain.tenant_patch",
    "sendvia.domain.contact_requests",
    "sendvia.domain.mailbox_settings",
    "sendvia.services.smtp_mailboxes",
    "sendvia.services.receiving",
    "sendvia.domain.send_request",  # for a body domain.plain_request leaves to the model
    "sendvia.api.start_request",  # for a body api.plain_start leaves to the model
}


def test_services_import_nothing_inside_functions():
    """A function-level import in a service is a cycle being dodged or an SDK being hidden,
    unless it is one of the few modules kept out of cold starts on purpose."""
    offending = [
        f"{name} imports {target} inside a function"
        for name, path in modules().items()
        if name.startswith(("sendvia.services", "sendvia.domain", "sendvia.api"))
        for target, at_top in imports(path)
        if not at_top
        and target.startswith("sendvia")
        and not any(target == m or target.startswith(f"{m}.") for m in LOADED_ON_USE)
    ]
    assert offending == []


# A provider named in code: its name as a string, or a member of the Provider enum.
_PROVIDER = re.compile(r"""(==|!=|\bis\b|\bin\b)\s*("(gmail|smtp|microsoft|google)"|Provider\.)""")
_PROVIDER_LEFT = re.compile(r"""("(gmail|smtp|microsoft|google)"|Provider\.\w+)\s*(==|!=)""")
ALLOWED = ("adapters/", "domain/providers.py", "domain/routing.py", "runtime.py")


def test_no_provider_name_comparison_outside_the_providers_and_their_mapping():
    offending = []
    for path in PACKAGE.rglob("*.py"):
        relative = str(path.relative_to(PACKAGE))
        if relative.startswith(ALLOWED):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _PROVIDER.search(line) or _PROVIDER_LEFT.search(line):
                offending.append(f"{relative}:{number}: {line.strip()}")
    assert offending == []


def test_every_module_is_under_400_lines():
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {m: n for m, n in sizes.items() if n >= MAX_LINES} == {}
