"""The admin API: `/admin/...` with `Authorization: Bearer $TRIOPROXY_ADMIN_TOKEN`.

Off (404) when the variable is unset; 401 for a missing or wrong token (compared in
constant time). Every route is described in `/admin/openapi.json` (trioproxy.admin.openapi).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import trio
from quart import Blueprint, Response, current_app, request

from trioproxy import logs
from trioproxy.access import authenticate_admin
from trioproxy.admin import actions
from trioproxy.admin.openapi import DOCUMENT
from trioproxy.admin.views import key_view
from trioproxy.codec import dumps
from trioproxy.errors import InvalidRequest, ProxyError
from trioproxy.pool import KeyPool, KeyState
from trioproxy.state.capture import capture, restore, saved_overrides
from trioproxy.state.snapshot import Snapshot, SnapshotError

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


class ReloadFailed(ProxyError):
    status = 422
    type = "invalid_request_error"
    code = "invalid_config"

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("keys.yaml is invalid; the running config is unchanged.")
        self.problems = problems

    def envelope(self) -> dict[str, Any]:
        body = super().envelope()
        body["error"]["problems"] = list(self.problems)
        return body


def _app() -> Any:
    return current_app


def _json(body: object, status: int = 200) -> Response:
    return Response(dumps(body), status=status, content_type="application/json")


async def _body() -> Any:
    raw = await request.get_data(cache=False)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest("The body is not valid JSON.") from None


def _clock() -> tuple[float, float]:
    return trio.current_time(), _app().gateway.wall()


@blueprint.before_request
async def admin_only() -> None:
    authenticate_admin(_app().settings.admin_token, request.headers.get("authorization"))


@blueprint.get("/openapi.json")
async def openapi() -> Response:
    return _json(DOCUMENT)


@blueprint.get("/keys")
async def list_keys() -> Response:
    now, wall = _clock()
    return _json({"keys": [key_view(key, now, wall) for key in _app().gateway.pool.keys]})


@blueprint.get("/keys/<path:name>")
async def get_key(name: str) -> Response:
    key = actions.find(_app().gateway.pool, name)
    return _json(key_view(key, *_clock()))


@blueprint.post("/keys/<path:name>/disable")
async def disable_key(name: str) -> Response:
    # The body first: after it, no await until the change is made, so a reload cannot
    # swap the pool between finding the key and changing it.
    body = await _body()
    pool = _app().gateway.pool
    key = actions.find(pool, name)
    reason = body.get("reason") if isinstance(body, dict) else None
    if reason is not None and not isinstance(reason, str):
        raise InvalidRequest("`reason` must be a string.", param="reason")
    actions.disable(pool, key, reason[:200] if reason else None)
    logs.event("admin: key disabled", key=key.name, reason=key.disabled)
    return _json(key_view(key, *_clock()))


@blueprint.post("/keys/<path:name>/enable")
async def enable_key(name: str) -> Response:
    return _act(name, actions.enable, "admin: key enabled")


@blueprint.post("/keys/<path:name>/reset")
async def reset_key(name: str) -> Response:
    return _act(name, actions.reset, "admin: key reset")


def _act(name: str, action: Callable[[KeyPool, KeyState], None], event: str) -> Response:
    pool = _app().gateway.pool
    key = actions.find(pool, name)
    action(pool, key)
    logs.event(event, key=key.name)
    return _json(key_view(key, *_clock()))


@blueprint.patch("/keys/<path:name>")
async def override_key(name: str) -> Response:
    """Set or clear the runtime weight/priority of a key: the pool is rebuilt with it,
    the way a reload would (its state carries over)."""
    body = await _body()  # before the lookup: nothing awaits between it and the swap
    app = _app()
    key = actions.find(app.gateway.pool, name)
    override = actions.parse_override(body, key.override)
    if override is None:
        app.overrides.pop(name, None)
    else:
        app.overrides[name] = override
    app.swap_gateway(app.gateway.successor(app.gateway.config))
    key = app.gateway.pool.by_name[name]
    app.gateway.pool.changed(key)
    logs.event(
        "admin: key override set",
        key=name,
        weight=override.weight if override else None,
        priority=override.priority if override else None,
    )
    return _json(key_view(key, *_clock()))


@blueprint.post("/reload")
async def reload() -> Response:
    """Re-read keys.yaml and apply it now, even if its bytes are unchanged. 200 with what
    changed, or 422 with the problems (the running config stays)."""
    app = _app()
    result = await app.reloader.reload(trigger="admin", force=True)
    if result.outcome == "failed":
        raise ReloadFailed(result.problems)
    body = {
        "outcome": result.outcome,
        "added": list(result.added),
        "removed": list(result.removed),
        "replaced": list(result.replaced),
        "keys": len(app.gateway.config.keys),
    }
    return _json(body)


@blueprint.get("/state")
async def export_state() -> Response:
    """The whole state, as `trioproxy state export` writes it, current to this moment."""
    app = _app()
    full = app.store.snapshot() if app.store is not None else Snapshot()
    full.merge(capture(app.gateway.pool.keys, *_clock()))
    return _json(full.to_json())


@blueprint.put("/state")
async def import_state() -> Response:
    """Replace the state with an export: saved, and applied to the running pool (keys
    matched by name and secret fingerprint)."""
    app = _app()
    try:
        snapshot = Snapshot.from_json(await _body())
    except SnapshotError as error:
        raise InvalidRequest(str(error)) from None
    now, wall = _clock()
    snapshot.saved_at = wall
    if app.store is not None:
        await trio.to_thread.run_sync(app.store.replace, snapshot)
    app.overrides.clear()
    fingerprints = {key.name: key.spec.secret.fingerprint for key in app.gateway.pool.keys}
    app.overrides.update(saved_overrides(snapshot, fingerprints))
    app.swap_gateway(app.gateway.successor(app.gateway.config))
    pool = app.gateway.pool
    for key in pool.keys:
        if key.name in snapshot.keys:
            # What is imported replaces what was learned; calls already out are stale.
            key.breaker.retire()
            key.health.clear()
            key.cooldowns.clear()
    restored = restore(pool, snapshot, now, wall)
    for key in pool.keys:
        pool.changed(key)
    logs.event("admin: state imported", keys=restored.keys, rotated=list(restored.rotated))
    return _json({"restored": restored.keys, "rotated": list(restored.rotated)})


@blueprint.get("/decisions")
async def decisions() -> Response:
    raw = request.args.get("limit", "50")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 256:
        raise InvalidRequest("`limit` must be an integer from 1 to 256.", param="limit")
    records = _app().gateway.dispatcher.decisions.recent(int(raw))
    return _json({"decisions": [record.to_json() for record in reversed(records)]})
