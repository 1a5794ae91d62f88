"""Gemini `usageMetadata` → OpenAI `usage` (reference 3.2 and 6.4).

Gemini's `candidatesTokenCount` excludes thinking, while OpenAI's `completion_tokens`
includes reasoning, so completion = candidates + thoughts (38 + 8 + 501 = 547 becomes
prompt 38, completion 509, reasoning 501). Counts are often absent rather than 0 (first
stream chunks, thinking-only MAX_TOKENS, thinking off), and absent means 0.

`toolUsePromptTokenCount` (tokens of tool results Gemini fed itself, e.g. search grounding)
is billed as input and included in `totalTokenCount`, so it is added to `prompt_tokens`:
that keeps OpenAI's invariant prompt + completion == total that cost trackers rely on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ZERO_USAGE", "Usage", "usage_from_gemini"]


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    reasoning_tokens: int
    cached_tokens: int

    def to_openai(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }


ZERO_USAGE = Usage(0, 0, 0, 0, 0)


def _count(meta: Mapping[str, Any], key: str) -> int:
    value = meta.get(key)
    # bool is an int subclass but never a token count.
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_gemini(usage_metadata: Mapping[str, Any] | None) -> Usage:
    if not usage_metadata:
        return ZERO_USAGE
    prompt = _count(usage_metadata, "promptTokenCount") + _count(
        usage_metadata, "toolUsePromptTokenCount"
    )
    thoughts = _count(usage_metadata, "thoughtsTokenCount")
    completion = _count(usage_metadata, "candidatesTokenCount") + thoughts
    total = _count(usage_metadata, "totalTokenCount") or prompt + completion
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
        reasoning_tokens=thoughts,
        cached_tokens=_count(usage_metadata, "cachedContentTokenCount"),
    )
