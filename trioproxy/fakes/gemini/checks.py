"""Semantic checks after the structural pass: the '* Request.path: text' family of 400s."""

from __future__ import annotations

import re
from typing import Any

from . import errors
from .catalog import ModelInfo

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$")
_MIME_TYPES = (
    "text/plain",
    "application/json",
    "application/xml",
    "application/yaml",
    "text/x.enum",
)
_DUMMY_SIGNATURES = ("skip_thought_signature_validator", "context_engineering_is_the_way_to_go")


def check_generate(model: ModelInfo, req: dict[str, Any], prefix: str) -> None:
    """Raise the service's 400 for a request that is well-formed but invalid."""
    problems: list[str] = []
    contents = req.get("contents", [])
    if not contents:
        raise errors.invalid_argument(f"* {prefix}.contents: contents is not specified\n")
    for i, content in enumerate(contents):
        role = content.get("role", "user")
        if role not in ("user", "model", ""):
            raise errors.invalid_argument("Please use a valid role: user, model.")
        parts = content.get("parts", [])
        if not parts:
            problems.append(f"* {prefix}.contents[{i}].parts: contents.parts must not be empty.\n")
        for j, part in enumerate(parts):
            if not set(part) - {
                "thought",
                "thoughtSignature",
                "videoMetadata",
                "partMetadata",
                "mediaResolution",
            }:
                problems.append(
                    f"* {prefix}.contents[{i}].parts[{j}].data: required oneof field 'data' must"
                    " have one initialized field\n"
                )
    for t, tool in enumerate(req.get("tools", [])):
        for d, decl in enumerate(tool.get("functionDeclarations", [])):
            where = f"{prefix}.tools[{t}].function_declarations[{d}]"
            if not _NAME.match(str(decl.get("name", ""))):
                problems.append(
                    f"* {where}.name: Invalid function name. Must start with a letter or an"
                    " underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and"
                    " dashes, with a maximum length of 128.\n"
                )
            params = decl.get("parameters")
            if params is not None:
                problems.extend(_schema_problems(params, f"{where}.parameters"))
    gen = req.get("generationConfig", {})
    mime = gen.get("responseMimeType")
    if mime is not None and mime not in _MIME_TYPES:
        problems.append(
            f"* {prefix}.generation_config.response_mime_type: allowed mimetypes are"
            " `text/plain`, `application/json`, `application/xml`, `application/yaml` and"
            " `text/x.enum`.\n"
        )
    if problems:
        raise errors.invalid_argument("".join(problems))
    budget = gen.get("thinkingConfig", {}).get("thinkingBudget")
    if budget == 0 and model.must_think and not model.gemini3:
        raise errors.invalid_argument(
            "Budget 0 is invalid. This model only works in thinking mode."
        )
    if model.gemini3:
        check_signatures(contents)


def _schema_problems(schema: dict[str, Any], where: str) -> list[str]:
    out = []
    if str(schema.get("type", "")).upper() == "OBJECT" and schema.get("properties") == {}:
        out.append(f"* {where}.properties: should be non-empty for OBJECT type\n")
    for name, sub in (schema.get("properties") or {}).items():
        out.extend(_schema_problems(sub, f"{where}.properties[{name}]"))
    if isinstance(schema.get("items"), dict):
        out.extend(_schema_problems(schema["items"], f"{where}.items"))
    return out


def _current_turn_start(contents: list[dict[str, Any]]) -> int:
    # The current turn begins at the last user content that is not just function responses.
    for i in range(len(contents) - 1, -1, -1):
        content = contents[i]
        if content.get("role", "user") != "user":
            continue
        parts = content.get("parts", [])
        if any("functionResponse" not in p for p in parts):
            return i
    return 0


def check_signatures(contents: list[dict[str, Any]]) -> None:
    """Gemini 3: the first functionCall of every model step in this turn needs its signature."""
    for i in range(_current_turn_start(contents), len(contents)):
        content = contents[i]
        if content.get("role") != "model":
            continue
        calls = [p for p in content.get("parts", []) if "functionCall" in p]
        if calls and not calls[0].get("thoughtSignature"):
            raise errors.missing_thought_signature(calls[0]["functionCall"].get("name", ""), i + 1)
