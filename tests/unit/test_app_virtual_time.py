"""The app in process (quart-trio's ASGI test connection) over httpx.MockTransport, in
virtual time: behaviour that takes minutes of wall time is checked in milliseconds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import trio
import trio.testing

from trioproxy.app import TrioProxyApp, create_app
from trioproxy.config import build_config
from trioproxy.runtime import Runtime
from trioproxy.settings import Settings

CHAT = {
    "model": "gemini-2.5-flash",
    "stream": True,
    "messages": [{"role": "user", "content": "tell me a long story"}],
}


def event(text: str, finish: str | None = None) -> bytes:
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": [{"text": text}]},
        "index": 0,
    }
    if finish:
        candidate["finishReason"] = finish
    payload = {
        "candidates": [candidate],
        "modelVersion": "gemini-2.5-flash",
        "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5},
    }
    return b"data: " + json.dumps(payload).encode() + b"\r\n\r\n"


class SlowStream(httpx.AsyncByteStream):
    """An upstream that sends one event every `gap` seconds (virtual)."""

    def __init__(self, texts: list[str], gap: float) -> None:
        self.texts = texts
        self.gap = gap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index, text in enumerate(self.texts):
            await trio.sleep(self.gap)
            last = index == len(self.texts) - 1
            yield event(text, "STOP" if last else None)


def make_app(
    tmp_path: Path, stream: httpx.AsyncByteStream, gateway: dict[str, Any] | None = None
) -> TrioProxyApp:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=stream, headers={"content-type": "text/event-stream"})

    document = {
        "upstreams": [
            {
                "name": "g",
                "type": "gemini",
                "base_url": "https://gemini.test",
                "keys": [{"name": "a", "key": "secret-a"}],
            }
        ],
        "gateway": gateway or {},
    }
    config = build_config(document, "test.yaml", {})
    return create_app(
        # Virtual time: no watcher or store threads (real-time threads race the autojump clock).
        Settings(config_path=tmp_path / "k.yaml", data_dir=None, watch_config=False),
        runtime=Runtime(config, simulated=False),
        transport=httpx.MockTransport(handler),
    )


async def stream_chat(app: TrioProxyApp, client_addr: str = "127.0.0.1") -> tuple[int, bytes]:
    # Hang guard on the (virtual) trio clock: a response that stops without ending fails
    # the test instead of hanging it.
    with trio.fail_after(1000):
        return await _stream_chat(app, client_addr)


async def _stream_chat(app: TrioProxyApp, client_addr: str) -> tuple[int, bytes]:
    async with app.test_app() as test_app:
        client = test_app.test_client()
        async with client.request(
            "/v1/chat/completions",
            method="POST",
            headers={"content-type": "application/json"},
            scope_base={"client": (client_addr, 50000)},
        ) as connection:
            await connection.send(json.dumps(CHAT).encode())
            await connection.send_complete()
            body = bytearray()
            while True:
                data = await connection.receive()
                body += data
                if not data or b"[DONE]" in body or connection.status_code != 200:
                    break
        return connection.status_code or 0, bytes(body)


async def test_a_stream_longer_than_quarts_60s_default_is_not_cut(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    app = make_app(tmp_path, SlowStream(["one ", "two ", "three"], gap=45.0))
    start = trio.current_time()
    status, body = await stream_chat(app)
    assert status == 200
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in body.decode().split("\n\n")
        if line.startswith("data: {") and json.loads(line[6:])["choices"]
    )
    assert text == "one two three"
    assert body.endswith(b"data: [DONE]\n\n")
    assert trio.current_time() - start >= 135


async def test_the_request_deadline_ends_a_stalled_stream_with_an_error_event(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    app = make_app(
        tmp_path, SlowStream(["first ", "never"], gap=100.0), gateway={"request_timeout": 150}
    )
    status, body = await stream_chat(app)
    assert status == 200
    events = [line for line in body.decode().split("\n\n") if line.startswith("data: ")]
    chunks = [json.loads(e[6:]) for e in events[:-2]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "first "
    error = json.loads(events[-2][6:])["error"]
    assert error["code"] == "timeout"
    assert events[-1] == "data: [DONE]"


async def test_non_loopback_callers_get_403_when_no_clients_are_configured(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, SlowStream(["x"], gap=0))
    status, body = await stream_chat(app, client_addr="203.0.113.9")
    assert status == 403
    error = json.loads(body)["error"]
    assert error["type"] == "permission_error"
    assert "loopback" in error["message"]


async def test_the_shutdown_cut_ends_a_stream_cleanly_at_the_end_of_the_grace(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    app = make_app(tmp_path, SlowStream(["first ", "second ", "never"], gap=40.0))
    result: list[tuple[int, bytes]] = []
    async with trio.open_nursery() as nursery:

        async def run() -> None:
            result.append(await stream_chat(app))

        nursery.start_soon(run)
        await trio.sleep(50)  # "first " is out; the stream waits for "second " (at 80 s)
        app.drain.begin(35)  # "second " (at 80 s) comes within the grace; "never" would not
        start = trio.current_time()
    status, body = result[0]
    assert trio.current_time() - start == 35
    assert status == 200
    events = [line for line in body.decode().split("\n\n") if line.startswith("data: ")]
    chunks = [json.loads(e[6:]) for e in events[:-2]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "first second "
    error = json.loads(events[-2][6:])["error"]
    assert error["code"] == "gateway_shutting_down"
    assert events[-1] == "data: [DONE]"
    # Cut by the shutdown, the key is not blamed for it.
    key = app.gateway.pool.by_name["a"]
    assert key.health.counts(trio.current_time()) == (0, 0)
    assert key.inflight == 0


async def test_the_request_deadline_still_wins_when_it_comes_before_the_cut(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    app = make_app(
        tmp_path, SlowStream(["first ", "never"], gap=100.0), gateway={"request_timeout": 150}
    )
    async with trio.open_nursery() as nursery:
        result: list[tuple[int, bytes]] = []

        async def run() -> None:
            result.append(await stream_chat(app))

        nursery.start_soon(run)
        await trio.sleep(110)
        app.drain.begin(300)
    body = result[0][1].decode()
    assert '"code": "timeout"' in body or '"code":"timeout"' in body
    assert "gateway_shutting_down" not in body
