"""Per request: the access log line and the request metrics, from the request's start to
its response head.

Upstream time is the sum of the request's attempts (from its decision record); the
gateway's own overhead is the rest, less any time the request was held waiting for a
cooling key. For a stream the response head goes out with the
first chunk, so its duration is the time to first token.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from typing import Any

import trio
from quart import Response, g, request

from trioproxy import logs
from trioproxy.access import Caller
from trioproxy.decisions import Decision
from trioproxy.events import EventLog
from trioproxy.observability.metrics import Metrics
from trioproxy.request_scope import on_request_end
from trioproxy.tenancy.manager import Manager
from trioproxy.tenancy.secrets import PREFIX

# Request ids: a random per-process prefix and a counter. Unique across processes and
# restarts (the prefix), and cheaper than a uuid4 per request (measured in the profile).
_PREFIX = os.urandom(6).hex()
_COUNTER = itertools.count(1)
_TOKEN = re.compile(re.escape(PREFIX) + r"[A-Za-z0-9_%-]+")


def admit(metrics: Metrics) -> None:
    g.start = time.perf_counter()
    g.request_id = (request.headers.get("x-request-id") or f"{_PREFIX}{next(_COUNTER):010x}")[:128]
    metrics.in_flight.inc()
    # A stream is in flight until its body ends, after the response head.
    on_request_end(metrics.in_flight.dec)


def open_event(events: EventLog | None, caller: Caller, access: Manager | None) -> None:
    """Start the usage event of a proxied request (authenticated, to a served route): it
    is emitted when the response has ended (a stream's tokens are known only then),
    filled in by `observe` and the routes, and completed from the decision record if the
    client left before the response (then `observe` never ran). A project token's
    request is also added to its usage totals then."""
    grant = caller.grant
    if request.url_rule is None or (events is None and (grant is None or access is None)):
        return
    event: dict[str, Any] = {
        "ts": round(time.time(), 3),
        "request_id": g.request_id,
        "route": _loggable(request.path),
        "client": caller.name,
        "project": grant.project.name if grant is not None else None,
        "token_id": grant.token.id if grant is not None else None,
    }
    g.event = event

    def ended() -> None:
        completed = _completed(event)
        if grant is not None and access is not None:
            tokens = (
                completed.get("prompt_tokens", 0),
                completed.get("completion_tokens", 0),
                completed.get("reasoning_tokens", 0),
            )
            access.registry.record(grant, tokens, trio.current_time(), access.wall())
        if events is not None:
            events.emit(completed)

    on_request_end(ended)


def _completed(event: dict[str, Any]) -> dict[str, Any]:
    info = event.pop("_info", None)
    if "status" not in event:
        # The client left first: what the gateway did for it is still worth recording.
        decision = info.decision if info is not None else None
        event.update(status=None, cancelled=True)
        if decision is not None:
            event.update(
                model=decision.model,
                attempts=len(decision.attempts),
                key=decision.attempts[-1].key if decision.attempts else None,
            )
    return event


def observe(metrics: Metrics, response: Response) -> None:
    response.headers["x-request-id"] = g.get("request_id", "")
    total = time.perf_counter() - g.get("start", time.perf_counter())
    info = g.get("info")
    decision: Decision | None = info.decision if info is not None else None
    upstream = _upstream_seconds(decision) if decision is not None else 0.0
    # Held for a cooling key to recover: neither the upstream's time nor the gateway's
    # overhead, so it is taken out of the latter.
    waited = decision.waited if decision is not None else 0.0
    overhead = max(0.0, total - upstream - waited)
    rule = request.url_rule
    route = rule.rule if rule is not None else "unmatched"
    model = metrics.model_label(
        decision.model if decision is not None else None, served=response.status_code < 400
    )
    streaming = response.mimetype == "text/event-stream"
    metrics.request(route, model, response.status_code, total)
    if decision is not None:
        per_route = metrics.route(route)
        per_route.upstream.observe(upstream)
        per_route.overhead.observe(overhead)
        if len(decision.attempts) > 1:
            per_route.retries.inc(len(decision.attempts) - 1)
    if streaming and response.status_code == 200:
        metrics.first_token_seconds.observe(total)
    caller = g.get("caller")
    event = g.get("event")
    if event is not None:
        event.update(
            model=decision.model if decision is not None else None,
            key=response.headers.get("x-trioproxy-key"),
            status=response.status_code,
            attempts=len(decision.attempts) if decision is not None else 0,
            ms=round(total * 1000, 3),
            upstream_ms=round(upstream * 1000, 3),
            stream=streaming,
        )
    logs.access(
        request_id=g.get("request_id"),
        method=request.method,
        route=_loggable(request.path),
        model=decision.model if decision is not None else None,
        status=response.status_code,
        client=caller.name if caller else None,
        key=response.headers.get("x-trioproxy-key"),
        attempts=response.headers.get("x-trioproxy-attempts"),
        # Until the response head: the whole call for JSON, time to first chunk for SSE.
        ms=round(total * 1000, 3),
        upstream_ms=round(upstream * 1000, 3) if decision is not None else None,
        overhead_ms=round(overhead * 1000, 3) if decision is not None else None,
        tokens=g.get("tokens"),
    )


def _loggable(path: str) -> str:
    # An operator who pastes a client token where its id goes (/manage/tokens/tp-...)
    # must not leave it in the logs.
    return _TOKEN.sub(f"{PREFIX}[redacted]", path) if PREFIX in path else path


def _upstream_seconds(decision: Decision) -> float:
    return sum(
        attempt.ended - attempt.started
        for attempt in decision.attempts
        if attempt.ended is not None
    )
