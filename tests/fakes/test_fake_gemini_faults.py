"""Scripted faults, request records, cancellation tracking, control surface, quotas, CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import httpx
import pytest
import trio
import trio.testing

from trioproxy.fakes.gemini import SimulatedGemini
from trioproxy.fakes.gemini.errors import GeminiError
from trioproxy.fakes.gemini.quota import QuotaTracker

from .conftest import Served

GEN = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
HELLO = {"contents": [{"parts": [{"text": "hello big world"}]}]}
K1 = {"x-goog-api-key": "k1"}


async def test_hang_ends_when_client_hangs_up(served: Served) -> None:
    served.sim.faults.add("hang", key="k1")

    async def call() -> None:
        async with httpx.AsyncClient(base_url=served.url) as client:
            await client.post(GEN, json=HELLO, headers=K1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call)
        with trio.fail_after(5):
            seen = await served.sim.wait_for(fault="hang")
        assert not seen.done
        assert not seen.cancelled
        nursery.cancel_scope.cancel()
    with trio.fail_after(5):
        record = await served.sim.wait_for(lambda r: r.cancelled and r.done)
    assert record is seen
    assert record.disconnected
    assert not record.completed
    assert record.status is None
    assert record.cancelled_at is not None
    assert record.cancelled_at >= record.started_at


async def test_client_hangup_mid_stream_cancels(served: Served) -> None:
    # A long delay between chunks: only the hang-up can end this request quickly.
    served.sim.knobs.chunk_delay = 3600
    async with (
        httpx.AsyncClient(base_url=served.url) as client,
        client.stream("POST", STREAM, json=HELLO, headers=K1) as resp,
    ):
        async for line in resp.aiter_lines():
            assert line.startswith("data: ")
            break
    with trio.fail_after(5):
        record = await served.sim.wait_for(cancelled=True)
    assert record.status == 200
    assert len(record.chunks) == 1
    assert record.disconnected


async def test_latency_is_a_cancellable_trio_sleep(served: Served) -> None:
    served.sim.faults.add("latency", seconds=3600)

    async def call() -> None:
        async with httpx.AsyncClient(base_url=served.url) as client:
            await client.post(GEN, json=HELLO, headers=K1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call)
        with trio.fail_after(5):
            await served.sim.wait_for(rpc="generateContent")
        await trio.testing.wait_all_tasks_blocked()
        assert served.sim.requests[0].status is None
        nursery.cancel_scope.cancel()
    with trio.fail_after(5):
        await served.sim.wait_for(cancelled=True)


async def test_drop_connection_mid_stream(served: Served) -> None:
    served.sim.faults.add("drop_connection", after_chunks=1)

    async def read_all() -> None:
        async with (
            httpx.AsyncClient(base_url=served.url) as client,
            client.stream("POST", STREAM, json=HELLO, headers=K1) as resp,
        ):
            async for _ in resp.aiter_bytes():
                pass

    with pytest.raises(httpx.RemoteProtocolError):
        await read_all()
    record = served.sim.requests[0]
    assert record.dropped
    assert not record.completed
    assert not record.cancelled
    assert len(record.chunks) == 1


async def test_fault_filters_times_and_counts(served: Served) -> None:
    sim = served.sim
    fault = sim.faults.add(
        "overloaded", key="k1", model="gemini-2.5-*", rpc="generateContent", times=2
    )
    async with httpx.AsyncClient(base_url=served.url) as client:
        codes = []
        for key, path in [
            ("k1", GEN),
            ("k2", GEN),
            ("k1", "/v1beta/models/gemini-2.0-flash:generateContent"),
            ("k1", "/v1/models/gemini-2.5-pro:countTokens"),
            ("k1", "/v1/models/gemini-2.5-pro:generateContent"),
            ("k1", GEN),
        ]:
            resp = await client.post(path, json=HELLO, headers={"x-goog-api-key": key})
            codes.append(resp.status_code)
    assert codes == [503, 200, 200, 200, 503, 200]
    assert fault.hits == 2
    assert sim.faults.pending == []
    assert sim.count(key="k1") == 5
    assert sim.count(key="k1", status=503) == 2
    assert [r.rpc for r in sim.requests_for("k2")] == ["generateContent"]
    assert sim.count(lambda r: r.model == "gemini-2.5-pro") == 2


async def test_keys_editable_at_runtime(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        served.sim.remove_key("k1")
        assert (await client.post(GEN, json=HELLO, headers=K1)).status_code == 400
        served.sim.add_key("k1")
        assert (await client.post(GEN, json=HELLO, headers=K1)).status_code == 200
        served.sim.any_key = True
        resp = await client.post(GEN, json=HELLO, headers={"x-goog-api-key": "whatever"})
        assert resp.status_code == 200


async def test_control_surface(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        resp = await client.post("/_sim/faults", json={"kind": "deadline", "key": "k2"})
        assert resp.json()[0]["kind"] == "deadline"
        resp = await client.post(GEN, json=HELLO, headers={"x-goog-api-key": "k2"})
        assert resp.status_code == 504
        resp = await client.post("/_sim/config", json={"chunks": 5, "keys": ["k9"]})
        assert resp.json()["chunks"] == 5
        assert resp.json()["keys"] == ["k9"]
        await client.post(GEN, json=HELLO, headers={"x-goog-api-key": "k9"})
        records = (await client.get("/_sim/requests")).json()
        assert [(r["key"], r["status"], r["fault"]) for r in records] == [
            ("k2", 504, "deadline"),
            ("k9", 200, None),
        ]
        assert records[0]["has_authorization"] is False
        assert records[1]["completed"] is True
        assert (await client.get("/_sim/requests?key=k9")).json()[0]["seq"] == 2
        bad = await client.post("/_sim/faults", json={"kind": "nonsense"})
        assert bad.status_code == 400
        await client.post("/_sim/reset")
        assert (await client.get("/_sim/requests")).json() == []
    assert served.sim.requests == []


async def test_real_quota_buckets(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    wall = [dt.datetime(2026, 3, 10, 6, 59, 0, tzinfo=dt.UTC)]  # 23:59 in Los Angeles (PDT)
    tracker = QuotaTracker(rpm=2, rpd=3, projects={"a": "p", "b": "p"}, wall_clock=lambda: wall[0])
    tracker.admit("a", "m")
    mock_clock.jump(10)
    tracker.admit("b", "m")  # same project: same bucket
    with pytest.raises(GeminiError) as info:
        tracker.admit("a", "m")
    violation = info.value.details[0]["violations"][0]
    assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    assert violation["quotaValue"] == "2"
    assert info.value.details[-1]["retryDelay"] == "50s"
    tracker.admit("c", "m")  # another project is untouched
    mock_clock.jump(50)
    tracker.admit("a", "m")  # the first request left the window: 3rd of the day for p
    mock_clock.jump(60)
    with pytest.raises(GeminiError) as info:
        tracker.admit("a", "m")
    assert info.value.details[0]["violations"][0]["quotaId"].startswith("GenerateRequestsPerDay")
    wall[0] += dt.timedelta(minutes=1)  # midnight Pacific: the daily bucket resets
    tracker.admit("a", "m")


async def test_quota_through_http(nursery: trio.Nursery) -> None:
    sim = SimulatedGemini(keys=["k1"], rpm=1)
    url = await nursery.start(__import__("trioproxy.serving").serving.serve_app, sim)
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.post(GEN, json=HELLO, headers=K1)).status_code == 200
        resp = await client.post(GEN, json=HELLO, headers=K1)
    assert resp.status_code == 429
    assert "retry-after" not in resp.headers
    assert resp.json()["error"]["details"][0]["violations"][0]["quotaValue"] == "1"


def test_cli_serves_and_controls() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "trioproxy.fakes.gemini", "--bind", "127.0.0.1:0", "--keys", "a,b"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("simulated Gemini listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        config = httpx.get(f"{url}/_sim/config", timeout=5).json()
        assert config["keys"] == ["a", "b"]
        assert config["chunk_delay"] == 0.0
        resp = httpx.post(f"{url}{GEN}?key=b", json=HELLO, timeout=5)
        assert (
            resp.json()["candidates"][0]["content"]["parts"][0]["text"] == "Echo: hello big world"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=5)
