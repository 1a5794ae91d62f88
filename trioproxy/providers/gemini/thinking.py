"""Thinking and Google's `extra_body.google` extensions -> `thinkingConfig`, `safetySettings`.

- `reasoning_effort` follows Google's compat table (reference 6.3); a budget of 0
  is sent as-is on models that can turn thinking off, only non-zero budgets are clamped.
  Models without thinking (`gemini-1*`, `gemini-2.0*`, `gemma*`) ignore `reasoning_effort`;
  Gemini 3 Pro maps minimal/low -> LOW and medium/high -> HIGH. `reasoning_effort` together
  with `extra_body.google.thinking_config` is a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trioproxy.errors import InvalidRequest
from trioproxy.providers.gemini.fields import integer

_EFFORTS = ("none", "minimal", "low", "medium", "high")
_BUDGETS = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}
# Longest prefix first: flash-lite before flash.
_BUDGET_RANGES = (
    ("gemini-2.5-pro", 128, 32768),
    ("gemini-2.5-flash-lite", 512, 24576),
    ("gemini-2.5-flash", 0, 24576),
)
_LEVELS_PRO = {"none": "LOW", "minimal": "LOW", "low": "LOW", "medium": "HIGH", "high": "HIGH"}
_LEVELS_FLASH = {
    "none": "MINIMAL",
    "minimal": "MINIMAL",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
}
_NO_THINKING = ("gemini-1", "gemini-2.0", "gemma")
G = "extra_body.google."


def google(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """Google's own compat extension: `"extra_body": {"google": {...}}`, literally on the wire."""
    extra = body.get("extra_body")
    google = extra.get("google") if isinstance(extra, Mapping) else None
    if google is not None and not isinstance(google, Mapping):
        raise InvalidRequest("'extra_body.google' must be an object.", param="extra_body.google")
    return google or {}


def thinking(body: Mapping[str, Any], google: Mapping[str, Any], model: str) -> dict[str, Any]:
    effort, explicit = body.get("reasoning_effort"), google.get("thinking_config")
    if explicit is not None:
        if effort is not None:
            raise InvalidRequest(
                "Use either 'reasoning_effort' or 'extra_body.google.thinking_config', not both.",
                param="reasoning_effort",
            )
        return _explicit_thinking(explicit)
    if effort is None:
        return {}
    if effort not in _EFFORTS:
        raise InvalidRequest(
            f"'reasoning_effort' must be one of {', '.join(_EFFORTS)}.", param="reasoning_effort"
        )
    config: dict[str, Any] = {}
    if model.startswith("gemini-3"):
        config["thinkingLevel"] = (_LEVELS_PRO if "pro" in model else _LEVELS_FLASH)[effort]
    elif model.startswith(_NO_THINKING):
        return {}
    else:
        config["thinkingBudget"] = _budget(effort, model)
    if effort != "none":
        config["includeThoughts"] = True
    return config


def _budget(effort: str, model: str) -> int:
    budget = _BUDGETS[effort]
    if budget == 0 and "pro" in model:
        return 128  # thinking cannot be turned off on Pro models; this is their minimum
    for prefix, low, high in _BUDGET_RANGES:
        if model.startswith(prefix) and budget:
            return min(max(budget, low), high)
    return budget


def _explicit_thinking(raw: object) -> dict[str, Any]:
    at = G + "thinking_config"
    if not isinstance(raw, Mapping):
        raise InvalidRequest(f"'{at}' must be an object.", param=at)
    config: dict[str, Any] = {}
    budget = integer(raw, "thinking_budget", -1, param=f"{at}.thinking_budget")
    level = raw.get("thinking_level")
    include = raw.get("include_thoughts")
    if budget is not None:
        config["thinkingBudget"] = budget
    if level is not None:
        if not isinstance(level, str) or level.lower() not in _EFFORTS[1:]:
            raise InvalidRequest(
                f"'{at}.thinking_level' must be minimal, low, medium or high.",
                param=f"{at}.thinking_level",
            )
        if budget is not None:
            raise InvalidRequest(
                "Set thinking_budget or thinking_level, not both.", param=f"{at}.thinking_level"
            )
        config["thinkingLevel"] = level.upper()
    if include is not None:
        if not isinstance(include, bool):
            raise InvalidRequest(
                f"'{at}.include_thoughts' must be a boolean.", param=f"{at}.include_thoughts"
            )
        config["includeThoughts"] = include
    return config


def safety(raw: object) -> list[dict[str, str]]:
    at = G + "safety_settings"
    if not isinstance(raw, list):
        raise InvalidRequest(f"'{at}' must be an array.", param=at)
    settings = []
    for i, item in enumerate(raw):
        category = item.get("category") if isinstance(item, Mapping) else None
        threshold = item.get("threshold") if isinstance(item, Mapping) else None
        if not isinstance(category, str) or not isinstance(threshold, str):
            raise InvalidRequest(
                f"'{at}[{i}]' must be an object with string 'category' and 'threshold'.",
                param=f"{at}[{i}]",
            )
        # Only these two: `method` is Vertex-only and Gemini rejects unknown fields.
        settings.append({"category": category, "threshold": threshold})
    return settings
