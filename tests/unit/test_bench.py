"""The load generator behind `trioproxy bench` and benchmarks/latency.py: its arithmetic,
and both load shapes against an in-process transport (no sockets)."""

from __future__ import annotations

import argparse
import json

import httpx
import pytest
import trio

from trioproxy.bench import cli
from trioproxy.bench.load import Sample, percentile, run_closed, run_open, summarize
from trioproxy.fakes.gemini.fast import FastGemini


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([3.0], 0.5) == 3.0


def test_failures_are_counted_by_status_or_exception_never_dropped() -> None:
    samples = [
        Sample(200, 0.010),
        Sample(200, 0.020),
        Sample(429, 0.001),
        Sample(0, 0.5, error="ConnectError"),
    ]
    summary = summarize(samples, elapsed=2.0)
    assert summary.requests == 4
    assert summary.rate == 2.0
    assert summary.errors == {"429": 1, "ConnectError": 1}
    assert summary.latency_ms["max"] == 20.0  # latency of the successes only


def _client(seen: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_closed_loop_sends_exactly_the_requests_asked_for() -> None:
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        summary = await run_closed(
            client, lambda: httpx.Request("POST", "http://x/y"), requests=57, concurrency=5
        )
    assert (summary.requests, len(seen), summary.errors) == (57, 57, {})


async def test_open_loop_starts_requests_on_schedule(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[httpx.Request] = []
    starts: list[float] = []

    def target() -> httpx.Request:
        starts.append(trio.current_time())
        return httpx.Request("GET", "http://x/")

    async with _client(seen) as client:
        summary = await run_open(client, target, rate=100, requests=20)
    assert summary.requests == 20
    assert starts == pytest.approx([i / 100 for i in range(20)])


def test_the_cli_builds_openai_and_gemini_requests() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    chat = cli.target(parser.parse_args(["--token", "t", "--stream"]))()
    assert str(chat.url) == "http://localhost:4806/v1/chat/completions"
    assert chat.headers["authorization"] == "Bearer t"
    assert json.loads(chat.content)["stream"] is True
    gemini = cli.target(
        parser.parse_args(["--endpoint", "gemini", "--base-url", "http://h:1", "--token", "k"])
    )()
    assert str(gemini.url) == "http://h:1/v1beta/models/gemini-2.5-flash:generateContent"
    assert gemini.headers["x-goog-api-key"] == "k"


async def test_the_fast_simulation_answers_unary_and_streamed_calls() -> None:
    fast = FastGemini(chunks=3)
    async with trio.open_nursery() as nursery:
        url = await nursery.start(fast.serve, "127.0.0.1:0")
        async with httpx.AsyncClient() as client:
            unary = await client.post(f"{url}/v1beta/models/m:generateContent", json={})
            streamed = await client.post(
                f"{url}/v1beta/models/m:streamGenerateContent?alt=sse", json={}
            )
        nursery.cancel_scope.cancel()
    assert unary.json()["candidates"][0]["finishReason"] == "STOP"
    events = [line for line in streamed.text.split("\r\n\r\n") if line.startswith("data: ")]
    assert len(events) == 3
    assert json.loads(events[-1][6:])["candidates"][0]["finishReason"] == "STOP"
