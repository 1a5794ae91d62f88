"""Client hang-ups cancel the upstream call; bad input gets clear OpenAI-envelope errors."""

from __future__ import annotations

import httpx
import openai
import pytest
import trio

from tests.e2e.conftest import CLIENT_KEY, KEYS, Proxy, StartProxy, assert_no_secret

HELLO = [{"role": "user", "content": "hello"}]


async def test_disconnect_mid_stream_cancels_the_upstream_call(proxy: Proxy) -> None:
    proxy.sim.knobs.chunk_delay = 3600  # the upstream would take an hour per chunk
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        with trio.fail_after(10):
            async with client.stream(
                "POST",
                "/v1/chat/completions",
                json={"model": "gemini-2.5-flash", "messages": HELLO, "stream": True},
            ) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        break  # got the first chunk; now hang up
            record = await proxy.sim.wait_for(lambda r: r.cancelled)
    assert record.rpc == "streamGenerateContent"
    assert not record.completed
    await proxy.settled()  # the stream's key is no longer counted as busy


async def test_disconnect_mid_request_cancels_the_upstream_call(proxy: Proxy) -> None:
    proxy.sim.faults.add("hang", times=None)
    async with httpx.AsyncClient(base_url=proxy.url) as client, trio.open_nursery() as nursery:

        async def request() -> None:
            await client.post(
                "/v1/chat/completions", json={"model": "gemini-2.5-flash", "messages": HELLO}
            )

        nursery.start_soon(request)
        with trio.fail_after(10):
            await proxy.sim.wait_for(rpc="generateContent")
            nursery.cancel_scope.cancel()  # the client gives up and closes its connection
    with trio.fail_after(10):
        record = await proxy.sim.wait_for(lambda r: r.cancelled)
    assert record.rpc == "generateContent"
    assert not record.completed
    await proxy.settled()


async def test_client_keys_are_required_when_configured(start_proxy: StartProxy) -> None:
    proxy = await start_proxy(clients=True)
    client = proxy.client(api_key="sk-wrong")
    with pytest.raises(openai.AuthenticationError) as caught:
        await client.chat.completions.create(model="gemini-2.5-flash", messages=HELLO)
    assert caught.value.code == "invalid_api_key"
    assert_no_secret(caught.value.response.text)
    assert proxy.sim.requests == []
    good = proxy.client(api_key=CLIENT_KEY)
    reply = await good.chat.completions.create(model="gemini-2.5-flash", messages=HELLO)
    assert reply.choices[0].message.content == "Echo: hello"
    [record] = proxy.sim.requests
    assert record.authorization is None
    assert CLIENT_KEY not in str(record.headers)
    await client.close()
    await good.close()


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        (b"{not json", None, "could not parse the JSON body"),
        (b"[1, 2]", None, "must be a JSON object"),
        (b'{"model": "gemini-2.5-flash"}', "messages", "messages"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model", "model"),
        (b'{"model": 5, "messages": []}', "model", "model"),
        (b'{"model": "gemini-2.5-flash", "messages": "hi"}', "messages", "messages"),
        (
            b'{"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "x"}],'
            b' "temperature": "hot"}',
            "temperature",
            "temperature",
        ),
        (
            b'{"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "x"}],'
            b' "stream": "yes"}',
            "stream",
            "stream",
        ),
        (
            b'{"model": "../../etc", "messages": [{"role": "user", "content": "x"}]}',
            "model",
            "model",
        ),
        (
            b'{"model": "gemini-2.5-flash\\n", "messages": [{"role": "user", "content": "x"}]}',
            "model",
            "model",
        ),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, None, "nested too deeply", id="deep"),
        (b"\xff\xfe{}", None, "could not parse the JSON body"),
        (b"", None, "could not parse the JSON body"),
        (
            b'{"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "\\ud800"}]}',
            None,
            "lone surrogate",
        ),
    ],
)
async def test_bad_input_is_a_clear_400(
    proxy: Proxy, body: bytes, param: str | None, fragment: str
) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        response = await client.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fragment in error["message"]
    assert "Traceback" not in response.text
    assert proxy.sim.requests == []


async def test_bad_input_through_the_sdk_raises_bad_request(proxy: Proxy) -> None:
    client = proxy.client()
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="gemini-2.5-flash", messages=[])
    assert caught.value.param == "messages"
    with pytest.raises(openai.BadRequestError):
        await client.embeddings.create(model="gemini-embedding-001", input=[[1, 2, 3]])
    await client.close()


async def test_unknown_route_method_and_size(start_proxy: StartProxy) -> None:
    proxy = await start_proxy(gateway={"max_body_bytes": 1000})
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        missing = await client.get("/v1/nothing-here")
        wrong_method = await client.get("/v1/chat/completions")
        too_big = await client.post("/v1/chat/completions", content=b"x" * 5000)
        health = await client.get("/healthz")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert wrong_method.status_code == 405
    assert "not allowed" in wrong_method.json()["error"]["message"]
    assert too_big.status_code == 413
    assert too_big.json()["error"]["message"] == "The request body is too large."
    assert health.json() == {"status": "ok"}


async def test_the_default_body_limit_is_10_mb(proxy: Proxy) -> None:
    limit = 10 * 1024 * 1024
    # A JSON string of exactly the limit is read (and rejected for its content, not size).
    at_limit = b'"' + b"x" * (limit - 2) + b'"'
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        accepted = await client.post("/v1/chat/completions", content=at_limit)
        too_big = await client.post("/v1/chat/completions", content=at_limit + b" ")
    assert accepted.status_code == 400
    assert too_big.status_code == 413
    assert proxy.sim.requests == []


async def test_upstream_never_sees_a_key_in_the_url(proxy: Proxy) -> None:
    client = proxy.client()
    await client.chat.completions.create(model="gemini-2.5-flash", messages=HELLO)
    [m async for m in client.models.list()]
    for record in proxy.sim.requests:
        assert record.key_source == "header"
        assert all(secret not in record.path + str(record.query) for secret in KEYS.values())
    await client.close()
