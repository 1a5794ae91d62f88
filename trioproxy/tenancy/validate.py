"""Management API input -> records. Pure: every problem is an InvalidRequest (400) that
names the field, raised before anything is written."""

from __future__ import annotations

import math
import re
from typing import Any

from trioproxy.errors import InvalidRequest
from trioproxy.tenancy.model import (
    DEFAULT_TOKEN_LIFETIME,
    LIMIT_FIELDS,
    MAX_TOKEN_LIFETIME,
    Limits,
)

PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_TEXT = 1000
MAX_METADATA = 50
MAX_PATTERNS = 100
# Far above any real rate; keeps the numbers sane (and inside SQLite's integers).
MAX_LIMIT = 10**12
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")

PROJECT_FIELDS = ("name", "description", "metadata", "models", "upstreams", "limits")
TOKEN_FIELDS = ("project", "name", "expires_in", "limits")


def object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def project_name(value: Any, param: str = "name") -> str:
    if not isinstance(value, str) or not PROJECT_NAME.fullmatch(value):
        raise InvalidRequest(
            "A project name is 1-64 characters: lower-case letters, digits, '.', '_' or "
            "'-', starting with a letter or digit.",
            param=param,
        )
    return value


def project_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The fields of a project create (`name` required) or update (any subset). `limits`
    comes back as a patch (see `limits_patch`): the manager applies it to the limits
    current when it makes the change, so two updates of different limits both land."""
    _only(body, PROJECT_FIELDS if creating else PROJECT_FIELDS[1:])
    fields: dict[str, Any] = {}
    if creating:
        fields["name"] = project_name(body.get("name"))
    if "description" in body:
        fields["description"] = _text(body["description"], "description") or ""
    if "metadata" in body:
        fields["metadata"] = _metadata(body["metadata"])
    for name in ("models", "upstreams"):
        if name in body:
            fields[name] = _patterns(body[name], name)
    if "limits" in body:
        fields["limits"] = limits_patch(body["limits"])
    return fields


def token_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    _only(body, TOKEN_FIELDS if creating else TOKEN_FIELDS[1:])
    fields: dict[str, Any] = {}
    if creating:
        fields["project"] = project_name(body.get("project"), "project")
        fields["expires_in"] = duration(body.get("expires_in", DEFAULT_TOKEN_LIFETIME))
    elif "expires_in" in body:
        fields["expires_in"] = duration(body["expires_in"])
    if "name" in body:
        fields["name"] = _text(body["name"], "name")
    if "limits" in body:
        fields["limits"] = limits_patch(body["limits"])
    return fields


LimitsPatch = dict[str, int | None] | None


def limits_patch(value: Any, param: str = "limits") -> LimitsPatch:
    """`{"requests_per_minute": 60, ...}`, checked: the limits to set (null clears one);
    None (a null `limits`) clears them all."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("`limits` must be an object.", param=param)
    _only(value, LIMIT_FIELDS, param)
    for name, limit in value.items():
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= MAX_LIMIT
        ):
            raise InvalidRequest(
                f"`{name}` must be a positive whole number (or null for no limit).",
                param=f"{param}.{name}",
            )
    return dict(value)


def apply_limits(patch: LimitsPatch, base: Limits) -> Limits:
    """The limits after `patch`: the ones it names set, the others kept."""
    if patch is None:
        return Limits()
    return Limits(**{**base.as_dict(), **patch})


def limits(value: Any, base: Limits, param: str = "limits") -> Limits:
    """Check and apply in one step (for input read whole, such as a create)."""
    return apply_limits(limits_patch(value, param), base)


def duration(value: Any, param: str = "expires_in") -> float:
    """Seconds (a number) or text like "90s", "15m", "12h", "30d", "1d12h"."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        # An integer too large for a float is just too long a life.
        seconds = float(value) if abs(value) < 1e300 else math.inf
    elif isinstance(value, str):
        text = value.strip().lower()
        parts = _DURATION.findall(text)
        if _SECONDS.fullmatch(text):  # "3600", "1.5": seconds, as a number would be
            seconds = float(text)
        elif parts and _DURATION.sub("", text).strip() == "":
            seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise InvalidRequest(
            '`expires_in` must be a positive duration: seconds, or text like "15m", '
            '"12h" or "30d".',
            param=param,
        )
    if seconds > MAX_TOKEN_LIFETIME:
        raise InvalidRequest("Tokens live at most 365 days.", param=param)
    return seconds


def check_upstreams(upstreams: tuple[str, ...] | None, known: set[str]) -> None:
    """An upstream the config does not define is most likely a typo."""
    unknown = sorted(set(upstreams or ()) - known)
    if unknown:
        raise InvalidRequest(
            f"Unknown upstream(s) {', '.join(unknown)}; keys.yaml defines "
            f"{', '.join(sorted(known)) or 'none'}.",
            param="upstreams",
        )


def _only(body: dict[str, Any], allowed: tuple[str, ...], param: str | None = None) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        prefix = f"{param}." if param else ""
        raise InvalidRequest(
            f"Unknown field `{prefix}{unknown[0]}`; expected one of: {', '.join(allowed)}.",
            param=f"{prefix}{unknown[0]}",
        )


def _encodable(*texts: str) -> bool:
    # A lone surrogate (JSON allows "\ud800") cannot be stored or sent as UTF-8.
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: Any, param: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT or not _encodable(value):
        raise InvalidRequest(
            f"`{param}` must be a string of at most {MAX_TEXT} characters of valid Unicode "
            "(no lone surrogates).",
            param=param,
        )
    return value


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if (
        not isinstance(value, dict)
        or len(value) > MAX_METADATA
        or not all(
            isinstance(v, str) and len(k) <= 100 and len(v) <= MAX_TEXT and _encodable(k, v)
            for k, v in value.items()
        )
    ):
        raise InvalidRequest(
            f"`metadata` must be an object of at most {MAX_METADATA} string values.",
            param="metadata",
        )
    return dict(value)


def _patterns(value: Any, param: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not 0 < len(value) <= MAX_PATTERNS
        or not all(
            isinstance(item, str) and 0 < len(item) <= 200 and _encodable(item) for item in value
        )
    ):
        raise InvalidRequest(
            f"`{param}` must be a non-empty list of names (or null for any).", param=param
        )
    return tuple(value)
