"""Serves the reference settings app (web/dist, built by `make up`) and its `config.json`: where
the functions and the Firebase Auth emulator are. A host product serves its own build its own way;
this is the local stack's stand-in for that hosting. Standard library only."""

from __future__ import annotations

import argparse
import json
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "web" / "dist"

NOT_BUILT = (
    b"<!doctype html><html lang=en><title>Not built</title><main><h1>The app is not built</h1>"
    b"<p>Run <code>make up</code> (or <code>cd web &amp;&amp; npm run build</code>).</p></main>"
)


class Handler(SimpleHTTPRequestHandler):
    config: bytes = b"{}"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/config.json":
            self._send(200, "application/json", self.config)
        elif path == "/healthz":
            self._send(200, "application/json", b'{"ok": true}')
        elif not (DIST / "index.html").exists():
            self._send(503, "text/html; charset=utf-8", NOT_BUILT)
        else:
            super().do_GET()

    def end_headers(self) -> None:
        # index.html and config.json change with each build and stack; the hashed assets do not.
        if not self.path.startswith("/assets/"):
            self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--functions-url", required=True)
    parser.add_argument("--auth-emulator-url", required=True)
    parser.add_argument("--project", required=True)
    args = parser.parse_args()
    Handler.config = json.dumps(
        {
            "functionsUrl": args.functions_url,
            "authEmulatorUrl": args.auth_emulator_url,
            "firebase": {"apiKey": "local-dev", "projectId": args.project},
        }
    ).encode()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), partial(Handler, directory=str(DIST)))
    server.serve_forever()


if __name__ == "__main__":
    main()
