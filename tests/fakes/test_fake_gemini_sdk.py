"""Every endpoint of the simulated Gemini, driven by Google's own google-genai SDK."""

from __future__ import annotations

import enum

import pydantic
import pytest
from google.genai import types

from .conftest import Served, in_thread

FLASH = "gemini-2.5-flash"


@pytest.mark.parametrize("version", ["v1beta", "v1"])
async def test_generate_content_text_and_usage(served: Served, version: str) -> None:
    client = served.client(version=version)
    resp = await in_thread(lambda: client.models.generate_content(model=FLASH, contents="hello"))
    assert resp.text == "Echo: hello"
    cand = resp.candidates[0]
    assert cand.finish_reason == types.FinishReason.STOP
    assert cand.index == 0
    usage = resp.usage_metadata
    # "hello" is 2 tokens, "Echo: hello" 3; dynamic thinking on 2.5 Flash is 96 + prompt.
    assert usage.prompt_token_count == 2
    assert usage.candidates_token_count == 3
    assert usage.thoughts_token_count == 98
    assert usage.total_token_count == 2 + 3 + 98
    assert resp.model_version == FLASH
    assert resp.response_id
    assert len(resp.response_id) == 23
    (record,) = served.sim.requests
    assert record.path == f"/{version}/models/{FLASH}:generateContent"
    assert record.api_version == version
    assert (record.rpc, record.model, record.key, record.key_source) == (
        "generateContent",
        FLASH,
        "k1",
        "header",
    )
    assert record.body == {"contents": [{"parts": [{"text": "hello"}], "role": "user"}]}
    assert record.completed
    assert not record.cancelled
    assert record.status == 200
    assert not record.has_authorization


async def test_system_instruction_is_recorded_but_changes_nothing(served: Served) -> None:
    client = served.client()
    config = types.GenerateContentConfig(system_instruction="Be terse.")
    resp = await in_thread(
        lambda: client.models.generate_content(model=FLASH, contents="hi", config=config)
    )
    assert resp.text == "Echo: hi"
    body = served.sim.requests[0].body
    assert body["systemInstruction"]["parts"] == [{"text": "Be terse."}]
    # The system text is still billed as prompt: "hi" (1) + "Be terse." (3).
    assert resp.usage_metadata.prompt_token_count == 4


async def test_thinking_thoughts_first_and_budget_zero(served: Served) -> None:
    client = served.client()
    on = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    resp = await in_thread(
        lambda: client.models.generate_content(model=FLASH, contents="why?", config=on)
    )
    parts = resp.candidates[0].content.parts
    assert parts[0].thought is True
    assert parts[0].text.startswith("**Considering the request**")
    assert parts[1].text == "Echo: why?"
    assert not parts[1].thought
    assert resp.usage_metadata.thoughts_token_count == 96 + 1  # "why?" is one token

    off = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0))
    resp = await in_thread(
        lambda: client.models.generate_content(model=FLASH, contents="why?", config=off)
    )
    assert resp.usage_metadata.thoughts_token_count is None
    assert resp.usage_metadata.total_token_count == 1 + 3

    lite = await in_thread(
        lambda: client.models.generate_content(model="gemini-2.5-flash-lite", contents="why?")
    )
    assert lite.usage_metadata.thoughts_token_count is None

    budget = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=10))
    resp = await in_thread(
        lambda: client.models.generate_content(model=FLASH, contents="why?", config=budget)
    )
    assert resp.usage_metadata.thoughts_token_count == 10


async def test_max_tokens_spent_on_thinking_leaves_no_parts(served: Served) -> None:
    client = served.client()
    config = types.GenerateContentConfig(max_output_tokens=10)
    resp = await in_thread(
        lambda: client.models.generate_content(model=FLASH, contents="hello", config=config)
    )
    cand = resp.candidates[0]
    assert cand.finish_reason == types.FinishReason.MAX_TOKENS
    assert cand.content.role == "model"
    assert cand.content.parts is None
    assert resp.usage_metadata.candidates_token_count is None
    assert resp.usage_metadata.thoughts_token_count == 10
    raw = served.sim.requests[0].response
    assert raw["candidates"][0]["content"] == {"role": "model"}


async def test_stop_sequences_and_candidate_count(served: Served) -> None:
    client = served.client()
    config = types.GenerateContentConfig(stop_sequences=["gamma"], candidate_count=2)
    resp = await in_thread(
        lambda: client.models.generate_content(
            model="gemini-2.0-flash", contents="alpha beta gamma delta", config=config
        )
    )
    texts = [(c.index, c.content.parts[0].text) for c in resp.candidates]
    assert texts == [(0, "Echo: alpha beta "), (1, "Echo: alpha beta ")]
    assert resp.usage_metadata.thoughts_token_count is None  # 2.0 does not think

    two = types.GenerateContentConfig(candidate_count=2)
    resp = await in_thread(
        lambda: client.models.generate_content(model="gemini-2.0-flash", contents="x", config=two)
    )
    assert [c.content.parts[0].text for c in resp.candidates] == [
        "Echo: x",
        "Echo: x (candidate 2)",
    ]


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Ingredient(pydantic.BaseModel):
    name: str
    grams: float


class Recipe(pydantic.BaseModel):
    title: str
    color: Color
    ingredients: list[Ingredient]
    parent: Recipe | None = None
    note: str | None = None


async def test_json_mode_with_schemas(served: Served) -> None:
    client = served.client()
    for config in (
        types.GenerateContentConfig(response_mime_type="application/json", response_schema=Recipe),
        types.GenerateContentConfig(
            response_mime_type="application/json",
            response_json_schema=Recipe.model_json_schema(),
        ),
    ):
        resp = await in_thread(
            lambda config=config: client.models.generate_content(
                model=FLASH, contents="a recipe", config=config
            )
        )
        recipe = Recipe.model_validate_json(resp.text)
        assert recipe.color is Color.RED
        assert recipe.ingredients == [Ingredient(name="name", grams=1.5)]
    assert "$defs" in served.sim.requests[-1].body["generationConfig"]["responseJsonSchema"]

    plain = types.GenerateContentConfig(response_mime_type="application/json")
    resp = await in_thread(
        lambda: client.models.generate_content(model=FLASH, contents="hi", config=plain)
    )
    assert resp.parsed is None
    assert resp.text == '{"echo": "hi"}'


async def test_stream_chunks_cumulative_usage(served: Served) -> None:
    client = served.client()
    prompt = "one two three four five six"
    chunks = await in_thread(
        lambda: list(client.models.generate_content_stream(model=FLASH, contents=prompt))
    )
    assert len(chunks) == 3
    assert "".join(c.text for c in chunks) == f"Echo: {prompt}"
    assert [c.candidates[0].finish_reason for c in chunks] == [None, None, types.FinishReason.STOP]
    assert len({c.response_id for c in chunks}) == 1
    assert {c.model_version for c in chunks} == {FLASH}
    cand_counts = [c.usage_metadata.candidates_token_count for c in chunks]
    totals = [c.usage_metadata.total_token_count for c in chunks]
    assert cand_counts == sorted(cand_counts)
    assert totals == sorted(totals)
    assert {c.usage_metadata.prompt_token_count for c in chunks} == {7}
    unary = await in_thread(lambda: client.models.generate_content(model=FLASH, contents=prompt))
    assert chunks[-1].usage_metadata == unary.usage_metadata
    (record, _) = served.sim.requests
    assert record.query == {"alt": "sse"}
    assert record.sse
    assert len(record.chunks) == 3


async def test_count_tokens(served: Served) -> None:
    client = served.client()
    resp = await in_thread(
        lambda: client.models.count_tokens(model=FLASH, contents="hello world, again")
    )
    assert resp.total_tokens == 5
    assert served.sim.requests[0].rpc == "countTokens"


async def test_embeddings_single_batch_and_dimensions(served: Served) -> None:
    client = served.client()
    model = "gemini-embedding-001"
    full = await in_thread(lambda: client.models.embed_content(model=model, contents="alpha"))
    values = full.embeddings[0].values
    assert len(values) == 3072
    assert abs(sum(v * v for v in values) - 1.0) < 1e-6
    short = await in_thread(
        lambda: client.models.embed_content(
            model=model,
            contents="alpha",
            config=types.EmbedContentConfig(output_dimensionality=256),
        )
    )
    assert short.embeddings[0].values == values[:256]  # truncated, not re-normalised
    batch = await in_thread(
        lambda: client.models.embed_content(model=model, contents=["beta", "alpha", "beta"])
    )
    vectors = [e.values for e in batch.embeddings]
    assert vectors[1] == values
    assert vectors[0] == vectors[2]
    assert vectors[0] != values
    old = await in_thread(
        lambda: client.models.embed_content(model="text-embedding-004", contents="a")
    )
    assert len(old.embeddings[0].values) == 768
    assert [r.rpc for r in served.sim.requests] == ["batchEmbedContents"] * 4
    assert served.sim.requests[2].body["requests"][0]["model"] == f"models/{model}"


async def test_models_list_paginates_and_get(served: Served) -> None:
    client = served.client(version="v1")
    names = await in_thread(lambda: [m.name for m in client.models.list()])
    assert len(names) > 50
    assert len(set(names)) == len(names)
    for wanted in ("gemini-2.5-flash", "gemini-3-pro-preview", "gemini-embedding-001"):
        assert f"models/{wanted}" in names
    lists = served.sim.select(rpc="models.list")
    assert len(lists) == 2
    assert "pageToken" in lists[1].query
    assert len(lists[0].response["models"]) == 50
    assert "nextPageToken" not in lists[1].response

    model = await in_thread(lambda: client.models.get(model="gemini-2.5-pro"))
    assert model.name == "models/gemini-2.5-pro"
    assert model.display_name == "Gemini 2.5 Pro"
    assert (model.input_token_limit, model.output_token_limit) == (1048576, 65536)
    assert model.thinking is True
    embed = await in_thread(lambda: client.models.get(model="models/gemini-embedding-001"))
    assert "embedContent" in embed.supported_actions
