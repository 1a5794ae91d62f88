"""Prometheus metrics and the pool summary.

GET /metrics     Prometheus text format; loopback callers, or the admin token from
                 elsewhere (trioproxy.access.authorize_metrics).
GET /v1/status   pool summary (keys by state, cooldowns, per-model availability); the
                 admin token.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import trio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from quart import Blueprint, Response, current_app, request

from trioproxy.access import authenticate_admin, authorize_metrics
from trioproxy.admin.views import pool_summary
from trioproxy.codec import dumps

blueprint = Blueprint("observe", __name__)


@blueprint.get("/metrics")
async def metrics() -> Response:
    app: Any = current_app
    authorize_metrics(
        app.settings.admin_token, request.headers.get("authorization"), request.remote_addr
    )
    # Collected here, where the pool's state is consistent; rendered (the costly part
    # for a large pool) in a worker thread, off the event loop.
    families = list(app.metrics.registry.collect())
    text = await trio.to_thread.run_sync(generate_latest, _Collected(families))
    return Response(text, content_type=CONTENT_TYPE_LATEST)


class _Collected(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


@blueprint.get("/v1/status")
async def status() -> Response:
    app: Any = current_app
    authenticate_admin(app.settings.admin_token, request.headers.get("authorization"))
    gateway = app.gateway
    summary = pool_summary(gateway.pool, trio.current_time(), gateway.wall())
    return Response(dumps(summary), content_type="application/json")
