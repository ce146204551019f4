"""The rules infra/ must keep with the code, as functions of the parsed module that return what
is wrong (empty: nothing). tests/infra/test_terraform.py applies them to infra/ as it is, and to
copies with one thing broken, to show each can fail."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from tests.infra.terraform import ROOT, Module, placeholder

# What each capability of local.roles grants (iam.tf), and the modules of sendvia whose reach
# needs it: a function may hold a capability only if its code reaches one of them.
CAPABILITY_USERS = {
    "firestore": {"sendvia.adapters.firestore"},  # every function
    "mailbox_secrets": {
        "sendvia.services.mailboxes",
        "sendvia.services.smtp_mailboxes",
        "sendvia.services.connect",
        "sendvia.services.attempt",
        "sendvia.services.test_connection",
        "sendvia.services.sync",
    },
    "secret_creator": {"sendvia.services.smtp_mailboxes", "sendvia.services.connect"},
    "oauth_client": {
        "sendvia.services.sync",
        "sendvia.services.connect",
        "sendvia.services.mailboxes",
        "sendvia.services.attempt",
        "sendvia.services.test_connection",
    },
    "relay_password": {"sendvia.services.attempt"},
    "enqueuer": {
        "sendvia.services.accept",
        "sendvia.services.deliver",
        "sendvia.services.reminders",
    },
    "sync_enqueuer": {"sendvia.services.sync"},
    "ticket_key": {"sendvia.services.tickets"},
}
# What each function needs at the least, whatever the static reach says (a deploy without one
# of these breaks a flow the tests drive locally).
REQUIRED = {
    "settings": {"firestore", "mailbox_secrets", "secret_creator"},
    "oauth_start": {"firestore"},
    "oauth_callback": {"firestore", "mailbox_secrets", "secret_creator", "oauth_client"},
    "test_connection": {"firestore", "mailbox_secrets"},
    "activity": {"firestore"},
    "send": {"firestore", "mailbox_secrets", "relay_password", "enqueuer", "ticket_key"},
    "provider_events": {"firestore"},
    "deliver": {"firestore", "mailbox_secrets", "relay_password", "enqueuer", "ticket_key"},
    "reminders": {"firestore", "enqueuer"},
    "sync": {"firestore", "mailbox_secrets", "sync_enqueuer"},
}


def entry_points() -> list[str]:
    """The functions of functions/main.py decorated as entry points."""
    tree = ast.parse((ROOT / "functions" / "main.py").read_text())
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("functions_framework" in ast.unparse(d) for d in node.decorator_list)
    ]


def functions_match_entry_points(module: Module) -> list[str]:
    declared = set(module.locals["functions"])
    problems = [
        f"no function deploys entry point {e!r}" for e in entry_points() if e not in declared
    ]
    problems += [f"function {f!r} has no entry point" for f in declared - set(entry_points())]
    build = module.resource("google_cloudfunctions2_function", "fn")["build_config"][0]
    if build["entry_point"] != "${each.key}":
        problems.append(f"entry_point is {build['entry_point']!r}, not the function's key")
    if not str(build["runtime"]).startswith("python3") or int(build["runtime"][7:]) < 12:
        problems.append(f"runtime {build['runtime']!r} is older than python312")
    return problems


def environment(module: Module, *, google: bool = True, microsoft: bool = True) -> dict[str, str]:
    env = dict(module.locals["environment_base"])
    if google:
        env.update(module.locals["environment_google"])
    if microsoft:
        env.update(module.locals["environment_microsoft"])
    return {k: placeholder(str(v)) for k, v in env.items()}


def settings_complete(module: Module) -> list[str]:
    """Every function loads the whole configuration at cold start: the environment Terraform
    gives them must pass config.load() in production (K_SERVICE set), with and without Gmail."""
    from sendvia.config import load
    from sendvia.errors import ConfigError

    problems = []
    service = module.resource("google_cloudfunctions2_function", "fn")["service_config"][0]
    if "local.environment" not in service["environment_variables"]:
        problems.append("the functions are not given local.environment")
    for google, microsoft in ((True, True), (True, False), (False, True), (False, False)):
        env = environment(module, google=google, microsoft=microsoft)
        try:
            load({**env, "K_SERVICE": "settings"})
        except ConfigError as error:
            problems.append(
                f"config.load() refuses the deployment (google={google}, "
                f"microsoft={microsoft}): {error}"
            )
    return problems


def internal_functions_closed(module: Module) -> list[str]:
    """Public exactly where the code checks the caller itself (Router.public); the internal
    ones are invokable only by their one caller, and only from inside."""
    problems = []
    functions = module.locals["functions"]
    for name, spec in functions.items():
        # Internal in the code: its handler accepts only a Google-signed OIDC token.
        internal = "verify_oidc(" in (ROOT / "shared/sendvia/api" / f"{name}.py").read_text()
        if bool(spec["public"]) == internal:
            problems.append(f"{name}: public={spec['public']}, but its code checks an OIDC token")
    public = module.locals["public_functions"]
    if "if f.public" not in public:
        problems.append("public_functions is not the functions marked public")
    binding = module.resource("google_cloud_run_v2_service_iam_member", "public")
    if binding["member"] != "allUsers" or binding["for_each"] != "${local.public_functions}":
        problems.append("allUsers is granted beyond the public functions")
    internal = module.locals["internal_invokers"]
    tasks, scheduler = (
        "${google_service_account.tasks_invoker.email}",
        "${google_service_account.scheduler.email}",
    )
    expected = {"deliver": [tasks], "reminders": [scheduler], "sync": [scheduler, tasks]}
    if internal != expected:
        problems.append(f"internal invokers are {internal}, expected {expected}")
    binding = module.resource("google_cloud_run_v2_service_iam_member", "internal")
    if binding["for_each"] != "${local.invoker_grants}":
        problems.append("the internal functions' invokers are not local.internal_invokers")
    for name in expected:
        if functions[name]["public"]:
            problems.append(f"{name} is public")
    service = module.resource("google_cloudfunctions2_function", "fn")["service_config"][0]
    if "ALLOW_INTERNAL_ONLY" not in service["ingress_settings"]:
        problems.append("internal functions accept traffic from outside")
    env = module.locals["environment_base"]
    if env["SENDVIA_TASKS_SERVICE_ACCOUNT"] != tasks:
        problems.append("deliver checks another account than the one Cloud Tasks signs as")
    if env["SENDVIA_SCHEDULER_SERVICE_ACCOUNT"] != scheduler:
        problems.append("reminders checks another account than the one Cloud Scheduler signs as")
    return problems


def scheduler_calls_reminders(module: Module) -> list[str]:
    """The scheduler's jobs call reminders and sync, signed for what each checks."""
    problems = []
    for name, setting in (("reminders", "SENDVIA_REMINDERS_URL"), ("sync", "SENDVIA_SYNC_URL")):
        job = module.resource("google_cloud_scheduler_job", name)
        target = job["http_target"][0]
        url = f'${{local.urls["{name}"]}}'
        if target["uri"] != url:
            problems.append(f"the {name} job calls {target['uri']}, not {name}")
        oidc = target.get("oidc_token", [{}])[0]
        if oidc.get("audience") != url:
            problems.append(f"the {name} job's OIDC audience is not {name}'s URL")
        if oidc.get("service_account_email") != "${google_service_account.scheduler.email}":
            problems.append(f"the {name} job signs as another account than {name} accepts")
        if module.locals["environment_base"][setting] != url:
            problems.append(f"{name} checks another audience than the job signs for")
    if module.locals["environment_base"]["SENDVIA_DELIVER_URL"] != '${local.urls["deliver"]}':
        problems.append("deliver's tasks aim at another URL than deliver's")
    return problems


def queue_matches_code(module: Module) -> list[str]:
    """The queue's numbers are sendvia/queue.json's, which deliver reads too."""
    from sendvia.config import QUEUE, TasksSettings

    problems = []
    if "shared/sendvia/queue.json" not in module.locals["queue"]:
        problems.append("the queue's numbers do not come from sendvia/queue.json")
    queue = module.resource("google_cloud_tasks_queue", "deliveries")
    retry, rate = queue["retry_config"][0], queue["rate_limits"][0]
    wanted = [
        (retry, "max_attempts", "${local.queue.max_attempts}"),
        (retry, "min_backoff", "${local.queue.min_backoff_s}s"),
        (retry, "max_backoff", "${local.queue.max_backoff_s}s"),
        (retry, "max_doublings", "${local.queue.max_doublings}"),
        (retry, "max_retry_duration", "${local.queue.max_retry_duration_s}s"),
        (rate, "max_dispatches_per_second", "${local.queue.max_dispatches_per_s}"),
        (rate, "max_concurrent_dispatches", "${local.queue.max_concurrent}"),
    ]
    for block, key, expression in wanted:
        if str(block.get(key)) != expression:
            problems.append(f"the queue's {key} is {block.get(key)!r}, not {expression}")
    if queue["name"] != "${local.queue.name}":
        problems.append("the queue's name is not queue.json's")
    settings = TasksSettings("https://d.example", "sa@p.iam.gserviceaccount.com")
    for key in ("max_attempts", "min_backoff_s", "max_backoff_s", "max_doublings"):
        if getattr(settings, key) != QUEUE[key]:
            problems.append(f"the code's {key} is not queue.json's")
    if settings.queue != QUEUE["name"]:
        problems.append("the code's queue name is not queue.json's")
    sync = module.resource("google_cloud_tasks_queue", "sync")
    if sync["name"] != "${local.queue.sync.name}":
        problems.append("receiving's queue is not queue.json's sync queue")
    if str(sync["retry_config"][0].get("max_attempts")) != "${local.queue.sync.max_attempts}":
        problems.append("receiving's queue retries are not queue.json's")
    if module.locals["environment_base"].get("SENDVIA_SYNC_QUEUE") != (
        "${google_cloud_tasks_queue.sync.name}"
    ):
        problems.append("sync enqueues on another queue than receiving's")
    return problems


def roles_used(module: Module) -> list[str]:
    """Each function's capabilities: every one it needs, and none its code cannot reach."""
    problems = []
    roles: dict[str, dict[str, str]] = module.locals["roles"]
    for function in entry_points():
        held = set(roles.get(function, {}))
        reach = reachable(f"sendvia.api.{function}")
        for capability in sorted(held):
            users = CAPABILITY_USERS.get(capability)
            if users is None:
                problems.append(f"{function}: unknown capability {capability!r}")
            elif capability != "firestore" and not users & reach:
                problems.append(f"{function} holds {capability} but its code never uses it")
        for capability in sorted(REQUIRED[function] - held):
            problems.append(f"{function} lacks {capability}, which it needs")
    iam = module.files["iam.tf"]
    granted = {
        v["for_each"].split('g.capability == "')[1].split('"')[0]
        for block in iam.get("resource", [])
        for named in block.values()
        for v in named.values()
        if "g.capability ==" in str(v.get("for_each", ""))
    }
    if set(CAPABILITY_USERS) - granted:
        problems.append(f"capabilities without a grant: {sorted(set(CAPABILITY_USERS) - granted)}")
    return problems


def reachable(module_name: str) -> set[str]:
    """The sendvia modules `module_name` imports, directly or not (and their packages)."""
    shared = ROOT / "shared"
    seen: set[str] = set()
    pending = [module_name]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        path = shared / (name.replace(".", "/") + ".py")
        if not path.exists():
            path = shared / name.replace(".", "/") / "__init__.py"
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("sendvia")
            ):
                pending.append(node.module)
                pending += [f"{node.module}.{alias.name}" for alias in node.names]
    packages = {".".join(n.split(".")[:i]) for n in seen for i in range(2, n.count(".") + 1)}
    return seen | packages


def firestore_matches_code(module: Module) -> list[str]:
    """Indexes from the one JSON file; TTL on the fields the code writes."""
    problems = []
    if "../../firestore.indexes.json" not in module.locals["firestore_config"]:
        problems.append("the indexes do not come from infra/firestore.indexes.json")
    indexes = json.loads((ROOT / "infra" / "firestore.indexes.json").read_text())
    if not indexes["indexes"]:
        problems.append("no composite index")
    code = "\n".join(p.read_text() for p in (ROOT / "shared" / "sendvia").rglob("*.py"))
    for collection, field in module.locals["ttl_fields"].items():
        if f'"{field}"' not in code or collection not in code:
            problems.append(f"TTL on {collection}.{field}, which the code never writes")
    return problems


def mutated(module: Module, change: Any) -> Module:
    """A copy of `module` with `change(copy)` applied (to show a rule can fail)."""
    import copy

    twin = copy.deepcopy(module)
    change(twin)
    return twin


def all_tf_files() -> list[Path]:
    return sorted((ROOT / "infra").rglob("*.tf"))
