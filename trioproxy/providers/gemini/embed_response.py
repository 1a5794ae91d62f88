"""Gemini `batchEmbedContents` response → OpenAI embeddings list (reference 6.8). Sans-IO.

The OpenAI SDK asks for `encoding_format: "base64"` by default and decodes the string with
`array.array("f")` / `np.frombuffer(dtype="float32")`, i.e. as packed float32 in the byte
order OpenAI's servers use, little-endian; `struct`'s `<` makes that explicit whatever the
host's byte order.

Gemini truncates vectors for `outputDimensionality` without re-normalising them (only its
full-size vectors are unit length); OpenAI's `dimensions` returns unit vectors, and clients
compute cosine similarity as a dot product on that promise. So truncated vectors are
re-normalised here (`normalize=True`).
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["batch_embed_to_openai", "encode_base64_embedding"]


def encode_base64_embedding(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")


def batch_embed_to_openai(
    resp: Mapping[str, Any],
    *,
    model: str,
    encoding_format: Literal["float", "base64"],
    prompt_tokens: int,
    normalize: bool = False,
) -> dict[str, Any]:
    data = []
    # Gemini returns embeddings in request order, which is what OpenAI's `index` means.
    for index, embedding in enumerate(resp.get("embeddings") or ()):
        values = embedding.get("values") or []
        if normalize:
            values = _unit(values)
        data.append(
            {
                "object": "embedding",
                "index": index,
                "embedding": encode_base64_embedding(values)
                if encoding_format == "base64"
                else values,
            }
        )
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def _unit(values: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(v * v for v in values))
    return [v / norm for v in values] if norm else values
