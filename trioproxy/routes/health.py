"""Liveness and readiness (unauthenticated: what an orchestrator's probes call).

/healthz: the process serves HTTP. /readyz: whether to send it traffic. 503, with the
reasons, while it drains for shutdown, when no key can serve (every key disabled or its
breaker open), or when the state store failed (nothing can be written anywhere); 200
otherwise, with `status: degraded` when the store fell back from SQLite to JSON (requests
are served, but say so where operators look).
"""

from __future__ import annotations

from typing import Any

import trio
from quart import Blueprint, Response, current_app

from trioproxy.admin.views import usable_keys
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
    usable = usable_keys(app.gateway.pool, trio.current_time())
    body["config"]["usable_keys"] = usable
    reasons = []
    if app.drain.draining:
        reasons.append("shutting down")
    if usable == 0:
        reasons.append("no usable key: every key is disabled or its breaker is open")
    if store is not None and store.kind == "memory":
        reasons.append(f"state store failed: {store.reason}")
    status = 200
    if reasons:
        body["status"], body["reasons"], status = "unavailable", reasons, 503
        if app.drain.draining:
            body["status"] = "draining"
    elif store is not None and store.degraded:
        body["status"] = "degraded"
    return Response(dumps(body), status=status, content_type="application/json")
