"""The management API's OpenAPI 3.1 document, served at `/manage/openapi.json`. A test
keeps it equal to the routes (every route described, every path a route)."""

from __future__ import annotations

from typing import Any

from trioproxy.errors import ENVELOPE_SCHEMA
from trioproxy.tenancy.model import LIMIT_FIELDS

_REASONS = {
    400: "Invalid input (the message names the field); nothing changed",
    413: "The request body is larger than the gateway's max_body_bytes",
    401: "Missing or wrong management token",
    404: "No such project or token (or the management API is off)",
    409: "A project with this name exists",
    503: "The change could not be saved; nothing changed",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _op(
    summary: str,
    response: dict[str, Any],
    *,
    status: int = 200,
    body: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (401,),
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(status): {"description": "OK", "content": {"application/json": {"schema": response}}}
    }
    for error in errors:
        responses[str(error)] = {
            "description": _REASONS[error],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = {
            # A PATCH may be empty (it changes nothing); a POST needs its fields.
            "required": bool(body.get("required")),
            "content": {"application/json": {"schema": body}},
        }
    return operation


def _list_of(name: str, field: str) -> dict[str, Any]:
    return {"type": "object", "properties": {field: {"type": "array", "items": _ref(name)}}}


_NULLABLE_NAMES = {"type": ["array", "null"], "items": {"type": "string"}, "minItems": 1}
_LIMITS = {
    "type": ["object", "null"],
    "description": "null clears every limit; in a PATCH, limits not named keep their value",
    "additionalProperties": False,
    "properties": {
        name: {"type": ["integer", "null"], "minimum": 1, "maximum": 10**12}
        for name in LIMIT_FIELDS
    },
}
_USAGE = {
    "type": "object",
    "properties": {
        "requests": {"type": "integer"},
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "reasoning_tokens": {"type": "integer"},
        "last_used_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
_DURATION = {
    "oneOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "examples": ["30d"]}],
    "description": 'Seconds, or text like "90s", "15m", "12h", "30d"; at most 365 days.',
}
_PROJECT_FIELDS = {
    "description": {"type": ["string", "null"], "maxLength": 1000},
    "metadata": {
        "type": ["object", "null"],
        "maxProperties": 50,
        "additionalProperties": {"type": "string", "maxLength": 1000},
    },
    "models": {**_NULLABLE_NAMES, "description": "fnmatch globs; null: any model"},
    "upstreams": {**_NULLABLE_NAMES, "description": "upstream names; null: any"},
    "limits": _LIMITS,
}
_TOKEN_FIELDS = {
    "name": {"type": ["string", "null"], "maxLength": 1000},
    "expires_in": _DURATION,
    "limits": _LIMITS,
}
_PROJECT_PATH = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
_TOKEN_PATH = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "trioproxy management API",
        "version": "1",
        "description": "Projects and their short-lived client tokens. Every call needs "
        "`Authorization: Bearer $TRIOPROXY_MANAGEMENT_TOKEN`.",
    },
    "security": [{"management": []}],
    "paths": {
        "/manage/projects": {
            "get": _op("List the projects, by name", _list_of("Project", "projects")),
            "post": _op(
                "Create a project",
                _ref("Project"),
                status=201,
                body={
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
                        **_PROJECT_FIELDS,
                    },
                },
                errors=(400, 401, 409, 413, 503),
            ),
        },
        "/manage/projects/{name}": {
            "parameters": _PROJECT_PATH,
            "get": _op("One project, with its usage totals", _ref("Project"), errors=(401, 404)),
            "patch": _op(
                "Change a project (fields left out keep their value)",
                _ref("Project"),
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "properties": _PROJECT_FIELDS,
                },
                errors=(400, 401, 404, 413, 503),
            ),
            "delete": _op(
                "Delete a project and its tokens (they stop working at once)",
                {
                    "type": "object",
                    "properties": {
                        "deleted": {"type": "string"},
                        "tokens_deleted": {"type": "integer"},
                    },
                },
                errors=(401, 404, 503),
            ),
        },
        "/manage/tokens": {
            "get": {
                **_op("List tokens, newest first", _list_of("Token", "tokens"), errors=(401, 404)),
                "parameters": [{"name": "project", "in": "query", "schema": {"type": "string"}}],
            },
            "post": _op(
                "Mint a token: the secret is in this answer only",
                {
                    "allOf": [
                        _ref("Token"),
                        {
                            "type": "object",
                            "properties": {
                                "token": {"type": "string", "description": "tp-..., shown once"}
                            },
                        },
                    ]
                },
                status=201,
                body={
                    "type": "object",
                    "required": ["project"],
                    "additionalProperties": False,
                    "properties": {"project": {"type": "string"}, **_TOKEN_FIELDS},
                },
                errors=(400, 401, 413, 503),
            ),
        },
        "/manage/tokens/{id}": {
            "parameters": _TOKEN_PATH,
            "get": _op("One token, with its usage totals", _ref("Token"), errors=(401, 404)),
            "patch": _op(
                "Rename, set limits or a new expiry (counted from now)",
                _ref("Token"),
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "properties": _TOKEN_FIELDS,
                },
                errors=(400, 401, 404, 413, 503),
            ),
            "delete": _op(
                "Delete a token (and its usage totals)",
                {"type": "object", "properties": {"deleted": {"type": "string"}}},
                errors=(401, 404, 503),
            ),
        },
        "/manage/tokens/{id}/revoke": {
            "parameters": _TOKEN_PATH,
            "post": _op(
                "Revoke a token: refused from the very next request",
                _ref("Token"),
                errors=(401, 404, 503),
            ),
        },
        "/manage/openapi.json": {"get": _op("This document", {"type": "object"})},
    },
    "components": {
        "securitySchemes": {"management": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": ENVELOPE_SCHEMA,
            "Project": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    **_PROJECT_FIELDS,
                    "created_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time"},
                    "tokens": {"type": "integer", "description": "active tokens"},
                    "usage": _USAGE,
                },
            },
            "Token": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "project": {"type": "string"},
                    "name": {"type": ["string", "null"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "expires_at": {"type": "string", "format": "date-time"},
                    "revoked_at": {"type": ["string", "null"], "format": "date-time"},
                    "active": {"type": "boolean", "description": "false once revoked"},
                    "state": {"enum": ["active", "expired", "revoked"]},
                    "limits": _LIMITS,
                    "usage": _USAGE,
                },
            },
        },
    },
}
