"""The attempts loop in virtual time, over httpx.MockTransport (no sockets, no real sleeps).

Every test takes pytest-trio's `autojump_clock` (MockClock(autojump_threshold=0)).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest
import trio
import trio.testing

from trioproxy.config.model import GatewaySettings, KeySpec
from trioproxy.dispatch import Dispatcher
from trioproxy.errors import AllCooling, GatewayTimeout, PoolUnavailable, ProxyError
from trioproxy.pool import KeyPool, KeyState
from trioproxy.secret import Secret

MODEL = "gemini-2.5-flash"
Handler = Callable[[str], Awaitable[httpx.Response]]


def error(status: int, google_status: str, **extra: object) -> httpx.Response:
    document = {
        "error": {
            "code": status,
            "message": f"{google_status} happened",
            "status": google_status,
            **extra,
        }
    }
    return httpx.Response(status, json=document)


def rate_limited(delay: str = "26s") -> httpx.Response:
    return error(
        429,
        "RESOURCE_EXHAUSTED",
        details=[{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}],
    )


class Upstream:
    """Routes each request to a per-key behaviour and records who was called."""

    def __init__(self, behaviours: dict[str, Handler]) -> None:
        self.behaviours = behaviours
        self.calls: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["x-goog-api-key"]
        assert "key=" not in str(request.url)
        self.calls.append(key)
        return await self.behaviours[key](key)


async def ok(_: str) -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


async def forbidden(_: str) -> httpx.Response:
    return error(403, "PERMISSION_DENIED")


async def overloaded(_: str) -> httpx.Response:
    return error(503, "UNAVAILABLE")


async def hang(_: str) -> httpx.Response:
    await trio.sleep_forever()
    raise AssertionError("unreachable")


def make(upstream: Upstream, names: list[str], **settings: float) -> Dispatcher:
    gateway = GatewaySettings(**settings)  # type: ignore[arg-type]
    pool = KeyPool([KeySpec(n, Secret(n), "gemini") for n in names], settings=gateway)
    http = httpx.AsyncClient(transport=httpx.MockTransport(upstream))
    return Dispatcher(pool, http, gateway, wall=lambda: 1_780_000_000.0)


async def call(dispatcher: Dispatcher) -> tuple[str, int]:
    async def attempt(key: KeyState) -> object:
        request = dispatcher.http.build_request(
            "POST",
            "https://upstream.test/v1beta/models/m:generateContent",
            headers={"x-goog-api-key": key.spec.secret.reveal()},
        )
        response = await dispatcher.send(request, key.spec.secret)
        body = json.loads(await response.aread())
        await response.aclose()
        return body

    served = await dispatcher.run(MODEL, attempt)
    assert served.result == {"ok": True}
    return served.key.name, served.attempts


async def test_429_rotates_and_the_cooling_key_gets_nothing_until_it_recovers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    responses = {"a": [rate_limited("26s")]}

    async def a(_: str) -> httpx.Response:
        return responses["a"].pop(0) if responses["a"] else httpx.Response(200, json={"ok": True})

    upstream = Upstream({"a": a, "b": ok})
    dispatcher = make(upstream, ["a", "b"])
    assert await call(dispatcher) == ("b", 2)
    for _ in range(5):
        assert (await call(dispatcher))[0] == "b"
    assert upstream.calls.count("a") == 1
    await trio.sleep(26)
    assert {(await call(dispatcher))[0] for _ in range(2)} == {"a", "b"}


async def test_first_byte_timeout_moves_to_next_key(autojump_clock: trio.testing.MockClock) -> None:
    upstream = Upstream({"a": hang, "b": ok})
    dispatcher = make(upstream, ["a", "b"], first_byte_timeout=20)
    start = trio.current_time()
    assert await call(dispatcher) == ("b", 2)
    assert trio.current_time() - start == pytest.approx(20)


async def test_overall_deadline_spans_all_attempts(autojump_clock: trio.testing.MockClock) -> None:
    upstream = Upstream({"a": hang, "b": hang, "c": hang})
    dispatcher = make(upstream, ["a", "b", "c"], first_byte_timeout=20, request_timeout=50)
    start = trio.current_time()
    with pytest.raises(GatewayTimeout):
        await call(dispatcher)
    assert trio.current_time() - start == pytest.approx(50)
    assert upstream.calls == ["a", "b", "c"]


async def test_connection_error_moves_to_next_key(autojump_clock: trio.testing.MockClock) -> None:
    async def refuse(_: str) -> httpx.Response:
        raise httpx.ConnectError("refused")

    upstream = Upstream({"a": refuse, "b": ok})
    assert await call(make(upstream, ["a", "b"])) == ("b", 2)


async def test_all_cooling_answers_429_with_earliest_recovery(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def limited(_: str) -> httpx.Response:
        return rate_limited("12.2s")

    upstream = Upstream({"a": limited, "b": limited})
    dispatcher = make(upstream, ["a", "b"])
    with pytest.raises(AllCooling) as caught:
        await call(dispatcher)
    assert caught.value.headers["retry-after"] == "13"
    assert caught.value.status == 429
    await trio.sleep(5)
    with pytest.raises(AllCooling) as caught:
        await call(dispatcher)
    assert caught.value.headers["retry-after"] == "8"
    assert upstream.calls == ["a", "b"]


async def test_invalid_key_is_never_used_again(autojump_clock: trio.testing.MockClock) -> None:
    async def invalid(_: str) -> httpx.Response:
        return error(
            400,
            "INVALID_ARGUMENT",
            details=[
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ],
        )

    upstream = Upstream({"a": invalid, "b": ok})
    dispatcher = make(upstream, ["a", "b"])
    for _ in range(4):
        assert (await call(dispatcher))[0] == "b"
    assert upstream.calls.count("a") == 1


async def test_all_broken_is_503_with_each_keys_state(
    autojump_clock: trio.testing.MockClock,
) -> None:
    upstream = Upstream({"a": forbidden, "b": overloaded})
    with pytest.raises(PoolUnavailable) as caught:
        await call(make(upstream, ["a", "b"]))
    body = caught.value.envelope()["error"]
    assert caught.value.status == 503
    assert [(k["name"], k["state"]) for k in body["keys"]] == [("a", "disabled"), ("b", "failed")]
    assert "UNAVAILABLE happened" in body["message"]


async def test_attempts_are_bounded(autojump_clock: trio.testing.MockClock) -> None:
    names = ["a", "b", "c", "d", "e"]
    upstream = Upstream(dict.fromkeys(names, overloaded))
    with pytest.raises(ProxyError) as caught:
        await call(make(upstream, names, max_attempts=3))
    assert caught.value.status == 503
    assert len(upstream.calls) == 3


async def test_client_fault_is_not_retried(autojump_clock: trio.testing.MockClock) -> None:
    async def bad(_: str) -> httpx.Response:
        return error(400, "INVALID_ARGUMENT")

    upstream = Upstream({"a": bad, "b": bad})
    with pytest.raises(ProxyError) as caught:
        await call(make(upstream, ["a", "b"]))
    assert caught.value.status == 400
    assert upstream.calls == ["a"]


async def test_all_disabled_tells_the_sdk_not_to_retry(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with pytest.raises(PoolUnavailable) as disabled:
        await call(make(Upstream({"a": forbidden}), ["a"]))
    assert disabled.value.headers["x-should-retry"] == "false"
    # A key that merely failed this request may serve the next one: retrying is fine.
    with pytest.raises(PoolUnavailable) as failed:
        await call(make(Upstream({"a": forbidden, "b": overloaded}), ["a", "b"]))
    assert "x-should-retry" not in failed.value.headers
