"""Chat completions through the real server, with the openai SDK, against the simulation."""

from __future__ import annotations

import base64
import json
import math
import sys

import openai
import pydantic
import pytest
import trio

from tests.e2e.conftest import Proxy
from trioproxy.fakes.gemini import MODELS
from trioproxy.fakes.gemini.embed import vector

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake-image-bytes").decode()


async def test_non_streaming_chat_and_what_the_upstream_saw(proxy: Proxy) -> None:
    client = proxy.client()
    reply = await client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash",
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "developer", "content": "Use English."},
            {"role": "user", "content": "Hello there"},
        ],
        max_tokens=500,
        temperature=0.5,
        stop=["\n\n"],
        seed=7,
        extra_headers={"x-request-id": "req-123"},
    )
    completion = reply.parse()
    assert completion.choices[0].message.content == "Echo: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gemini-2.5-flash"
    assert completion.object == "chat.completion"
    assert completion.usage is not None
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert reply.headers["x-request-id"] == "req-123"
    assert reply.headers["x-trioproxy-attempts"] == "1"

    [record] = proxy.sim.requests
    assert record.rpc == "generateContent"
    assert record.key_source == "header"
    assert record.authorization is None  # the client's Authorization never goes upstream
    assert "key" not in record.query
    assert record.body["systemInstruction"]["parts"] == [
        {"text": "Be terse."},
        {"text": "Use English."},
    ]
    assert record.body["generationConfig"] == {
        "maxOutputTokens": 500,
        "temperature": 0.5,
        "stopSequences": ["\n\n"],
        "seed": 7,
    }
    await client.close()


async def test_sync_client_and_model_name_forms(start_proxy: object) -> None:
    proxy = await start_proxy(aliases={"gpt-4o": "gemini-2.5-flash"})  # type: ignore[operator]
    client = proxy.sync_client()
    for model in ("models/gemini-2.5-flash", "gpt-4o", "google/gemini-2.5-flash"):
        completion = await trio.to_thread.run_sync(
            lambda m=model: client.chat.completions.create(
                model=m, messages=[{"role": "user", "content": "hi"}]
            )
        )
        assert completion.choices[0].message.content == "Echo: hi"
    assert {r.model for r in proxy.sim.requests} == {"gemini-2.5-flash"}
    client.close()


async def test_streaming_chat_chunks(proxy: Proxy) -> None:
    client = proxy.client()
    stream = await client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "Stream this please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    first, *middle, finish, usage = chunks
    assert first.choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in [first, *middle])
    assert text == "Echo: Stream this please"
    assert all(c.choices[0].finish_reason is None for c in [first, *middle])
    assert len(middle) >= 2  # the simulation splits the answer into several events
    assert finish.choices[0].finish_reason == "stop"
    assert finish.choices[0].delta.content is None
    assert usage.choices == []
    assert usage.usage is not None
    assert usage.usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1
    [record] = proxy.sim.requests
    assert record.rpc == "streamGenerateContent"
    assert record.query.get("alt") == "sse"
    await client.close()


async def test_tool_round_trip_preserves_gemini3_thought_signature(proxy: Proxy) -> None:
    client = proxy.client()
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {
                    "type": "object",
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                    "additionalProperties": False,
                },
                "strict": True,
            },
        }
    ]
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Paris?"}]
    first = await client.chat.completions.create(
        model="gemini-3-pro-preview", messages=messages, tools=tools, tool_choice="auto"
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert "city" in json.loads(call.function.arguments)

    # The SDK user echoes the assistant message (as model_dump gives it) and the result.
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'})
    second = await client.chat.completions.create(
        model="gemini-3-pro-preview", messages=messages, tools=tools
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content

    first_record, second_record = proxy.sim.requests
    declaration = first_record.body["tools"][0]["functionDeclarations"][0]
    assert "additionalProperties" not in json.dumps(declaration)
    assert "$schema" not in json.dumps(declaration)
    sent_call = first_record.response["candidates"][0]["content"]["parts"]
    signature = next(p["thoughtSignature"] for p in sent_call if "functionCall" in p)
    model_turn = second_record.body["contents"][1]
    assert model_turn["role"] == "model"
    echoed = next(p for p in model_turn["parts"] if "functionCall" in p)
    assert echoed["thoughtSignature"] == signature
    response_part = second_record.body["contents"][2]["parts"][0]["functionResponse"]
    assert response_part["name"] == "get_weather"
    assert response_part["response"] == {"temp_c": 18}
    assert response_part["id"] == echoed["functionCall"]["id"]
    await client.close()


async def test_streamed_tool_calls_have_indexes(proxy: Proxy) -> None:
    client = proxy.client()
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {
                    "type": "object",
                    "properties": {"q": {"type": "string"}},
                    "required": ["q"],
                },
            },
        }
    ]
    stream = await client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "find it"}],
        tools=tools,
        stream=True,
    )
    chunks = [chunk async for chunk in stream]
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert [(tc.index, tc.function.name) for tc in calls] == [(0, "lookup")]  # type: ignore[union-attr]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    await client.close()


class Weather(pydantic.BaseModel):
    city: str
    temperature_c: float
    conditions: list[str]


async def test_structured_output_with_parse(proxy: Proxy) -> None:
    client = proxy.client()
    completion = await client.chat.completions.parse(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "Weather in Oslo"}],
        response_format=Weather,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Weather)
    [record] = proxy.sim.requests
    config = record.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"]["city"] == {"title": "City", "type": "string"}
    await client.close()


async def test_json_object_mode(proxy: Proxy) -> None:
    client = proxy.client()
    completion = await client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "json please"}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)
    await client.close()


async def test_reasoning_effort_surfaces_thoughts_and_reasoning_tokens(proxy: Proxy) -> None:
    client = proxy.client()
    completion = await client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "Think about it"}],
        reasoning_effort="low",
    )
    message = completion.choices[0].message
    assert message.content == "Echo: Think about it"
    reasoning = (message.model_extra or {}).get("reasoning_content")
    assert reasoning
    assert "Echo" not in reasoning
    usage = completion.usage
    assert usage is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens
    [record] = proxy.sim.requests
    assert record.body["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 1024,
        "includeThoughts": True,
    }
    await client.close()


async def test_image_data_url_and_n_candidates(proxy: Proxy) -> None:
    client = proxy.client()
    completion = await client.chat.completions.create(
        model="gemini-2.5-flash",
        n=2,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
    )
    assert [c.index for c in completion.choices] == [0, 1]
    [record] = proxy.sim.requests
    assert record.body["contents"][0]["parts"][1] == {
        "inlineData": {"mimeType": "image/png", "data": PNG}
    }
    assert record.body["generationConfig"]["candidateCount"] == 2
    await client.close()


async def test_embeddings_default_base64_and_float(proxy: Proxy) -> None:
    client = proxy.client()
    model = next(m for m in MODELS if m.id == "gemini-embedding-001")
    result = await client.embeddings.create(
        model="gemini-embedding-001", input=["alpha", "beta"], dimensions=8
    )
    assert [d.index for d in result.data] == [0, 1]
    for item, text in zip(result.data, ["alpha", "beta"], strict=True):
        truncated = vector(model, text, 8)
        norm = math.sqrt(sum(v * v for v in truncated))
        # base64 float32 on the wire: equal to the upstream's values to float32 precision,
        # re-normalised because `dimensions` promises unit vectors.
        assert item.embedding == pytest.approx([v / norm for v in truncated], rel=1e-6)
        assert math.sqrt(sum(v * v for v in item.embedding)) == pytest.approx(1.0, rel=1e-6)
    [record] = proxy.sim.requests
    assert record.rpc == "batchEmbedContents"
    assert [r["outputDimensionality"] for r in record.body["requests"]] == [8, 8]

    floats = await client.embeddings.create(
        model="gemini-embedding-001", input="alpha", encoding_format="float"
    )
    assert floats.data[0].embedding == vector(model, "alpha", None)  # passed through as is
    await client.close()


async def test_models_list_follows_pagination_and_retrieve(proxy: Proxy) -> None:
    client = proxy.client()
    ids = [m.id async for m in client.models.list()]
    assert len(MODELS) > 50
    assert sorted(ids) == sorted(m.id for m in MODELS)
    assert len(proxy.sim.select(rpc="models.list")) >= 1
    model = await client.models.retrieve("gemini-2.5-pro")
    assert model.id == "gemini-2.5-pro"
    assert model.owned_by == "google"
    await client.close()


async def test_unknown_model_is_404_not_found(proxy: Proxy) -> None:
    client = proxy.client()
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(
            model="gemini-9-ultra", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("gemini-9-ultra")
    await client.close()


async def test_trioproxy_bench_against_the_gateway_and_the_upstream(proxy: Proxy) -> None:
    """`trioproxy bench` as a command: through the gateway (OpenAI endpoint) and straight
    at the simulated Gemini (Gemini endpoint), every request answered."""
    runs = [
        ["--base-url", f"{proxy.url}/v1", "--requests", "40", "--concurrency", "4"],
        ["--base-url", f"{proxy.url}/v1", "--requests", "20", "--rate", "50", "--stream"],
        [
            "--endpoint", "gemini", "--base-url", proxy.sim.url,  # type: ignore[attr-defined]
            "--token", proxy.key_of("key-a"), "--requests", "20",
        ],
    ]  # fmt: skip
    for arguments in runs:
        result = await trio.run_process(
            [sys.executable, "-m", "trioproxy", "bench", "--json", *arguments],
            capture_stdout=True,
            capture_stderr=True,
        )
        report = json.loads(result.stdout)
        assert report["errors"] == {}, result.stderr
        assert report["requests"] == int(arguments[arguments.index("--requests") + 1])
