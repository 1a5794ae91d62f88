"""Embeddings (float and base64) and model list translation."""

from __future__ import annotations

import array
import base64
import struct
import sys
from typing import Any

import pytest
from openai.types import CreateEmbeddingResponse, Model

from trioproxy.providers.gemini.embed_response import batch_embed_to_openai
from trioproxy.providers.gemini.models import gemini_model_to_openai, models_page_to_openai

# Exactly representable in float32, so the round trip can be compared with ==.
VALUES = [[0.5, -0.25, 1.0, 0.0], [-2.0, 0.125, 3.5, -0.0625]]
RESP = {"embeddings": [{"values": v} for v in VALUES]}


def test_float_embeddings() -> None:
    out = batch_embed_to_openai(
        RESP, model="gemini-embedding-001", encoding_format="float", prompt_tokens=8
    )
    assert out == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": VALUES[0]},
            {"object": "embedding", "index": 1, "embedding": VALUES[1]},
        ],
        "model": "gemini-embedding-001",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }
    CreateEmbeddingResponse.model_validate(out)


def test_base64_decodes_as_the_openai_sdk_does() -> None:
    out = batch_embed_to_openai(
        RESP, model="gemini-embedding-001", encoding_format="base64", prompt_tokens=3
    )
    for item, expected in zip(out["data"], VALUES, strict=True):
        raw = base64.b64decode(item["embedding"])
        assert len(raw) == 4 * len(expected)
        # openai-python's fallback without numpy: array.array("f").frombytes (native order,
        # little-endian on every host it runs on).
        decoded = array.array("f")
        decoded.frombytes(raw)
        if sys.byteorder == "big":
            decoded.byteswap()
        assert decoded.tolist() == expected
        assert list(struct.unpack(f"<{len(expected)}f", raw)) == expected
    assert out["data"][0]["embedding"] == "AAAAPwAAgL4AAIA/AAAAAA=="
    assert out["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


def test_base64_rounds_to_float32() -> None:
    out = batch_embed_to_openai(
        {"embeddings": [{"values": [0.1]}]}, model="m", encoding_format="base64", prompt_tokens=0
    )
    (value,) = struct.unpack("<f", base64.b64decode(out["data"][0]["embedding"]))
    assert value == pytest.approx(0.1, rel=1e-7)
    assert value != 0.1  # really float32, as OpenAI sends


def test_empty_response() -> None:
    out = batch_embed_to_openai({}, model="m", encoding_format="float", prompt_tokens=0)
    assert out["data"] == []


GEMINI_MODEL: dict[str, Any] = {
    "name": "models/gemini-2.5-flash",
    "version": "001",
    "displayName": "Gemini 2.5 Flash",
    "description": "Stable version of Gemini 2.5 Flash",
    "inputTokenLimit": 1048576,
    "outputTokenLimit": 65536,
    "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent"],
    "temperature": 1,
    "topP": 0.95,
    "topK": 64,
    "maxTemperature": 2,
    "thinking": True,
}


def test_model_id_stripping_and_extras() -> None:
    out = gemini_model_to_openai(GEMINI_MODEL)
    assert out == {
        "id": "gemini-2.5-flash",
        "object": "model",
        "created": 0,
        "owned_by": "google",
        "display_name": "Gemini 2.5 Flash",
        "input_token_limit": 1048576,
        "output_token_limit": 65536,
        "supported_generation_methods": ["generateContent", "countTokens", "createCachedContent"],
    }
    model = Model.model_validate(out)
    assert (model.id, model.created, model.owned_by) == ("gemini-2.5-flash", 0, "google")


def test_minimal_and_unprefixed_model() -> None:
    assert gemini_model_to_openai({"name": "gemini-embedding-001"}) == {
        "id": "gemini-embedding-001",
        "object": "model",
        "created": 0,
        "owned_by": "google",
    }


def test_models_page() -> None:
    page = models_page_to_openai(iter([GEMINI_MODEL, {"name": "models/gemini-embedding-001"}]))
    assert page["object"] == "list"
    assert [m["id"] for m in page["data"]] == ["gemini-2.5-flash", "gemini-embedding-001"]
    assert models_page_to_openai([]) == {"object": "list", "data": []}
