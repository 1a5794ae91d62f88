"""Upstreams that misbehave after the status line: stalls, malformed data, cut-offs, errors
mid-stream. In process, over httpx.MockTransport, in virtual time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from trioproxy.app import TrioProxyApp, create_app
from trioproxy.config import build_config
from trioproxy.runtime import Runtime
from trioproxy.settings import Settings

Step = bytes | float | Exception  # send bytes, sleep (virtual) seconds, or fail
HELLO = [{"role": "user", "content": "hello"}]


def event(text: str, finish: str | None = None) -> bytes:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if finish:
        candidate["finishReason"] = finish
    return b"data: " + json.dumps({"candidates": [candidate]}).encode() + b"\r\n\r\n"


UNARY_OK = json.dumps(
    {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}
        ]
    }
).encode()
RATE_LIMIT_TAIL = json.dumps(
    {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "message": "quota",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}],
        }
    },
    indent=2,
).encode()


class Script(httpx.AsyncByteStream):
    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = steps

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for step in self.steps:
            if isinstance(step, bytes):
                yield step
            elif isinstance(step, float):
                await trio.sleep(step)
            else:
                raise step


class Upstream:
    """Per key, a queue of scripted 200 responses; records which key was called."""

    def __init__(self, scripts: dict[str, list[Sequence[Step]]]) -> None:
        self.scripts = scripts
        self.calls: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["x-goog-api-key"]
        self.calls.append(key)
        queue = self.scripts[key]
        steps = queue.pop(0) if len(queue) > 1 else queue[0]
        return httpx.Response(200, stream=Script(steps))


def make_app(tmp_path: Path, upstream: Upstream, **gateway: Any) -> TrioProxyApp:
    document = {
        "upstreams": [
            {
                "name": "g",
                "type": "gemini",
                "base_url": "https://gemini.test",
                "keys": [{"name": k, "key": k} for k in upstream.scripts],
            }
        ],
        "gateway": gateway,
    }
    return create_app(
        # Virtual time: no watcher or store threads (real-time threads race the autojump clock).
        Settings(config_path=tmp_path / "k.yaml", data_dir=None, watch_config=False),
        runtime=Runtime(build_config(document, "t.yaml", {}), simulated=False),
        transport=httpx.MockTransport(upstream),
    )


@asynccontextmanager
async def serving(app: TrioProxyApp) -> AsyncIterator[Any]:
    with trio.fail_after(10_000):  # hang guard, virtual time
        async with app.test_app() as test_app:
            yield test_app.test_client()


async def post(client: Any, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    async with client.request(
        "/v1/chat/completions",
        method="POST",
        headers={"content-type": "application/json"},
        scope_base={"client": ("127.0.0.1", 5000)},
    ) as conn:
        await conn.send(json.dumps(body).encode())
        await conn.send_complete()
        data = bytearray()
        while chunk := await conn.receive():
            data += chunk
            if body.get("stream") and b"[DONE]" in data:
                break
    return conn.status_code or 0, dict(conn.headers or {}), bytes(data)


async def post_once(app: TrioProxyApp, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    async with serving(app) as client:
        return await post(client, body)


def events(body: bytes) -> list[Any]:
    out = []
    for block in body.decode().split("\n\n"):
        if block.startswith("data: "):
            out.append(block[6:] if block == "data: [DONE]" else json.loads(block[6:]))
    return out


def text_of(chunks: list[Any]) -> str:
    return "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in chunks
        if isinstance(c, dict) and c.get("choices")
    )


@pytest.mark.parametrize("stream", [True, False])
async def test_a_stall_after_the_headers_moves_to_the_next_key(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, stream: bool
) -> None:
    good = [event("fine", "STOP")] if stream else [UNARY_OK]
    upstream = Upstream({"a": [[3600.0]], "b": [good]})
    app = make_app(tmp_path, upstream, first_byte_timeout=20)
    start = trio.current_time()
    status, headers, body = await post_once(
        app, {"model": "m", "messages": HELLO, "stream": stream}
    )
    assert status == 200
    assert headers["x-trioproxy-key"] == "b"
    assert trio.current_time() - start == pytest.approx(20, abs=1)
    if stream:
        assert text_of(events(body)) == "fine"
    else:
        assert json.loads(body)["choices"][0]["message"]["content"] == "ok"
    assert upstream.calls == ["a", "b"]


@pytest.mark.parametrize(
    "bad",
    [b"data: {not json\r\n\r\n", b"data: [1, 2]\r\n\r\n", b'data: {"candidates": "x"}\r\n\r\n'],
)
async def test_a_malformed_stream_before_output_moves_to_the_next_key(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, bad: bytes
) -> None:
    upstream = Upstream({"a": [[bad]], "b": [[event("fine", "STOP")]]})
    status, headers, body = await post_once(
        make_app(tmp_path, upstream), {"model": "m", "messages": HELLO, "stream": True}
    )
    assert (status, headers["x-trioproxy-key"]) == (200, "b")
    assert text_of(events(body)) == "fine"


@pytest.mark.parametrize("answer", [b"[]", b'{"candidates": 5}', b"not json"])
async def test_a_malformed_unary_answer_moves_to_the_next_key(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, answer: bytes
) -> None:
    upstream = Upstream({"a": [[answer]], "b": [[UNARY_OK]]})
    status, headers, body = await post_once(
        make_app(tmp_path, upstream), {"model": "m", "messages": HELLO}
    )
    assert (status, headers["x-trioproxy-key"]) == (200, "b")
    assert json.loads(body)["choices"][0]["message"]["content"] == "ok"


@pytest.mark.parametrize(
    ("tail", "code"),
    [
        ([b"data: {broken\r\n\r\n"], "upstream_stream_error"),
        ([httpx.ReadError("reset")], "upstream_stream_error"),
        ([], "upstream_stream_error"),  # a clean end without finishReason is a cut-off
    ],
)
async def test_failures_after_the_first_byte_end_with_an_error_event(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, tail: list[Step], code: str
) -> None:
    upstream = Upstream({"a": [[event("partial "), *tail]], "b": [[event("b", "STOP")]]})
    status, _, body = await post_once(
        make_app(tmp_path, upstream), {"model": "m", "messages": HELLO, "stream": True}
    )
    chunks = events(body)
    assert status == 200
    assert text_of(chunks) == "partial "
    assert chunks[-2]["error"]["code"] == code
    assert chunks[-1] == "[DONE]"
    assert upstream.calls == ["a"]  # never retried after the first byte


async def test_a_429_mid_stream_cools_the_key(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    upstream = Upstream(
        {
            "a": [[event("partial "), RATE_LIMIT_TAIL], [event("a", "STOP")]],
            "b": [[event("b", "STOP")]],
        }
    )
    stream = {"model": "m", "messages": HELLO, "stream": True}
    async with serving(make_app(tmp_path, upstream)) as client:
        _, _, body = await post(client, stream)
        assert events(body)[-2]["error"]["code"] == "rate_limit_exceeded"
        served_by = [(await post(client, stream))[1]["x-trioproxy-key"] for _ in range(3)]
        assert served_by == ["b", "b", "b"]
        await trio.sleep(30)
        served_by = [(await post(client, stream))[1]["x-trioproxy-key"] for _ in range(2)]
        assert set(served_by) == {"a", "b"}
