"""The `/_sim/*` HTTP control surface, for when the fake runs in another process.

- `GET  /_sim/requests[?key=&rpc=&model=]` → JSON list of request records;
- `GET  /_sim/faults` → pending faults; `POST /_sim/faults` with one fault object or a list
  (fields as `Fault`: kind, key, model, rpc, times, retry_delay, seconds, after_chunks, status,
  quota_value) → the created faults; `DELETE /_sim/faults` clears them;
- `POST /_sim/config` with any of chunks, chunk_delay, latency, keys, any_key → the new config;
- `POST /_sim/reset` → forget records, faults and quota usage.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .respond import JSON_TYPE, Send, headers
from .wire import pretty

if TYPE_CHECKING:
    from .app import SimulatedGemini


async def _reply(send: Send, status: int, obj: Any) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers(JSON_TYPE)})
    await send({"type": "http.response.body", "body": pretty(obj)})


def _config(sim: SimulatedGemini) -> dict[str, Any]:
    return {
        "chunks": sim.knobs.chunks,
        "chunk_delay": sim.knobs.chunk_delay,
        "latency": sim.knobs.latency,
        "keys": sorted(sim.keys),
        "any_key": sim.any_key,
    }


async def handle(sim: SimulatedGemini, scope: dict[str, Any], raw: bytes, send: Send) -> None:
    path, method = scope["path"], scope["method"]
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        await _reply(send, 400, {"error": "body is not JSON"})
        return
    try:
        if path == "/_sim/requests" and method == "GET":
            query = dict(parse_qsl(scope.get("query_string", b"").decode()))
            filters = {k: v for k, v in query.items() if k in ("key", "rpc", "model")}
            await _reply(send, 200, [r.to_json() for r in sim.select(**filters)])
        elif path == "/_sim/faults" and method == "GET":
            await _reply(send, 200, [f.to_json() for f in sim.faults.pending])
        elif path == "/_sim/faults" and method == "POST":
            specs = body if isinstance(body, list) else [body]
            created = [sim.faults.add(**spec) for spec in specs]
            await _reply(send, 200, [f.to_json() for f in created])
        elif path == "/_sim/faults" and method == "DELETE":
            sim.faults.clear()
            await _reply(send, 200, [])
        elif path == "/_sim/config" and method == "POST":
            for name in ("chunks", "chunk_delay", "latency"):
                if name in body:
                    setattr(sim.knobs, name, body[name])
            if "keys" in body:
                sim.keys = set(body["keys"])
            if "any_key" in body:
                sim.any_key = bool(body["any_key"])
            await _reply(send, 200, _config(sim))
        elif path == "/_sim/config" and method == "GET":
            await _reply(send, 200, _config(sim))
        elif path == "/_sim/reset" and method == "POST":
            sim.reset()
            await _reply(send, 200, {"reset": True})
        else:
            await _reply(send, 404, {"error": f"no control route {method} {path}"})
    except (TypeError, ValueError) as exc:
        await _reply(send, 400, {"error": str(exc)})
