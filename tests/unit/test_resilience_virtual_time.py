"""The resilience engine end to end in virtual time: the real app (quart-trio test client)
over the simulated Gemini (in process through httpx.ASGITransport), on
`MockClock(autojump_threshold=0)`. Minutes and hours of cooldowns, backoffs and probes run
in milliseconds, and every time below is exact.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from trioproxy.app import TrioProxyApp, create_app
from trioproxy.config import build_config
from trioproxy.fakes.gemini import SimulatedGemini
from trioproxy.runtime import Runtime
from trioproxy.settings import Settings

MODEL = "gemini-2.5-flash"
KEYS = {"a": "AIzaVirtual-key-aaaaaaaa", "b": "AIzaVirtual-key-bbbbbbbb"}
# 2026-06-01 12:00 UTC = 05:00 PDT: the next Pacific midnight is 19 h later.
START_WALL = datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}


class Harness:
    def __init__(self, app: TrioProxyApp, sim: SimulatedGemini, client: Any) -> None:
        self.app = app
        self.sim = sim
        self.client = client

    async def stream(self) -> bytes:
        response = await self.chat(stream=True)
        assert response.status_code == 200
        body: bytes = await response.get_data()
        return body

    async def chat(self, **extra: Any) -> Any:
        return await self.client.post(
            "/v1/chat/completions",
            json={**CHAT, **extra},
            scope_base={"client": ("127.0.0.1", 50000)},
        )

    def rate_limit_every_key(self, retry_delay: str) -> None:
        for secret in KEYS.values():
            self.sim.faults.add("rate_limit_minute", key=secret, retry_delay=retry_delay)

    def calls(self, name: str, rpc: str = "generateContent") -> list[Any]:
        return self.sim.select(key=KEYS[name], rpc=rpc)

    def key(self, name: str) -> Any:
        return self.app.gateway.pool.by_name[name]


@asynccontextmanager
async def running(
    tmp_path: Path, keys: tuple[str, ...] = ("a", "b"), **gateway: Any
) -> AsyncIterator[Harness]:
    sim = SimulatedGemini(keys=KEYS.values())
    document = {
        "upstreams": [
            {
                "name": "gemini",
                "type": "gemini",
                "base_url": "http://sim.test",
                "keys": [{"name": name, "key": KEYS[name]} for name in keys],
            }
        ],
        "gateway": gateway,
    }
    config = build_config(document, "virtual.yaml", {})
    started = trio.current_time()
    app = create_app(
        # Virtual time: no watcher or store threads (real-time threads race the autojump clock).
        Settings(config_path=tmp_path / "keys.yaml", data_dir=None, watch_config=False),
        runtime=Runtime(config, simulated=False),
        transport=httpx.ASGITransport(app=sim),
        wall=lambda: START_WALL + trio.current_time() - started,
    )
    async with app.test_app() as test_app:
        yield Harness(app, sim, test_app.test_client())


async def test_all_keys_cooling_for_1s_holds_the_request_and_serves_it_after_1s(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path) as h:
        h.rate_limit_every_key("1s")
        start = trio.current_time()
        response = await h.chat()
        assert response.status_code == 200
        assert trio.current_time() - start == pytest.approx(1.0)
        assert response.headers["x-trioproxy-attempts"] == "3"
        [decision] = h.app.gateway.dispatcher.decisions.recent()
        assert decision.waited == pytest.approx(1.0)
        assert [(a.key, a.outcome) for a in decision.attempts] == [
            ("a", "rate_limited"),
            ("b", "rate_limited"),
            ("a", "ok"),
        ]
        # Nothing reached a key while it was cooling.
        assert [r.started_at - start for r in h.calls("a")] == [0.0, pytest.approx(1.0)]


async def test_all_keys_cooling_for_10_min_is_an_immediate_429_with_retry_after(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path) as h:
        h.rate_limit_every_key("599.2s")
        start = trio.current_time()
        response = await h.chat()
        assert response.status_code == 429
        assert trio.current_time() == start
        assert response.headers["retry-after"] == "600"
        assert "x-should-retry" not in response.headers
        body = await response.get_json()
        assert body["error"]["type"] == "rate_limit_exceeded"
        # A second request goes nowhere near the upstream.
        again = await h.chat()
        assert again.status_code == 429
        assert len(h.sim.requests) == 2


async def test_a_recovery_just_past_max_wait_is_not_waited_for(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path, max_wait=2) as h:
        h.rate_limit_every_key("2.5s")
        response = await h.chat()
        assert response.status_code == 429
        assert response.headers["retry-after"] == "3"


async def test_daily_exhaustion_is_not_retried_before_the_pacific_reset(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path) as h:
        h.sim.faults.add("rate_limit_day", key=KEYS["a"], retry_delay="4.5s")
        start = trio.current_time()
        for _ in range(19):
            assert (await h.chat()).headers["x-trioproxy-key"] == "b"
            await trio.sleep(3599.9)
            assert (await h.chat()).headers["x-trioproxy-key"] == "b"
            await trio.sleep(0.1)
        # 05:00 PDT + 19 h = midnight: the key is back.
        assert trio.current_time() - start == pytest.approx(19 * 3600)
        assert len(h.calls("a")) == 1
        assert {(await h.chat()).headers["x-trioproxy-key"] for _ in range(2)} == {"a", "b"}


async def test_a_hung_key_is_cancelled_at_the_attempt_deadline(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path, first_byte_timeout=2) as h:
        h.sim.faults.add("hang", key=KEYS["a"])
        start = trio.current_time()
        response = await h.chat()
        assert response.status_code == 200
        assert response.headers["x-trioproxy-key"] == "b"
        assert trio.current_time() - start == pytest.approx(2.0)
        [hung] = h.calls("a")
        assert hung.cancelled
        assert hung.cancelled_at - hung.started_at == pytest.approx(2.0)


async def test_a_failing_key_is_probed_without_quota_and_back_within_5_minutes_of_healing(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path) as h:
        outage = h.sim.faults.add("internal", key=KEYS["a"], times=None)
        for _ in range(6):
            assert (await h.chat()).status_code == 200
        # Three 500s in a row opened a's breaker; the clients never noticed.
        assert len(h.calls("a")) == 3
        assert h.key("a").breaker.state.value == "open"
        first_probe_due = h.key("a").breaker.reopen_at

        # An hour-long outage: traffic flows through b, a gets only probes.
        for _ in range(60):
            assert (await h.chat()).headers["x-trioproxy-key"] == "b"
            await trio.sleep(60)
        probes = h.calls("a", rpc="models.get")
        assert probes[0].started_at == first_probe_due  # woke exactly when due
        gaps = [b.started_at - a.started_at for a, b in itertools.pairwise(probes)]
        backoffs = [min(300, 5 * 2**n) for n in range(1, len(gaps) + 1)]  # doubling, capped
        assert all(0.8 * b <= gap <= b for b, gap in zip(backoffs, gaps, strict=True))
        assert max(gaps) > 200  # the backoff reached its cap
        assert len(h.calls("a")) == 3  # no generate call went to a during the outage

        healed_at = trio.current_time()
        h.sim.faults.remove(outage)
        with trio.fail_after(300):
            probe = await h.sim.wait_for(
                lambda r: r.key == KEYS["a"] and r.started_at >= healed_at and r.done
            )
        assert probe.started_at - healed_at <= 300
        await trio.sleep(0.001)  # the prober reports the probe's answer
        # Accepted and reachable: the next live call to a is its trial.
        assert h.key("a").breaker.state.value == "probation"
        after_heal = [r for r in h.sim.requests if r.key == KEYS["a"] and r.started_at >= healed_at]
        assert [(r.rpc, r.status) for r in after_heal] == [("models.get", 200)]
        assert {(await h.chat()).headers["x-trioproxy-key"] for _ in range(2)} == {"a", "b"}
        assert h.key("a").breaker.state.value == "closed"


async def test_an_invalid_key_is_rechecked_by_probe_not_by_traffic(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path, auth_recheck=600) as h:
        h.sim.remove_key(KEYS["a"])
        for _ in range(3):
            assert (await h.chat()).headers["x-trioproxy-key"] == "b"
        assert h.key("a").disabled == "auth: API_KEY_INVALID"
        disabled_at = h.calls("a")[0].started_at
        await trio.sleep(599)
        assert h.calls("a", rpc="models.get") == []
        h.sim.add_key(KEYS["a"])  # e.g. the operator fixed the key's project
        await trio.sleep(10)
        [probe] = h.calls("a", rpc="models.get")
        assert (probe.started_at - disabled_at, probe.status) == (600, 200)
        assert h.key("a").disabled is None
        assert len(h.calls("a")) == 1


async def test_waiting_never_runs_into_the_request_deadline(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path, request_timeout=3, max_wait=5) as h:
        h.rate_limit_every_key("4s")
        start = trio.current_time()
        response = await h.chat()
        # Not a 504 after 3 s: an honest 429 at once.
        assert response.status_code == 429
        assert trio.current_time() == start
        assert response.headers["retry-after"] == "4"
        assert response.headers["x-trioproxy-attempts"] == "2"


async def test_out_of_attempts_on_daily_429s_answers_with_the_pools_retry_after(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path, max_attempts=2) as h:
        h.sim.faults.add("rate_limit_day", times=None)
        response = await h.chat()
        assert response.status_code == 429
        assert response.headers["retry-after"] == str(19 * 3600)
        assert response.headers["x-should-retry"] == "false"
        assert response.headers["x-trioproxy-attempts"] == "2"
        assert (await response.get_json())["error"]["code"] == "insufficient_quota"


async def test_out_of_attempts_with_keys_left_untried_says_retry_soon(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path, max_attempts=1) as h:
        h.sim.faults.add("rate_limit_minute", key=KEYS["a"], retry_delay="30s")
        response = await h.chat()
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert (await h.chat()).headers["x-trioproxy-key"] == "b"


async def test_a_slow_first_call_after_a_cooldown_does_not_block_the_key(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path, keys=("a",)) as h:
        h.sim.faults.add("rate_limit_minute", key=KEYS["a"], retry_delay="1s")
        done: dict[str, tuple[int, float]] = {}

        async def chat_at(name: str, at: float) -> None:
            await trio.sleep_until(at)
            response = await h.chat()
            done[name] = (response.status_code, trio.current_time())

        async with trio.open_nursery() as nursery:
            start = trio.current_time()
            # first: 429 at 0, waits 1 s, then its call (the thaw call) takes 30 s.
            nursery.start_soon(chat_at, "first", start)
            await trio.sleep(0.5)
            h.sim.faults.add("latency", key=KEYS["a"], seconds=30)
            # second: arrives at 2 while the thaw call is out, is held until the thaw
            # window ends at 3 (not until 31), and is served then.
            nursery.start_soon(chat_at, "second", start + 2)
        assert done["first"] == (200, pytest.approx(start + 31))
        assert done["second"] == (200, pytest.approx(start + 3))


async def test_a_key_that_fails_every_stream_midway_is_taken_out(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path) as h:
        h.sim.faults.add("midstream_error", key=KEYS["a"], times=None)
        bodies = [await h.stream() for _ in range(12)]
        # A stream's verdict comes at its end: three broken streams in a row opened the
        # breaker, although each had started well.
        assert sum(b"error" in body for body in bodies) == 3
        assert h.key("a").breaker.state.value == "open"
        assert len(h.calls("a", rpc="streamGenerateContent")) == 3
        on_a = [
            (a.outcome, a.detail)
            for d in h.app.gateway.dispatcher.decisions.recent()
            for a in d.attempts
            if a.key == "a"
        ]
        assert on_a == [("failed", "HTTP 503 UNAVAILABLE")] * 3


async def test_a_whole_stream_closes_a_breaker_on_probation(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path, keys=("a",), breaker_threshold=1) as h:
        h.sim.faults.add("internal", key=KEYS["a"], rpc="generateContent")
        assert (await h.chat()).status_code == 503  # its breaker opened; no key left
        assert h.key("a").breaker.state.value == "open"
        await trio.sleep(10)  # the probe (GET models) passed
        assert h.key("a").breaker.state.value == "probation"
        body = await h.stream()
        assert body.endswith(b"data: [DONE]\n\n")
        assert b"error" not in body
        # Judged at its end: a complete stream is the success that closes the breaker.
        assert h.key("a").breaker.state.value == "closed"
        assert h.key("a").breaker.opens == 0


async def test_a_wait_leaves_time_for_the_attempt_after_it(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tmp_path, request_timeout=5, max_wait=5) as h:
        h.rate_limit_every_key("4.5s")
        response = await h.chat()
        # 4.5 s of waiting would leave 0.5 s for the call: not worth it; 429 at once.
        assert response.status_code == 429
        assert response.headers["retry-after"] == "5"
