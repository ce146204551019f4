"""Serve every entry point of `functions/main.py` at `/<function_name>` in one local process.

Each entry point gets functions-framework's own app (`create_app(target, source)`), exactly what a
Cloud Function deployment builds for it; a dispatcher mounts them side by side, behind the
gunicorn server functions-framework runs in production. Entry points are
found by reading the source for functions decorated with `@functions_framework.http`, so a function
added to main.py is served without touching this file.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
from html import escape
from pathlib import Path
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request, Response

DEFAULT_SOURCE = Path(__file__).resolve().parent.parent / "functions" / "main.py"


def _is_http_decorator(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr == "http"
    return isinstance(node, ast.Name) and node.id == "http"


def entry_points(source: Path) -> list[str]:
    """Names of the top-level functions decorated with functions_framework.http."""
    tree = ast.parse(source.read_text(), filename=str(source))
    names = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if _is_http_decorator(target):
                names.append(node.name)
    return names


def _root_path_as_slash(app: Any) -> Any:
    """`/settings` reaches the function as `/`, as a function URL without a path does in Cloud
    Functions (the mount would otherwise pass an empty path, which Flask redirects)."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("PATH_INFO"):
            environ["PATH_INFO"] = "/"
        return app(environ, start_response)

    return wsgi


def _return_page(args: Any) -> str:
    """Where `sendvia dev connect-gmail` sends the browser back: shows the outcome, like the host
    product's settings page would."""
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in args.items())
    result = args.get("sendvia_result", "")
    return (
        f"<!doctype html><title>sendvia: {escape(result)}</title>"
        f"<h1>sendvia_result={escape(result)}</h1><table>{rows}</table>"
        "<p>This page stands in for the host product's email settings page.</p>"
    )


def build_app(source: Path) -> Any:
    import functions_framework

    names = entry_points(source)
    mounts = {
        f"/{name}": _root_path_as_slash(functions_framework.create_app(name, str(source)))
        for name in names
    }

    @Request.application
    def index(request: Request) -> Response:
        if request.path == "/_dev/return":
            return Response(_return_page(request.args), content_type="text/html; charset=utf-8")
        if request.path == "/_dev/meter":
            # What this instance has spent (sendvia.metering); `?reset=1` starts a new count.
            from sendvia.metering import METER, WRITE_PATHS

            reset = request.args.get("reset") == "1"
            counts: dict[str, object] = dict(METER.snapshot(reset=reset))
            if WRITE_PATHS.on:  # the busiest documents (SENDVIA_METER_WRITE_PATHS=1)
                counts["hot_documents"] = WRITE_PATHS.snapshot(reset=reset)
            return Response(json.dumps(counts), content_type="application/json")
        if request.path == "/_openapi.json":
            # The public contract, with this host as its server (docs/openapi.json is the copy
            # published with the code).
            from sendvia.api.openapi import document

            server = request.host_url.rstrip("/")
            return Response(json.dumps(document(server)), content_type="application/json")
        if request.path == "/_health":
            return Response(
                json.dumps({"ok": True, "functions": names}), content_type="application/json"
            )
        body = {
            "error": {
                "code": "not_found",
                "message": f"No function at {request.path}.",
                "hint": f"Functions here: {', '.join(names) or 'none yet'}.",
            }
        }
        return Response(json.dumps(body), status=404, content_type="application/json")

    return DispatcherMiddleware(index, mounts)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve functions/main.py locally")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    app = build_app(args.source)
    for name in entry_points(args.source):
        logging.info("serving %s at http://%s:%d/%s", name, args.host, args.port, name)
    # The server Cloud Functions runs: functions-framework's gunicorn application with its
    # production settings (one worker, four threads a CPU, no access log: Cloud Run logs each
    # request itself), as `functions-framework --target` starts it outside debug mode. What
    # the functions log is theirs (sendvia.logs), as in production.
    from functions_framework._http.gunicorn import GunicornApplication

    GunicornApplication(
        app,
        args.host,
        args.port,
        False,
        loglevel="info",
        control_socket_disable=True,  # one per user otherwise, shared by the dev and test stacks
    ).run()


if __name__ == "__main__":
    main()
