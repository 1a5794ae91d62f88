"""Deterministic token counting, shared by countTokens and usageMetadata so they agree."""

from __future__ import annotations

import json
from typing import Any

# What the real service charges for one image, whatever its size (within a tile).
IMAGE_TOKENS = 258


def count_text(text: str) -> int:
    """About four characters a token, never zero for non-empty input."""
    return max(1, (len(text) + 3) // 4) if text else 0


def count_json(value: Any) -> int:
    return count_text(json.dumps(value, separators=(",", ":"), sort_keys=True))


def count_part(part: dict[str, Any]) -> tuple[str, int]:
    """(modality, tokens) for one request part."""
    if "text" in part:
        return "TEXT", count_text(part["text"])
    blob = part.get("inlineData") or part.get("fileData")
    if blob is not None:
        mime = str(blob.get("mimeType", ""))
        for prefix, modality in (("image/", "IMAGE"), ("audio/", "AUDIO"), ("video/", "VIDEO")):
            if mime.startswith(prefix):
                return modality, IMAGE_TOKENS
        return "DOCUMENT", IMAGE_TOKENS
    for key in ("functionCall", "functionResponse", "executableCode", "codeExecutionResult"):
        if key in part:
            return "TEXT", count_json(part[key])
    return "TEXT", 0


def count_request(request: dict[str, Any]) -> dict[str, int]:
    """Tokens per modality for a (normalised) GenerateContentRequest-like dict."""
    totals: dict[str, int] = {}
    contents = list(request.get("contents", []))
    if "systemInstruction" in request:
        contents.append(request["systemInstruction"])
    for content in contents:
        for part in content.get("parts", []):
            modality, n = count_part(part)
            totals[modality] = totals.get(modality, 0) + n
    if request.get("tools"):
        totals["TEXT"] = totals.get("TEXT", 0) + count_json(request["tools"])
    return totals


def details(per_modality: dict[str, int]) -> list[dict[str, Any]]:
    order = ["TEXT", "IMAGE", "AUDIO", "VIDEO", "DOCUMENT"]
    return [
        {"modality": m, "tokenCount": per_modality[m]} for m in order if per_modality.get(m)
    ] or [{"modality": "TEXT", "tokenCount": 0}]
