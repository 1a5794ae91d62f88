"""Key rotation through the real server: 429 cooldowns, invalid keys, exhaustion answers."""

from __future__ import annotations

import openai
import pytest
import trio

from tests.e2e.conftest import KEYS, Proxy, StartProxy, assert_no_secret

HELLO = [{"role": "user", "content": "hello"}]


async def chat(client: openai.AsyncOpenAI, model: str = "gemini-2.5-flash") -> str:
    response = await client.chat.completions.with_raw_response.create(model=model, messages=HELLO)
    return response.headers["x-trioproxy-key"]


async def test_429_moves_to_next_key_and_the_cooling_key_gets_nothing(proxy: Proxy) -> None:
    proxy.sim.faults.add("rate_limit_minute", key=KEYS["key-a"], retry_delay="45.5s")
    client = proxy.client()
    served_by = [await chat(client) for _ in range(6)]
    assert served_by == ["key-b"] * 6
    assert proxy.calls("key-a") == 1  # the 429 itself, then nothing during the cooldown
    assert proxy.calls("key-b") == 6
    # The cooldown is per model: key-a still serves another model.
    assert await chat(client, model="gemini-2.5-pro") in {"key-a", "key-b"}
    await client.close()


async def test_invalid_key_is_never_used_again(start_proxy: StartProxy) -> None:
    proxy = await start_proxy(("key-a", "key-b"))
    proxy.sim.remove_key(KEYS["key-a"])  # Gemini now answers 400 API_KEY_INVALID for it
    client = proxy.client()
    assert [await chat(client) for _ in range(5)] == ["key-b"] * 5
    assert proxy.calls("key-a") == 1
    await client.close()


async def test_all_cooling_is_429_with_retry_after(proxy: Proxy) -> None:
    proxy.sim.faults.add("rate_limit_minute", retry_delay="12.2s", times=None)
    client = proxy.client()
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="gemini-2.5-flash", messages=HELLO)
    assert caught.value.response.headers["retry-after"] == "13"
    assert "x-should-retry" not in caught.value.response.headers
    assert proxy.calls("key-a") == proxy.calls("key-b") == 1
    assert_no_secret(caught.value.response.text)
    await client.close()


async def test_per_day_exhaustion_tells_the_sdk_not_to_retry(proxy: Proxy) -> None:
    proxy.sim.faults.add("rate_limit_day", times=None)
    client = proxy.client()
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="gemini-2.5-flash", messages=HELLO)
    headers = caught.value.response.headers
    assert headers["x-should-retry"] == "false"
    assert int(headers["retry-after"]) > 60  # until the Pacific midnight, not retryDelay
    assert caught.value.code == "insufficient_quota"
    await client.close()


async def test_all_broken_is_503_with_a_diagnostic_body(proxy: Proxy) -> None:
    proxy.sim.faults.add("leaked_key", key=KEYS["key-a"], times=None)
    proxy.sim.faults.add("overloaded", key=KEYS["key-b"], times=None)
    client = proxy.client()
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model="gemini-2.5-flash", messages=HELLO)
    assert caught.value.status_code == 503
    body = caught.value.body
    assert isinstance(body, dict)
    states = {k["name"]: k["state"] for k in body["keys"]}
    assert states == {"key-a": "disabled", "key-b": "failed"}
    assert_no_secret(caught.value.response.text)
    await client.close()


async def test_server_errors_rotate_before_the_stream_starts(proxy: Proxy) -> None:
    proxy.sim.faults.add("internal", key=KEYS["key-a"])
    client = proxy.client()
    response = await client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash", messages=HELLO, stream=True
    )
    assert response.headers["x-trioproxy-key"] == "key-b"
    assert response.headers["x-trioproxy-attempts"] == "2"
    text = "".join([c.choices[0].delta.content or "" async for c in response.parse() if c.choices])
    assert text == "Echo: hello"
    await client.close()


async def test_error_after_first_byte_is_an_error_event_never_duplicate_text(proxy: Proxy) -> None:
    proxy.sim.faults.add("midstream_error", key=KEYS["key-a"], after_chunks=1)
    client = proxy.client()
    stream = await client.chat.completions.create(
        model="gemini-2.5-flash", messages=HELLO, stream=True
    )
    received: list[str] = []

    async def consume() -> None:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.APIError) as caught:
        await consume()
    assert "".join(received)
    assert "Echo: hello".startswith("".join(received))
    assert "".join(received) != "Echo: hello"
    assert_no_secret(str(caught.value))
    assert proxy.calls("key-b") == 0  # no retry after the first byte
    await client.close()


async def test_mid_stream_failure_before_any_output_is_retried(proxy: Proxy) -> None:
    proxy.sim.faults.add("midstream_error", key=KEYS["key-a"], after_chunks=0)
    client = proxy.client()
    stream = await client.chat.completions.create(
        model="gemini-2.5-flash", messages=HELLO, stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Echo: hello"
    assert proxy.calls("key-b") == 1
    await client.close()


async def test_a_project_quota_429_cools_every_key_of_the_project(
    start_proxy: StartProxy,
) -> None:
    proxy = await start_proxy(
        ("key-a", "key-b", "key-c"),
        key_fields={"key-a": {"project": "shared"}, "key-b": {"project": "shared"}},
    )
    # Gemini counts quota per project: one request a minute for a and b together (and
    # one for c, a project of its own).
    proxy.sim.quota.rpm = 1
    proxy.sim.quota.projects = {KEYS["key-a"]: "shared", KEYS["key-b"]: "shared"}
    client = proxy.client()
    assert await chat(client) == "key-a"
    assert await chat(client) == "key-c"  # after b's 429
    # b's 429 (the project's quota) cooled a as well: the next request tries only c.
    with pytest.raises(openai.RateLimitError):
        await chat(client)
    assert (proxy.calls("key-a"), proxy.calls("key-b"), proxy.calls("key-c")) == (1, 1, 2)
    await client.close()


async def test_a_cooling_key_thaws_with_one_call_not_a_burst(start_proxy: StartProxy) -> None:
    proxy = await start_proxy(("key-a", "key-b"))
    proxy.sim.faults.add("rate_limit_minute", key=KEYS["key-a"], retry_delay="0.2s")
    proxy.sim.knobs.latency = 0.1  # calls overlap
    client = proxy.client()
    assert await chat(client) == "key-b"
    await trio.sleep(0.2)
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(chat, client)
    # One call tested the thawed key; the other nine did not pile onto it meanwhile.
    assert proxy.calls("key-a") == 2
    await client.close()
