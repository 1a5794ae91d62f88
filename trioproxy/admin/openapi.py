"""The admin API's OpenAPI 3.1 document, served at `/admin/openapi.json`.

Written out by hand (the routes are few and their bodies small); a test checks that every
admin route of the app is described here and every path here is a route.
"""

from __future__ import annotations

from typing import Any

from trioproxy.errors import ENVELOPE_SCHEMA
from trioproxy.pool.status import KEY_STATES

_ERROR = {"$ref": "#/components/schemas/Error"}
_KEY = {"$ref": "#/components/schemas/Key"}


def _op(summary: str, response: dict[str, Any], *, body: dict[str, Any] | None = None,
        errors: tuple[int, ...] = (401,)) -> dict[str, Any]:  # fmt: skip
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": response}}},
            **{
                str(status): {
                    "description": _REASONS[status],
                    "content": {"application/json": {"schema": _ERROR}},
                }
                for status in errors
            },
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": body}},
        }
    return operation


_REASONS = {
    400: "Invalid input",
    401: "Missing or wrong admin token",
    404: "Unknown key (or the admin API is off)",
    422: "keys.yaml is invalid; nothing changed",
}
_NAME = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
_OBJECT = {"type": "object"}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "trioproxy admin API",
        "version": "1",
        "description": "Operate the key pool of a running gateway. Every call needs "
        "`Authorization: Bearer $TRIOPROXY_ADMIN_TOKEN`.",
    },
    "security": [{"admin": []}],
    "paths": {
        "/admin/keys": {"get": _op("List the keys with their state", _OBJECT)},
        "/admin/keys/{name}": {
            "parameters": _NAME,
            "get": _op("One key's state", _KEY, errors=(401, 404)),
            "patch": _op(
                "Set or clear the runtime weight / priority (null clears; kept apart from "
                "keys.yaml, persisted, kept across reloads)",
                _KEY,
                body={
                    "type": "object",
                    "properties": {
                        "weight": {"type": ["number", "null"], "exclusiveMinimum": 0},
                        "priority": {"type": ["integer", "null"], "minimum": 0},
                    },
                    "additionalProperties": False,
                },
                errors=(400, 401, 404),
            ),
        },
        "/admin/keys/{name}/disable": {
            "parameters": _NAME,
            "post": _op(
                "Take the key out of service (calls in flight finish)",
                _KEY,
                body={"type": "object", "properties": {"reason": {"type": "string"}}},
                errors=(400, 401, 404),
            ),
        },
        "/admin/keys/{name}/enable": {
            "parameters": _NAME,
            "post": _op("Put the key back in service", _KEY, errors=(401, 404)),
        },
        "/admin/keys/{name}/reset": {
            "parameters": _NAME,
            "post": _op(
                "Forget the key's breaker, health, cooldowns and auth disable",
                _KEY,
                errors=(401, 404),
            ),
        },
        "/admin/reload": {
            "post": _op("Reload keys.yaml now", _OBJECT, errors=(401, 422)),
        },
        "/admin/state": {
            "get": _op("Export the pool state (the `trioproxy state export` format)", _OBJECT),
            "put": _op(
                "Import a state export: saved and applied to the running pool",
                _OBJECT,
                body=_OBJECT,
                errors=(400, 401),
            ),
        },
        "/admin/decisions": {
            "get": {
                **_op(
                    "Recent requests' decision records, newest first", _OBJECT, errors=(400, 401)
                ),
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 256},
                    }
                ],
            }
        },
        "/admin/openapi.json": {"get": _op("This document", _OBJECT)},
    },
    "components": {
        "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": ENVELOPE_SCHEMA,
            "Key": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "secret": {"type": "string", "description": "sha256 fingerprint"},
                    "state": {"enum": list(KEY_STATES)},
                    "disabled": {"type": ["string", "null"]},
                    "breaker": _OBJECT,
                    "health": _OBJECT,
                    "cooldowns": _OBJECT,
                    "in_flight": {"type": "integer"},
                    "weight": {"type": "number"},
                    "priority": {"type": "integer"},
                    "configured": _OBJECT,
                    "override": {"type": ["object", "null"]},
                    "usage_today": _OBJECT,
                },
            },
        },
    },
}
