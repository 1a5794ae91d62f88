"""OpenAI embeddings body -> Gemini `batchEmbedContents` body (pure).

- `input`: a non-empty string or a non-empty array of non-empty strings. Token-id inputs
  (an integer array, or an array of them) cannot be expressed on Gemini: 400.
- At most 100 inputs, Gemini's batch limit: more is a 400 rather than a split, so one
  OpenAI request is one upstream call (one key, one retry story).
- `dimensions` -> `outputDimensionality` on every request; the vectors are not
  re-normalised (the response side's concern).
- `encoding_format`: `float` (the default when absent or null) or `base64`.
- Dropped: `user`, `model` (the route resolves it), and any unknown field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from trioproxy.errors import InvalidRequest

MAX_BATCH = 100


@dataclass(frozen=True)
class EmbeddingsPlan:
    """The upstream body plus what the response translation needs to know."""

    gemini_body: dict[str, Any]
    encoding_format: Literal["float", "base64"]
    count: int


def embeddings_to_batch_request(body: Mapping[str, Any], model: str) -> EmbeddingsPlan:
    """Translate an OpenAI /v1/embeddings body for the bare Gemini model id `model`
    (POST models/{model}:batchEmbedContents). Raises InvalidRequest for client errors."""
    texts = _inputs(body.get("input"))
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise InvalidRequest("'dimensions' must be a positive integer.", param="dimensions")
    encoding = body.get("encoding_format")
    if encoding is None:
        encoding = "float"
    if encoding not in ("float", "base64"):
        raise InvalidRequest(
            "'encoding_format' must be 'float' or 'base64'.", param="encoding_format"
        )
    name = model if model.startswith("models/") else f"models/{model}"
    requests = []
    for text in texts:
        request: dict[str, Any] = {"model": name, "content": {"parts": [{"text": text}]}}
        if dimensions is not None:
            request["outputDimensionality"] = dimensions
        requests.append(request)
    return EmbeddingsPlan(
        gemini_body={"requests": requests},
        encoding_format="base64" if encoding == "base64" else "float",
        count=len(texts),
    )


def _inputs(raw: object) -> list[str]:
    if raw is None:
        raise InvalidRequest("Missing required parameter 'input'.", param="input")
    listed = [raw] if isinstance(raw, str) else raw
    if not isinstance(listed, list):
        raise InvalidRequest("'input' must be a string or an array of strings.", param="input")
    if not listed:
        raise InvalidRequest("'input' must not be empty.", param="input")
    if any(_is_tokens(item) for item in listed):
        raise InvalidRequest(
            "Token arrays are not supported by Gemini; send 'input' as text.", param="input"
        )
    if len(listed) > MAX_BATCH:
        raise InvalidRequest(
            f"'input' has {len(listed)} items; Gemini embeds at most {MAX_BATCH} per request.",
            param="input",
        )
    for i, item in enumerate(listed):
        at = "input" if isinstance(raw, str) else f"input[{i}]"
        if not isinstance(item, str):
            raise InvalidRequest(f"'{at}' must be a string.", param=at)
        if not item:
            raise InvalidRequest(f"'{at}' must not be empty.", param=at)
    return listed


def _is_tokens(item: object) -> bool:
    if isinstance(item, bool):
        return False
    if isinstance(item, int):
        return True
    return isinstance(item, list) and all(
        isinstance(t, int) and not isinstance(t, bool) for t in item
    )
