"""Gemini `models.list` entries → OpenAI `/v1/models` objects (reference 6.9). Sans-IO.

Ids lose the `models/` prefix (requests accept both forms). `created` is 0 because Gemini
publishes no creation time. A few Gemini facts that clients such as model pickers can use
(token limits, supported methods) ride along under keys OpenAI's `Model` does not define, so
the OpenAI SDK keeps them in `model_extra` and nothing that reads the standard keys changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["gemini_model_to_openai", "models_page_to_openai"]

# Gemini key → extra OpenAI-side key, copied only when present.
_EXTRAS = {
    "displayName": "display_name",
    "inputTokenLimit": "input_token_limit",
    "outputTokenLimit": "output_token_limit",
    "supportedGenerationMethods": "supported_generation_methods",
}


def gemini_model_to_openai(model: Mapping[str, Any]) -> dict[str, Any]:
    name = str(model.get("name") or "")
    out: dict[str, Any] = {
        "id": name.removeprefix("models/"),
        "object": "model",
        "created": 0,
        "owned_by": "google",
    }
    for gemini_key, openai_key in _EXTRAS.items():
        value = model.get(gemini_key)
        if value is not None:
            out[openai_key] = value
    return out


def models_page_to_openai(models: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": [gemini_model_to_openai(m) for m in models]}
