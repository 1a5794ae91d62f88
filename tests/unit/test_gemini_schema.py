from __future__ import annotations

import copy
from typing import Any

import pytest

from trioproxy.providers.gemini.schema import to_gemini_schema


def test_strips_keywords_gemini_rejects() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "urn:x",
        "type": "object",
        "strict": True,
        "additionalProperties": False,
        "propertyNames": {"pattern": "^[a-z]+$"},
        "patternProperties": {"^x": {"type": "string"}},
        "unevaluatedProperties": False,
        "dependentRequired": {"a": ["b"]},
        "if": {"properties": {"a": {"const": 1}}},
        "then": {"required": ["b"]},
        "else": {},
        "not": {"required": ["c"]},
        "properties": {
            "a": {"type": "number", "multipleOf": 0.5, "exclusiveMinimum": 0, "maximum": 9},
            "b": {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
        },
    }
    assert to_gemini_schema(schema) == {
        "type": "object",
        "properties": {
            "a": {"type": "number", "minimum": 0, "maximum": 9},
            "b": {"type": "array", "items": {"type": "string"}},
        },
    }


def test_keeps_every_supported_key() -> None:
    schema = {
        "type": "object",
        "title": "T",
        "description": "D",
        "minProperties": 1,
        "maxProperties": 3,
        "properties": {
            "s": {
                "type": "string",
                "format": "date-time",
                "minLength": 1,
                "maxLength": 9,
                "pattern": "^a",
                "default": "a",
                "example": "ab",
            },
            "i": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 5},
            "f": {"type": "number", "format": "double"},
            "l": {"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 2},
            "e": {"type": "string", "enum": ["x", "y"]},
        },
        "required": ["s", "i"],
    }
    assert to_gemini_schema(schema) == schema


def test_drops_formats_gemini_does_not_support() -> None:
    schema = {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email"},
            "uri": {"type": "string", "format": "uri"},
            "n": {"type": "integer", "format": "float"},
        },
    }
    assert to_gemini_schema(schema)["properties"] == {
        "email": {"type": "string"},
        "uri": {"type": "string"},
        "n": {"type": "integer"},
    }


def test_nested_ref_into_defs_and_definitions() -> None:
    schema = {
        "type": "object",
        "properties": {
            "owner": {"$ref": "#/$defs/Person", "description": "who owns it"},
            "tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}},
        },
        "$defs": {
            "Person": {
                "type": "object",
                "description": "a person",
                "properties": {"address": {"$ref": "#/$defs/Address"}},
                "additionalProperties": False,
            },
            "Address": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        "definitions": {"Tag": {"type": "string", "enum": ["a", "b"]}},
    }
    assert to_gemini_schema(schema) == {
        "type": "object",
        "properties": {
            "owner": {
                "type": "object",
                "description": "who owns it",  # a sibling of $ref wins over the target
                "properties": {
                    "address": {"type": "object", "properties": {"city": {"type": "string"}}}
                },
            },
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
        },
    }


def test_recursive_ref_is_cut_to_a_plain_object() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "string"},
                    "child": {"$ref": "#/$defs/Node"},
                },
            }
        },
    }
    leaf = {"type": "object"}
    level2 = {"type": "object", "properties": {"value": {"type": "string"}, "child": leaf}}
    level1 = {"type": "object", "properties": {"value": {"type": "string"}, "child": level2}}
    assert to_gemini_schema(schema) == level1


def test_root_self_reference_terminates() -> None:
    schema = {"type": "object", "properties": {"next": {"$ref": "#"}}}
    out = to_gemini_schema(schema)
    # The root is not reached through a ref, so "#" is expanded twice below it, then cut.
    second = out["properties"]["next"]["properties"]["next"]
    assert second["properties"]["next"] == {"type": "object"}


def test_ref_fan_out_bomb_terminates() -> None:
    defs: dict[str, Any] = {"D30": {"type": "string"}}
    for i in range(30):
        defs[f"D{i}"] = {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/D{i + 1}"}, "b": {"$ref": f"#/$defs/D{i + 1}"}},
        }
    out = to_gemini_schema({"$ref": "#/$defs/D0", "$defs": defs})
    assert out["type"] == "object"


def test_unresolvable_ref_becomes_any() -> None:
    schema = {
        "type": "object",
        "properties": {"x": {"$ref": "https://example.com/s.json"}, "y": {"$ref": "#/nope"}},
    }
    assert to_gemini_schema(schema)["properties"] == {"x": {}, "y": {}}


def test_nullable_via_type_list() -> None:
    schema = {"type": "object", "properties": {"x": {"type": ["string", "null"], "maxLength": 3}}}
    assert to_gemini_schema(schema)["properties"]["x"] == {
        "type": "string",
        "nullable": True,
        "maxLength": 3,
    }


def test_several_types_become_any_of_with_type_specific_keys_in_branches() -> None:
    schema = {
        "description": "d",
        "type": ["array", "string", "null"],
        "items": {"type": "integer"},
        "minLength": 2,
    }
    assert to_gemini_schema(schema) == {
        "description": "d",
        "nullable": True,
        "anyOf": [
            {"type": "array", "items": {"type": "integer"}},
            {"type": "string", "minLength": 2},
        ],
    }


def test_nullable_via_any_of_with_one_member_merges_it() -> None:
    schema = {
        "description": "maybe a person",
        "anyOf": [{"$ref": "#/$defs/P"}, {"type": "null"}],
        "$defs": {"P": {"type": "object", "properties": {"n": {"type": "string"}}}},
    }
    assert to_gemini_schema(schema) == {
        "type": "object",
        "description": "maybe a person",
        "nullable": True,
        "properties": {"n": {"type": "string"}},
    }


def test_any_of_and_one_of_keep_branches_and_fold_parent_items() -> None:
    schema = {
        "oneOf": [{"type": "array"}, {"type": "string", "const": "all"}],
        "items": {"type": "string"},
    }
    assert to_gemini_schema(schema) == {
        "anyOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "string", "enum": ["all"]},
        ]
    }


def test_required_only_any_of_is_dropped() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
    }
    assert to_gemini_schema(schema) == {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
    }


def test_all_of_members_are_merged() -> None:
    schema = {
        "allOf": [
            {"$ref": "#/$defs/Base"},
            {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
        ],
        "description": "merged",
        "$defs": {
            "Base": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
        },
    }
    assert to_gemini_schema(schema) == {
        "type": "object",
        "description": "merged",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }


def test_const_becomes_enum() -> None:
    assert to_gemini_schema({"type": "string", "const": "x"}) == {"type": "string", "enum": ["x"]}


def test_non_string_enums_are_stringified_and_typed_string() -> None:
    assert to_gemini_schema({"type": "integer", "enum": [1, 2, 3]}) == {
        "type": "string",
        "enum": ["1", "2", "3"],
    }
    assert to_gemini_schema({"enum": [True, 1.5, "a", None]}) == {
        "type": "string",
        "nullable": True,
        "enum": ["true", "1.5", "a"],
    }
    assert to_gemini_schema({"const": 7}) == {"type": "string", "enum": ["7"]}


def test_required_is_pruned_to_declared_properties() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a", "ghost", "a", 3],
    }
    assert to_gemini_schema(schema) == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
    }
    assert to_gemini_schema({"type": "object", "required": ["x"]}) == {"type": "object"}


def test_type_specific_keys_only_with_their_type() -> None:
    schema = {
        "type": "string",
        "properties": {"a": {}},
        "items": {},
        "minimum": 3,
        "required": ["a"],
    }
    assert to_gemini_schema(schema) == {"type": "string"}


def test_array_without_items_gets_empty_items_and_tuples_fold() -> None:
    assert to_gemini_schema({"type": "array"}) == {"type": "array", "items": {}}
    assert to_gemini_schema(
        {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}
    ) == {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}
    assert to_gemini_schema({"type": "array", "items": [{"type": "integer"}]}) == {
        "type": "array",
        "items": {"type": "integer"},
    }


def test_type_inferred_when_absent() -> None:
    assert to_gemini_schema({"properties": {"a": {"type": "string"}}}) == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
    }
    assert to_gemini_schema({"items": {"type": "string"}}) == {
        "type": "array",
        "items": {"type": "string"},
    }
    assert to_gemini_schema({"description": "anything", "minLength": 2}) == {
        "description": "anything"
    }


def test_examples_become_first_example_and_exclusive_bounds_tighten() -> None:
    schema = {
        "type": "integer",
        "examples": [4, 5],
        "minimum": 1,
        "exclusiveMinimum": 2,
        "exclusiveMaximum": 10,
        "maximum": 20,
    }
    assert to_gemini_schema(schema) == {
        "type": "integer",
        "example": 4,
        "minimum": 2,
        "maximum": 10,
    }


def test_draft4_boolean_exclusive_minimum_is_dropped() -> None:
    schema = {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    assert to_gemini_schema(schema) == {"type": "number", "minimum": 0}


def test_empty_properties_are_omitted_and_free_form_objects_stay_objects() -> None:
    schema = {"type": "object", "properties": {}, "additionalProperties": {"type": "string"}}
    assert to_gemini_schema(schema) == {"type": "object"}


@pytest.mark.parametrize(
    "junk",
    [
        {"type": 5},
        {"type": "bogus", "description": 3},
        {"properties": "nope"},
        {"properties": {"a": 1, "b": None}},
        {"anyOf": "x"},
        {"allOf": [1, None]},
        {"items": 3, "type": "array"},
        {"type": [{"x": 1}, "string"]},
        {"minLength": True, "type": "string"},
    ],
)
def test_total_on_junk(junk: dict[str, Any]) -> None:
    out = to_gemini_schema(junk)
    assert isinstance(out, dict)


def test_input_is_not_mutated_and_output_shares_nothing() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "x": {"type": ["string", "null"], "default": {"k": [1]}, "enum": ["a", None]},
            "y": {"$ref": "#/$defs/Y"},
            "z": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "required": ["x", "nope"],
        "$defs": {"Y": {"type": "object", "properties": {"v": {"const": 1}}}},
    }
    before = copy.deepcopy(schema)
    out = to_gemini_schema(schema)
    assert schema == before
    out["properties"]["x"]["default"]["k"].append(2)
    out["properties"]["x"]["enum"].append("b")
    assert schema == before
