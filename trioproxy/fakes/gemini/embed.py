"""Deterministic embeddings: a unit vector seeded by the text, truncated without re-normalising."""

from __future__ import annotations

import functools
import hashlib
import math
import random
from typing import Any

from . import errors
from .catalog import ModelInfo


@functools.lru_cache(maxsize=4096)
def _full_vector(model_id: str, text: str, dims: int) -> tuple[float, ...]:
    seed = int.from_bytes(hashlib.sha256(f"{model_id}\x00{text}".encode()).digest()[:8], "big")
    rng = random.Random(seed)
    raw = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return tuple(round(x / norm, 9) for x in raw)


def content_text(content: dict[str, Any]) -> str:
    return "\n".join(p["text"] for p in content.get("parts", []) if "text" in p)


def vector(model: ModelInfo, text: str, output_dimensionality: int | None) -> list[float]:
    """The embedding values; `output_dimensionality` keeps the leading values (MRL truncation)."""
    full = _full_vector(model.id, text, model.embedding_dims)
    if output_dimensionality:
        return list(full[:output_dimensionality])
    return list(full)


def _one(model: ModelInfo, req: dict[str, Any], where: str) -> dict[str, Any]:
    content = req.get("content")
    if not content or not content.get("parts"):
        raise errors.invalid_argument(f"* {where}.content: content is not specified\n")
    dims = req.get("outputDimensionality")
    if dims is not None and not 0 < dims <= model.embedding_dims:
        raise errors.invalid_argument(
            f"* {where}.output_dimensionality: output_dimensionality must be a positive integer"
            f" no greater than {model.embedding_dims}.\n"
        )
    return {"values": vector(model, content_text(content), dims)}


def embed_content(model: ModelInfo, req: dict[str, Any]) -> dict[str, Any]:
    return {"embedding": _one(model, req, "EmbedContentRequest")}


def batch_embed(model: ModelInfo, req: dict[str, Any]) -> dict[str, Any]:
    requests = req.get("requests", [])
    if not requests:
        raise errors.invalid_argument(
            "* BatchEmbedContentsRequest.requests: requests is not specified\n"
        )
    out = []
    for i, item in enumerate(requests):
        where = f"BatchEmbedContentsRequest.requests[{i}]"
        name = item.get("model", "")
        if not name.startswith("models/"):
            raise errors.invalid_argument(f"* {where}.model: unexpected model name format\n")
        if name != f"models/{model.id}":
            raise errors.invalid_argument(
                f"* {where}.model: Model name in the request ({name}) does not match the model"
                f" name in the URL (models/{model.id}).\n"
            )
        out.append(_one(model, item, where))
    return {"embeddings": out}
