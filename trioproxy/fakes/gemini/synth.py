"""Synthesise a JSON value that validates against a schema.

Handles both the OpenAPI-subset `Schema` (uppercase types, `nullable`, `anyOf`) and full JSON
Schema (`$ref`/`$defs`, `const`, type lists, `allOf`), enough for pydantic models with nested
objects, lists, enums and optionals. Values are fixed so tests can predict them: strings are
the property name (or a sample for a `format`), integers 1, numbers 1.5, booleans true, enums
their first value, arrays one item (or `minItems`), and optional nullable properties null.
"""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 8

_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
}


def synthesize(schema: Any, name: str = "value") -> Any:
    root = schema if isinstance(schema, dict) else {}
    return _Synth(root).value(root, name, 0)


class _Synth:
    def __init__(self, root: dict[str, Any]) -> None:
        self.defs: dict[str, Any] = {}
        for key in ("$defs", "definitions"):
            if isinstance(root.get(key), dict):
                self.defs.update(root[key])

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < _MAX_DEPTH:
            target = str(schema["$ref"]).rsplit("/", 1)[-1]
            resolved = self.defs.get(target, {})
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**resolved, **extra} if isinstance(resolved, dict) else extra
            seen += 1
        return schema

    def value(self, schema: Any, name: str, depth: int) -> Any:
        if not isinstance(schema, dict):
            return name
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        if "default" in schema and schema["default"] is not None:
            return schema["default"]
        for key in ("anyOf", "oneOf"):
            options = [o for o in schema.get(key) or [] if self._type_of(o) != "null"]
            if options:
                return self.value(options[0], name, depth + 1)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                part = self._resolve(part) if isinstance(part, dict) else {}
                props = {**merged.get("properties", {}), **part.get("properties", {})}
                merged = {**merged, **part, "properties": props}
            return self.value(merged, name, depth + 1)
        if schema.get("nullable") and not {"type", "properties", "items"} & set(schema):
            return None
        kind = self._type_of(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            count = max(1, int(schema.get("minItems") or 0))
            if depth >= _MAX_DEPTH:
                count = int(schema.get("minItems") or 0)
            item = schema.get("items", {})
            return [self.value(item, name, depth + 1) for _ in range(count)]
        if kind == "integer":
            return int(self._number(schema, 1))
        if kind == "number":
            return self._number(schema, 1.5)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema, name)

    def _nullable(self, schema: Any) -> bool:
        if not isinstance(schema, dict):
            return False
        schema = self._resolve(schema)
        if schema.get("nullable"):
            return True
        kind = schema.get("type")
        if isinstance(kind, list) and any(str(k).lower() == "null" for k in kind):
            return True
        options = (schema.get("anyOf") or []) + (schema.get("oneOf") or [])
        return any(self._type_of(o) == "null" for o in options)

    def _type_of(self, schema: Any) -> str:
        if not isinstance(schema, dict):
            return "string"
        schema = self._resolve(schema)
        kind = schema.get("type")
        if isinstance(kind, list):
            non_null = [k for k in kind if str(k).lower() != "null"]
            kind = non_null[0] if non_null else "null"
        if kind is None:
            if "properties" in schema:
                return "object"
            if "items" in schema:
                return "array"
            return "string"
        return str(kind).lower()

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        order = list(schema.get("propertyOrdering") or []) + [
            k for k in props if k not in (schema.get("propertyOrdering") or [])
        ]
        out: dict[str, Any] = {}
        for key in order:
            if key not in props:
                continue
            # Optional nullable fields are null: that is always valid and ends recursive models.
            if key not in required and self._nullable(props[key]):
                out[key] = None
                continue
            if depth >= _MAX_DEPTH and key not in required:
                continue
            out[key] = self.value(props[key], key, depth + 1)
        return out

    @staticmethod
    def _number(schema: dict[str, Any], preferred: float) -> float:
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        value = preferred
        if low is not None and value <= float(low):
            value = float(low) + (1 if "exclusiveMinimum" in schema else 0)
        if high is not None and value >= float(high):
            value = float(high) - (1 if "exclusiveMaximum" in schema else 0)
        return value

    @staticmethod
    def _string(schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        text = _FORMATS.get(str(fmt), name) if fmt else name
        min_len = int(schema.get("minLength") or 0)
        if len(text) < min_len:
            text = text + "x" * (min_len - len(text))
        max_len = schema.get("maxLength")
        if max_len is not None:
            text = text[: int(max_len)]
        return text
