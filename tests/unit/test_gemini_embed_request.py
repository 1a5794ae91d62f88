from __future__ import annotations

import copy
from typing import Any

import pytest

from trioproxy.errors import InvalidRequest
from trioproxy.providers.gemini.embed_request import (
    EmbeddingsPlan,
    embeddings_to_batch_request,
)

MODEL = "gemini-embedding-001"


def plan(**body: Any) -> EmbeddingsPlan:
    return embeddings_to_batch_request(body, MODEL)


def test_single_string_defaults_to_float() -> None:
    assert plan(input="hello") == EmbeddingsPlan(
        gemini_body={
            "requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "hello"}]}}
            ]
        },
        encoding_format="float",
        count=1,
    )


def test_list_with_dimensions_and_base64() -> None:
    body = {
        "input": ["a", "b"],
        "dimensions": 768,
        "encoding_format": "base64",
        "user": "u",
        "model": MODEL,
    }
    before = copy.deepcopy(body)
    result = embeddings_to_batch_request(body, MODEL)
    assert result == EmbeddingsPlan(
        gemini_body={
            "requests": [
                {
                    "model": "models/gemini-embedding-001",
                    "content": {"parts": [{"text": "a"}]},
                    "outputDimensionality": 768,
                },
                {
                    "model": "models/gemini-embedding-001",
                    "content": {"parts": [{"text": "b"}]},
                    "outputDimensionality": 768,
                },
            ]
        },
        encoding_format="base64",
        count=2,
    )
    assert body == before


def test_null_encoding_format_and_dimensions_mean_defaults() -> None:
    result = plan(input=["x"], encoding_format=None, dimensions=None)
    assert result.encoding_format == "float"
    assert "outputDimensionality" not in result.gemini_body["requests"][0]


def test_exactly_100_inputs_is_one_batch() -> None:
    assert plan(input=["t"] * 100).count == 100


@pytest.mark.parametrize(
    ("body", "param", "needle"),
    [
        ({}, "input", "Missing"),
        ({"input": None}, "input", "Missing"),
        ({"input": ""}, "input", "empty"),
        ({"input": []}, "input", "empty"),
        ({"input": {"a": 1}}, "input", "string"),
        ({"input": ["a", ""]}, "input[1]", "empty"),
        ({"input": ["a", 3.5]}, "input[1]", "string"),
        ({"input": [1, 2, 3]}, "input", "Token arrays are not supported by Gemini"),
        ({"input": [[1, 2], [3]]}, "input", "Token arrays are not supported by Gemini"),
        ({"input": ["t"] * 101}, "input", "at most 100"),
        ({"input": "a", "dimensions": 0}, "dimensions", "positive"),
        ({"input": "a", "dimensions": True}, "dimensions", "positive"),
        ({"input": "a", "dimensions": "768"}, "dimensions", "positive"),
        ({"input": "a", "encoding_format": "int8"}, "encoding_format", "float"),
    ],
)
def test_errors(body: dict[str, Any], param: str, needle: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        embeddings_to_batch_request(body, MODEL)
    assert info.value.param == param
    assert needle in info.value.message
