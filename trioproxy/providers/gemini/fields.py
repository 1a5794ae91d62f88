"""Validation of scalar fields in the client's request, shared by the translators.

Each helper reads one field and either returns it or raises InvalidRequest naming the
field's path in `param`, as OpenAI's own errors do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trioproxy.errors import InvalidRequest


def integer(
    obj: Mapping[str, Any], key: str, low: int, high: int | None = None, *, param: str = ""
) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    # bool is an int subclass: `max_tokens: true` is a client bug, not 1.
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        param = param or key
        raise InvalidRequest(
            f"Invalid value for '{param}': expected an integer {bounds}, got {show(value)}.",
            param=param,
        )
    return value


def number(obj: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    # NaN fails the range check too.
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(
            f"Invalid value for '{key}': expected a number between {low} and {high}, "
            f"got {show(value)}.",
            param=key,
        )
    return value


def show(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def string(obj: Mapping[str, Any], key: str, at: str, *, empty: bool = True) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or (not empty and not value):
        qualifier = "string" if empty else "non-empty string"
        raise InvalidRequest(f"'{at}.{key}' must be a {qualifier}.", param=f"{at}.{key}")
    return value
