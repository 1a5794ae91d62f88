"""The management API: projects and their tokens, `/manage/...` with
`Authorization: Bearer $TRIOPROXY_MANAGEMENT_TOKEN`.

Off (404) when the variable is unset; 401 for a missing or wrong token. Input is checked
whole before anything changes (trioproxy.tenancy.validate); every change is saved before
it is live (trioproxy.tenancy.manager). Described in `/manage/openapi.json`.
"""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response, current_app, request

from trioproxy.access import authenticate_admin
from trioproxy.codec import dumps
from trioproxy.errors import InvalidRequest
from trioproxy.tenancy import validate
from trioproxy.tenancy.manager import Manager
from trioproxy.tenancy.openapi import DOCUMENT
from trioproxy.tenancy.secrets import looks_like_token
from trioproxy.tenancy.views import project_view, token_view

blueprint = Blueprint("manage", __name__, url_prefix="/manage")


def _manager() -> Manager:
    manager: Manager = current_app.access  # type: ignore[attr-defined]
    return manager


def _json(body: object, status: int = 200) -> Response:
    return Response(dumps(body), status=status, content_type="application/json")


async def _body() -> dict[str, Any]:
    raw = await request.get_data(cache=False)
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest("The body is not valid JSON.") from None
    return validate.object_body(body)


def _project(name: str) -> dict[str, Any]:
    manager = _manager()
    return project_view(manager.project(name), manager.registry, manager.wall())


def _token(token_id: str) -> dict[str, Any]:
    manager = _manager()
    return token_view(manager.token(token_id), manager.registry, manager.wall())


def _check_upstreams(fields: dict[str, Any]) -> None:
    gateway = current_app.gateway  # type: ignore[attr-defined]
    validate.check_upstreams(fields.get("upstreams"), {u.name for u in gateway.config.upstreams})


@blueprint.before_request
async def managers_only() -> None:
    authenticate_admin(
        current_app.settings.management_token,  # type: ignore[attr-defined]
        request.headers.get("authorization"),
        api="management",
    )


@blueprint.before_request
async def ids_not_secrets() -> None:
    token_id = (request.view_args or {}).get("token_id", "")
    if looks_like_token(token_id):
        # Not echoed back, and the access log redacts it (observability.requests).
        raise InvalidRequest(
            "That is a client token, not a token id (tok_...): find its id with "
            "`trioproxy manage token list`, and treat the token as exposed."
        )


@blueprint.get("/openapi.json")
async def openapi() -> Response:
    return _json(DOCUMENT)


@blueprint.post("/projects")
async def create_project() -> Response:
    fields = validate.project_fields(await _body(), creating=True)
    _check_upstreams(fields)
    project = await _manager().create_project(fields)
    return _json(_project(project.name), 201)


@blueprint.get("/projects")
async def list_projects() -> Response:
    manager = _manager()
    wall = manager.wall()
    projects = sorted(manager.registry.projects.values(), key=lambda project: project.name)
    return _json({"projects": [project_view(p, manager.registry, wall) for p in projects]})


@blueprint.get("/projects/<name>")
async def get_project(name: str) -> Response:
    return _json(_project(name))


@blueprint.patch("/projects/<name>")
async def update_project(name: str) -> Response:
    fields = validate.project_fields(await _body(), creating=False)
    _check_upstreams(fields)
    await _manager().update_project(name, fields)
    return _json(_project(name))


@blueprint.delete("/projects/<name>")
async def delete_project(name: str) -> Response:
    removed = await _manager().delete_project(name)
    return _json({"deleted": name, "tokens_deleted": removed})


@blueprint.post("/tokens")
async def create_token() -> Response:
    fields = validate.token_fields(await _body(), creating=True)
    token, secret = await _manager().create_token(fields)
    # The only time the token exists outside the client: only its hash is kept.
    return _json({**_token(token.id), "token": secret}, 201)


@blueprint.get("/tokens")
async def list_tokens() -> Response:
    manager = _manager()
    project = request.args.get("project")
    if project is not None:
        manager.project(project)  # 404 for a project that does not exist
    wall = manager.wall()
    tokens = [
        token
        for token in manager.registry.tokens.values()
        if project is None or token.project == project
    ]
    tokens.sort(key=lambda token: (-token.created_at, token.id))
    return _json({"tokens": [token_view(t, manager.registry, wall) for t in tokens]})


@blueprint.get("/tokens/<token_id>")
async def get_token(token_id: str) -> Response:
    return _json(_token(token_id))


@blueprint.patch("/tokens/<token_id>")
async def update_token(token_id: str) -> Response:
    fields = validate.token_fields(await _body(), creating=False)
    await _manager().update_token(token_id, fields)
    return _json(_token(token_id))


@blueprint.post("/tokens/<token_id>/revoke")
async def revoke_token(token_id: str) -> Response:
    await _manager().revoke_token(token_id)
    return _json(_token(token_id))


@blueprint.delete("/tokens/<token_id>")
async def delete_token(token_id: str) -> Response:
    await _manager().delete_token(token_id)
    return _json({"deleted": token_id})
