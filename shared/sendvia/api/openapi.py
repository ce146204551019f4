"""The public contract as an OpenAPI 3.1 document, built from the code: the routers give the
paths and methods, pydantic the request bodies (the very models the handlers validate with),
api/schemas.py the answers. `CONTRACT` (api/contract.py) says, per route, what it takes and
answers;
tests/unit/test_openapi.py holds it against the routers in both directions (every public route
documented, every documented route served) and validates the document. The local functions host
serves it at `/_openapi.json`; `docs/openapi.json` is the published copy (`make openapi`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from sendvia import api
from sendvia.api import schemas
from sendvia.api.contract import CONTRACT, PUBLIC, Operation
from sendvia.api.schemas import ref
from sendvia.api.start_request import StartRequest
from sendvia.api.test_connection import ConfirmRequest, TestRequest
from sendvia.domain.contact_requests import ContactBatch, ContactIn
from sendvia.domain.mailbox_settings import MailboxSettingsIn, ReceiveChange
from sendvia.domain.send_request import SendRequest
from sendvia.domain.tenant_patch import TenantPatch

# The request models the handlers validate with, named in CONTRACT.
MODELS: tuple[type[BaseModel], ...] = (
    StartRequest,
    TestRequest,
    ConfirmRequest,
    ContactIn,
    ContactBatch,
    MailboxSettingsIn,
    SendRequest,
    TenantPatch,
    ReceiveChange,
)


def document(server: str = "http://127.0.0.1:8000") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every public route, for functions served under `server`."""
    components: dict[str, Any] = dict(schemas.SCHEMAS)
    for model in MODELS:
        schema = model.model_json_schema(ref_template=f"{schemas.REF}{{model}}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    paths: dict[str, dict[str, Any]] = {}
    for function in PUBLIC:
        for spec in api.router(function).routes:
            operation = CONTRACT[(function, spec.method, spec.template)]
            path = f"/{function}{'' if spec.template == '/' else spec.template}"
            paths.setdefault(path, {})[spec.method.lower()] = _operation(
                function, spec.handler.__name__, spec.template, operation
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sendvia",
            "version": "1",
            "description": "Send a tenant's email through its own mailbox, with the platform's "
            "sender as the fallback; receive correspondence with its contacts. Every function "
            "is a Cloud Function at its own URL; locally all are served under one host, "
            '`/<function>/…`. Errors are `{"error": {code, message, hint, field?}}`.',
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "firebase": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "Firebase ID token (tenant_id and role claims)",
                },
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Twilio-Email-Event-Webhook-Signature",
                    "description": "SendGrid's ECDSA signature, or SNS's RSA signature in the "
                    "body: the email service signs, no caller credential is sent.",
                },
            },
        },
    }


def _operation(function: str, handler: str, template: str, op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[^/]+$"},
        }
        for name in _path_names(template)
    ]
    parameters += [
        {"name": name, "in": "query", "required": name in op.required_query, "schema": schema}
        for name, schema in op.query.items()
    ]
    parameters += [
        {"name": name, "in": "header", "required": False, "schema": schema}
        for name, schema in op.headers.items()
    ]
    status, body = op.ok
    responses: dict[str, Any] = {
        str(status): {"description": op.summary}
        if body is None
        else {"description": op.summary, "content": {"application/json": {"schema": ref(body)}}}
    }
    if function == "send" and template == "/":
        responses["202"] = {
            "description": "Queued (or scheduled) for `deliver`",
            "content": {"application/json": {"schema": ref("DeliveryReply")}},
        }
    links = {
        name: {"operationId": target, "parameters": parameters_of}
        for name, (target, parameters_of) in op.links.items()
    }
    if links:
        for answered in [str(status), *(["202"] if function == "send" else [])]:
            responses[answered]["links"] = links
    error = {"content": {"application/json": {"schema": ref("Error")}}}
    for code in sorted({*op.errors, 404, 405}):
        responses[str(code)] = {"description": _ERRORS.get(code, "Refused"), **error}
    # A path the framework itself cannot route (a control character in it) never reaches
    # sendvia: functions-framework answers with its own HTML page.
    responses["404"]["content"]["text/html"] = {"schema": {"type": "string"}}
    if op.auth == "none":  # a browser's page, not JSON
        responses["400"] = {
            "description": "An unknown, used, expired or foreign sign-in state",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    operation: dict[str, Any] = {
        "operationId": f"{function}_{handler}",
        "summary": op.summary,
        "tags": [function],
        "parameters": parameters,
        "responses": responses,
        "security": {"user": [{"firebase": []}], "signature": [], "none": []}[op.auth],
    }
    if op.body is not None:
        schema = ref(op.body) if isinstance(op.body, str) else op.body
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return operation


def _path_names(template: str) -> list[str]:
    return re.findall(r"\{(\w+)\}", template)


_ERRORS = {
    400: "Bad input, naming the field",
    401: "No valid credentials",
    403: "Not allowed for this caller",
    404: "Not found (or another tenant's)",
    405: "Method not allowed on this path",
    409: "Conflict with the current state",
    413: "Too large",
    422: "Refused (a suppressed recipient, a provider's refusal)",
    429: "Too many tries, or the provider's limit",
    502: "The provider answered an error",
    503: "Not configured here, or the provider is unavailable",
}
