"""JSON Schema (as OpenAI tools carry it) -> the OpenAPI-subset `Schema` Gemini's
`functionDeclarations[].parameters` accepts (pure).

Gemini rejects the whole request for any key its `Schema` proto does not know
(`additionalProperties`, `$schema`, `const`, `uniqueItems`, ...), and it checks that
type-specific keys match the type ("items: field predicate failed: $type == Type.ARRAY",
"properties: only allowed for OBJECT type", "items: missing field" for a bare array).
So this is an allow-list per type rather than a deny-list:

- `$ref` into the same document (`#/$defs/X`, `#/definitions/X`, any local JSON pointer) is
  inlined, siblings of `$ref` winning; a ref already expanded `_MAX_REF_REPEAT` times on the
  current path is cut to `{"type": "object"}`. Non-local refs become `{}` (any).
- `type: [T, "null"]` -> `type: T, nullable: true`; several non-null types -> `anyOf`.
- `anyOf`/`oneOf`: `{"type": "null"}` members become `nullable`; one remaining member is
  merged into the parent; type-specific parent keys are folded into each member. Members
  that only list `required` fields ("a or b is required") are dropped with the `anyOf`.
- `allOf` members are merged (properties and required are unioned, later keys win).
- `const` -> `enum: [value]`. Gemini enums are string-only, so an enum with non-string values
  is stringified (JSON text: `1` -> `"1"`, `true` -> `"true"`) and its type becomes `string`;
  the model will then answer with strings. A `null` enum value becomes `nullable`.
- `exclusiveMinimum`/`exclusiveMaximum` (numeric form) -> `minimum`/`maximum`;
  `examples` -> `example` (the first); `prefixItems` or tuple `items` -> `items.anyOf`.
- `format` is kept only where Gemini supports it: string `enum`/`date-time`, number
  `float`/`double`, integer `int32`/`int64`.
- An array without `items` gets `items: {}`; `required` names missing from `properties`
  are dropped; empty `properties`/`required` are omitted.
- A typeless schema with `properties` is an object, with `items` an array, with `enum` a
  string; otherwise it stays typeless and keeps only the generic keys.

Everything else is dropped. The input is never mutated, and the result shares no mutable
object with it. Nesting deeper than `_MAX_DEPTH` or more than `_MAX_NODES` converted nodes
(a `$ref` fan-out bomb) is cut to `{"type": "object"}`, so any JSON object converts.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

_MAX_REF_REPEAT = 2
_MAX_DEPTH = 48
_MAX_NODES = 5000

_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_GENERIC = ("description", "title", "nullable", "default", "example", "examples")
_TYPE_KEYS: dict[str, frozenset[str]] = {
    "string": frozenset({"format", "enum", "minLength", "maxLength", "pattern"}),
    "number": frozenset({"format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "array": frozenset({"items", "prefixItems", "minItems", "maxItems"}),
    "object": frozenset({"properties", "required", "minProperties", "maxProperties"}),
    "boolean": frozenset(),
    "null": frozenset(),
}
_TYPE_KEYS["integer"] = _TYPE_KEYS["number"]
_ALL_TYPE_KEYS = frozenset().union(*_TYPE_KEYS.values()) | {"type", "const"}
_FORMATS = {
    "string": frozenset({"enum", "date-time"}),
    "number": frozenset({"float", "double"}),
    "integer": frozenset({"int32", "int64"}),
}
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_CONSTRAINT_ONLY = frozenset({"required", "description", "title", "minProperties", "not"})
_CUT: dict[str, Any] = {"type": "object"}


@dataclass
class _Ctx:
    root: Mapping[str, Any]
    nodes: int = 0
    refs: tuple[str, ...] = field(default=())


def to_gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """JSON Schema (as OpenAI tools carry it) -> the OpenAPI-subset Schema that Gemini's
    `parameters` accepts. Total over JSON objects; see the module docstring for the rules."""
    return _convert(schema, _Ctx(root=schema), 0)


def _convert(node: object, ctx: _Ctx, depth: int) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        return {}  # `true` or junk: any value
    ctx.nodes += 1
    if depth > _MAX_DEPTH or ctx.nodes > _MAX_NODES:
        return dict(_CUT)
    ref = node.get("$ref")
    if isinstance(ref, str):
        return _convert_ref(node, ref, ctx, depth)
    all_of = node.get("allOf")
    if isinstance(all_of, list) and all_of:
        return _convert(_merge_all_of(node, all_of, ctx), ctx, depth + 1)
    any_of = node.get("anyOf", node.get("oneOf"))
    if isinstance(any_of, list) and any_of:
        return _convert_any_of(node, any_of, ctx, depth)
    return _convert_plain(node, ctx, depth)


def _convert_ref(node: Mapping[str, Any], ref: str, ctx: _Ctx, depth: int) -> dict[str, Any]:
    siblings = {k: v for k, v in node.items() if k != "$ref"}
    if ctx.refs.count(ref) >= _MAX_REF_REPEAT:
        cut = dict(_CUT)
        if isinstance(siblings.get("description"), str):
            cut["description"] = siblings["description"]
        return cut
    target = _resolve(ref, ctx.root)
    outer = ctx.refs
    ctx.refs = (*outer, ref)
    try:
        return _convert({**(target or {}), **siblings}, ctx, depth + 1)
    finally:
        ctx.refs = outer


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if not ref.startswith("#"):
        return None
    node: Any = root
    for raw in ref[1:].split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping):
            node = node.get(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node if isinstance(node, Mapping) else None


def _merge_all_of(node: Mapping[str, Any], members: list[Any], ctx: _Ctx) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
    for member in members:
        if not isinstance(member, Mapping):
            continue
        ref = member.get("$ref")
        if isinstance(ref, str) and ctx.refs.count(ref) < _MAX_REF_REPEAT:
            member = {**(_resolve(ref, ctx.root) or {}), **member}
            del member["$ref"]
        for key, value in member.items():
            if key == "properties" and isinstance(value, Mapping):
                merged["properties"] = {**_mapping(merged.get("properties")), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = [*_list(merged.get("required")), *value]
            else:
                merged[key] = value
    return merged


def _convert_any_of(
    node: Mapping[str, Any], members: list[Any], ctx: _Ctx, depth: int
) -> dict[str, Any]:
    parent = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
    if all(isinstance(m, Mapping) and m and m.keys() <= _CONSTRAINT_ONLY for m in members):
        # "one of these fields is required": Gemini has no typeless branches to say it.
        return _convert(parent, ctx, depth + 1)
    real = [m for m in members if isinstance(m, Mapping) and not _is_null(m)]
    if len(real) < len(members):
        parent["nullable"] = True
    if not real:
        return _convert_plain({**parent, "type": "null"}, ctx, depth)
    if len(real) == 1:
        return _convert({**real[0], **parent}, ctx, depth + 1)
    # Type-specific keys on the parent only make sense inside the branches.
    shared = {k: v for k, v in parent.items() if k in _ALL_TYPE_KEYS}
    out = _generic(parent)
    out["anyOf"] = [_convert({**shared, **m}, ctx, depth + 1) for m in real]
    return out


def _is_null(member: Mapping[str, Any]) -> bool:
    return member.get("type") == "null" or member.get("type") == ["null"]


def _convert_plain(node: Mapping[str, Any], ctx: _Ctx, depth: int) -> dict[str, Any]:
    node = dict(node)
    types, nullable = _types(node.get("type"))
    if nullable:
        node["nullable"] = True
    enum = [node["const"]] if "const" in node else node.get("enum")
    if isinstance(enum, list) and enum:
        if None in enum:
            node["nullable"] = True
        node["enum"] = [v if isinstance(v, str) else json.dumps(v) for v in enum if v is not None]
        types = ["string"] if node["enum"] else types
    else:
        node.pop("enum", None)
    if not types:
        types = _infer_type(node)
    if len(types) > 1:
        rest = {k: v for k, v in node.items() if k not in _GENERIC}
        out = _generic(node)
        out["anyOf"] = [_convert_plain({**rest, "type": t}, ctx, depth + 1) for t in types]
        return out
    out = _generic(node)
    if types:
        out["type"] = types[0]
        _add_type_keys(out, node, types[0], ctx, depth)
    return out


def _types(raw: object) -> tuple[list[str], bool]:
    listed = raw if isinstance(raw, list) else [raw]
    names = list(dict.fromkeys(t for t in listed if isinstance(t, str) and t in _TYPES))
    real = [t for t in names if t != "null"]
    if names and not real:
        return ["null"], False
    return real, "null" in names


def _infer_type(node: Mapping[str, Any]) -> list[str]:
    if "properties" in node:
        return ["object"]
    if "items" in node or "prefixItems" in node:
        return ["array"]
    return []


def _generic(node: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("title", "description"):
        if isinstance(node.get(key), str):
            out[key] = node[key]
    if node.get("nullable") is True:
        out["nullable"] = True
    if "default" in node:
        out["default"] = copy.deepcopy(node["default"])
    examples = node.get("examples")
    if "example" in node:
        out["example"] = copy.deepcopy(node["example"])
    elif isinstance(examples, list) and examples:
        out["example"] = copy.deepcopy(examples[0])
    return out


def _add_type_keys(
    out: dict[str, Any], node: Mapping[str, Any], kind: str, ctx: _Ctx, depth: int
) -> None:
    allowed = _TYPE_KEYS[kind]
    fmt = node.get("format")
    if "format" in allowed and fmt in _FORMATS[kind]:
        out["format"] = fmt
    if "enum" in allowed and isinstance(node.get("enum"), list) and node["enum"]:
        out["enum"] = list(node["enum"])
    if "pattern" in allowed and isinstance(node.get("pattern"), str):
        out["pattern"] = node["pattern"]
    for key in _COUNTS:
        value = node.get(key)
        if key in allowed and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            out[key] = value
    if "minimum" in allowed:
        _add_bounds(out, node)
    if kind == "array":
        out["items"] = _items(node, ctx, depth)
    elif kind == "object":
        _add_properties(out, node, ctx, depth)


def _add_bounds(out: dict[str, Any], node: Mapping[str, Any]) -> None:
    # Draft-4 booleans `exclusiveMinimum: true` only tighten `minimum`; keep that bound.
    for key, exclusive, pick in (
        ("minimum", "exclusiveMinimum", max),
        ("maximum", "exclusiveMaximum", min),
    ):
        bounds = [v for v in (node.get(key), node.get(exclusive)) if _is_number(v)]
        if bounds:
            out[key] = pick(bounds)


def _items(node: Mapping[str, Any], ctx: _Ctx, depth: int) -> dict[str, Any]:
    items = node.get("items")
    if isinstance(items, Mapping):
        return _convert(items, ctx, depth + 1)
    tuple_items = items if isinstance(items, list) else node.get("prefixItems")
    if isinstance(tuple_items, list):
        members = [m for m in tuple_items if isinstance(m, Mapping)]
        if len(members) == 1:
            return _convert(members[0], ctx, depth + 1)
        if members:
            return _convert({"anyOf": members}, ctx, depth + 1)
    return {}


def _add_properties(out: dict[str, Any], node: Mapping[str, Any], ctx: _Ctx, depth: int) -> None:
    props = node.get("properties")
    if isinstance(props, Mapping) and props:
        out["properties"] = {
            str(name): _convert(sub, ctx, depth + 1) for name, sub in props.items()
        }
    required = node.get("required")
    if isinstance(required, list) and "properties" in out:
        names = dict.fromkeys(r for r in required if isinstance(r, str))
        kept = [r for r in names if r in out["properties"]]
        if kept:
            out["required"] = kept


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
