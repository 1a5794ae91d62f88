"""The minimal forwarders `floor.py` measures: the fixed stack doing nothing but forward.

    python benchmarks/floor_apps.py canned|asgi|quart --upstream http://127.0.0.1:PORT

`canned` answers every request with a fixed body and calls nothing: hypercorn's own cost.
The other two answer `POST /v1/chat/completions` by sending the body, untouched, to the upstream's
`generateContent` with one shared httpx client (the same limits as trioproxy's) and
returning the upstream's answer. `asgi` is a bare ASGI callable; `quart` is one
quart-trio route. Both are served by hypercorn's trio worker, as trioproxy is.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import httpx
import trio
from quart import Response, request
from quart_trio import QuartTrio

from trioproxy.config.model import GatewaySettings
from trioproxy.serving import serve_app
from trioproxy.upstream import make_http_client

PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
HEADERS = {"content-type": "application/json", "x-goog-api-key": "bench-key-0"}


CANNED = (
    b'{"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}]}, '
    b'"finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 3, '
    b'"candidatesTokenCount": 1, "totalTokenCount": 4}}'
)


def asgi_app(upstream: str, http: httpx.AsyncClient, *, canned: bool = False) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if canned:
            status, content = 200, CANNED
        else:
            answer = await http.post(upstream + PATH, content=body, headers=HEADERS)
            status, content = answer.status_code, answer.content
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": content})

    return app


def quart_app(upstream: str, http: httpx.AsyncClient) -> Any:
    app = QuartTrio("floor")

    @app.post("/v1/chat/completions")
    async def forward() -> Response:
        body = await request.get_data()
        answer = await http.post(upstream + PATH, content=body, headers=HEADERS)
        return Response(answer.content, status=answer.status_code, content_type="application/json")

    return app


async def main(kind: str, upstream: str) -> None:
    async with make_http_client(GatewaySettings()) as http:
        if kind == "quart":
            app = quart_app(upstream, http)
        else:
            app = asgi_app(upstream, http, canned=kind == "canned")
        async with trio.open_nursery() as nursery:
            url = await nursery.start(serve_app, app)
            print(f"listening on {url}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("canned", "asgi", "quart"))
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    trio.run(main, args.kind, args.upstream)
