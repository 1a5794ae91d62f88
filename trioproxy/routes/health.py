"""Liveness and readiness (unauthenticated: what an orchestrator's probes call).

/healthz: the process serves HTTP. /readyz: whether to send it traffic: 503 while it
drains for shutdown; 200 otherwise, with `status: degraded` when the state store fell
back from SQLite (requests are served, but say so where operators look).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app

from trioproxy.codec import dumps

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@blueprint.get("/readyz")
async def readyz() -> Response:
    app: Any = current_app
    store = app.store.status if app.store is not None else None
    reloads = app.reloader.status
    body: dict[str, Any] = {
        "status": "ready",
        "store": None
        if store is None
        else {"kind": store.kind, "degraded": store.degraded, "reason": store.reason},
        "config": {
            "keys": len(app.gateway.config.keys),
            "last_reload": reloads.last_outcome,
            "reload_failures": reloads.counts["failed"],
        },
    }
    status = 200
    if app.drain.draining:
        body["status"], status = "draining", 503
    elif store is not None and store.degraded:
        body["status"] = "degraded"
    return Response(dumps(body), status=status, content_type="application/json")
