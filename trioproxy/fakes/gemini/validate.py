"""Proto3-JSON strictness: unknown names and mistyped values become 400 fieldViolations.

`normalize` walks a request body against the field tables in `protos`, collecting one violation
per problem (the real service reports them all at once) and returning a copy keyed by the
canonical camelCase names, so the generator never has to care which casing a client used.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from . import errors
from .protos import ALIASES, CASE_INSENSITIVE_ENUMS, ENUMS, MESSAGES, snake

_SCALAR_TYPE = {
    "string": "TYPE_STRING",
    "int": "TYPE_INT32",
    "float": "TYPE_FLOAT",
    "bool": "TYPE_BOOL",
    "bytes": "TYPE_BYTES",
}


class _Walker:
    def __init__(self, version: str) -> None:
        self.version = version
        self.violations: list[tuple[str, str]] = []

    def _type_url(self, name: str) -> str:
        return f"type.googleapis.com/google.ai.generativelanguage.{self.version}.{name}"

    def _invalid(self, path: str, type_name: str, value: Any) -> None:
        shown = json.dumps(value, ensure_ascii=False)
        self.violations.append((path, f"Invalid value at '{path}' ({type_name}), {shown}"))

    def message(self, name: str, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self._invalid(path, self._type_url(name), value)
            return None
        fields = MESSAGES[name]
        aliases = ALIASES[name]
        out: dict[str, Any] = {}
        for key, item in value.items():
            canonical = aliases.get(key)
            if canonical is None:
                where = f" at '{path}'" if path else ""
                self.violations.append(
                    (
                        path,
                        f'Invalid JSON payload received. Unknown name "{key}"{where}:'
                        " Cannot find field.",
                    )
                )
                continue
            if item is None:
                # proto3 JSON treats null as "not set".
                continue
            child_path = f"{path}.{snake(canonical)}" if path else snake(canonical)
            converted = self.field(fields[canonical], item, child_path)
            if converted is not None:
                out[canonical] = converted
        return out

    def field(self, type_spec: str, value: Any, path: str) -> Any:
        if type_spec.startswith("[]"):
            inner = type_spec[2:]
            # The service accepts a bare value for a repeated field as a one-element list.
            items = value if isinstance(value, list) else [value]
            out = []
            for i, item in enumerate(items):
                converted = self.field(inner, item, f"{path}[{i}]")
                if converted is not None:
                    out.append(converted)
            return out
        if type_spec.startswith("map:"):
            inner = type_spec[4:]
            if not isinstance(value, dict):
                self._invalid(path, "map", value)
                return None
            # Proto maps are addressed as repeated entries in error paths.
            return {
                k: self.field(inner, v, f"{path}[{i}].value")
                for i, (k, v) in enumerate(value.items())
            }
        if type_spec.startswith("enum:"):
            return self.enum(type_spec[5:], value, path)
        if type_spec in ("struct",):
            if not isinstance(value, dict):
                self._invalid(path, "type.googleapis.com/google.protobuf.Struct", value)
                return None
            return value
        if type_spec == "value":
            return value
        if type_spec in _SCALAR_TYPE:
            return self.scalar(type_spec, value, path)
        return self.message(type_spec, value, path)

    def enum(self, name: str, value: Any, path: str) -> Any:
        allowed = ENUMS[name]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            probe = value.upper() if name in CASE_INSENSITIVE_ENUMS else value
            if probe in allowed:
                return value
        self._invalid(path, self._type_url(name), value)
        return None

    def scalar(self, kind: str, value: Any, path: str) -> Any:
        ok = False
        if kind == "string":
            ok = isinstance(value, str)
        elif kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "int":
            ok = _as_int(value) is not None
            value = _as_int(value) if ok else value
        elif kind == "float":
            ok = _as_float(value) is not None
            value = _as_float(value) if ok else value
        elif kind == "bytes":
            if isinstance(value, str) and not _is_base64(value):
                self.violations.append(
                    (
                        path,
                        f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for"
                        f" {json.dumps(value)}",
                    )
                )
                return None
            ok = isinstance(value, str)
        if not ok:
            self._invalid(path, _SCALAR_TYPE[kind], value)
            return None
        return value


def _as_int(value: Any) -> int | None:
    # proto3 JSON accepts integers as numbers or as decimal strings.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _is_base64(text: str) -> bool:
    # Both alphabets, padding optional, as the proto JSON parser allows.
    stripped = text.rstrip("=")
    if len(stripped) % 4 == 1:
        return False
    padded = stripped + "=" * (-len(stripped) % 4)
    try:
        if "-" in padded or "_" in padded:
            base64.urlsafe_b64decode(padded.encode())
        else:
            base64.b64decode(padded.encode(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def normalize(message: str, body: Any, version: str) -> dict[str, Any]:
    """Return `body` with canonical field names, or raise the 400 the service would send."""
    walker = _Walker(version)
    if not isinstance(body, dict):
        raise errors.invalid_json("Root element must be a message.")
    out = walker.message(message, body, "")
    if walker.violations:
        raise errors.field_violations(walker.violations)
    assert out is not None
    return out
