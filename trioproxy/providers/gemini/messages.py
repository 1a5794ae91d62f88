"""OpenAI chat `messages` -> Gemini `systemInstruction` parts and `contents` (pure).

- system and developer messages, wherever they appear, become `systemInstruction` parts in
  order. A conversation of system messages only is sent as one user turn instead, because
  Gemini rejects empty `contents`.
- user -> role `user`; assistant -> role `model` (text, then one `functionCall` part per
  tool call); tool and legacy `function` messages -> `functionResponse` parts in a role
  `user` turn. Consecutive turns of the same kind are merged, so consecutive tool messages
  give one turn; a function-response turn is not merged with a user text turn, to keep it
  the clean answer to the preceding call turn.
- Gemini pairs responses with calls by name, so a tool message's `tool_call_id` must match
  a tool call of an earlier assistant message, whose function name it takes.
- `functionCall.id`/`functionResponse.id` are sent only for ids Gemini produced (the codec's
  `gcall_` ids); `thoughtSignature` comes from the tool call's
  `extra_content.google.thought_signature`, else from the id. For `gemini-3*` the first
  call of each model turn gets the documented dummy signature when none is known.
- An assistant message with empty text and no tool calls is dropped (clients send these as
  placeholders; Gemini rejects empty parts). An empty user message is a 400.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trioproxy.errors import InvalidRequest
from trioproxy.providers.gemini.fields import show, string
from trioproxy.providers.gemini.media import audio, file, media_url
from trioproxy.providers.gemini.toolcalls import DUMMY_SIGNATURE, decode_tool_call_id

_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    gemini_id: str | None


def convert_messages(
    messages: object, model: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (systemInstruction parts, contents) for OpenAI `messages`."""
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    system: list[dict[str, Any]] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []  # (kind, parts); kind user|model|fn
    calls: dict[str, _Call] = {}
    for i, msg in enumerate(messages):
        at = f"messages[{i}]"
        if not isinstance(msg, Mapping):
            raise InvalidRequest(f"'{at}' must be an object.", param=at)
        role = msg.get("role")
        if role not in _ROLES:
            raise InvalidRequest(
                f"Invalid role {show(role)} in '{at}'; expected one of {', '.join(_ROLES)}.",
                param=f"{at}.role",
            )
        if role in ("system", "developer"):
            system += _text_parts(_required(msg, "content", at), f"{at}.content")
        elif role == "user":
            parts = _user_parts(_required(msg, "content", at), f"{at}.content")
            if not parts:
                raise InvalidRequest(f"'{at}.content' must not be empty.", param=f"{at}.content")
            _append(turns, "user", parts)
        elif role == "assistant":
            _append(turns, "model", _assistant_parts(msg, at, calls))
        else:
            _append(turns, "fn", [_function_response(msg, at, calls)])
    contents = [
        {"role": "model" if kind == "model" else "user", "parts": parts} for kind, parts in turns
    ]
    if not contents:
        if not system:
            raise InvalidRequest("'messages' has no non-empty message.", param="messages")
        return [], [{"role": "user", "parts": system}]
    if model.startswith("gemini-3"):
        _add_dummy_signatures(contents)
    return system, contents


def _append(turns: list[tuple[str, list[dict[str, Any]]]], kind: str, parts: list[Any]) -> None:
    if not parts:
        return
    if turns and turns[-1][0] == kind:
        turns[-1][1].extend(parts)
    else:
        turns.append((kind, parts))


def _add_dummy_signatures(contents: list[dict[str, Any]]) -> None:
    for content in contents:
        if content["role"] != "model":
            continue
        first_call = next((p for p in content["parts"] if "functionCall" in p), None)
        if first_call is not None and "thoughtSignature" not in first_call:
            first_call["thoughtSignature"] = DUMMY_SIGNATURE


def _required(msg: Mapping[str, Any], key: str, at: str) -> object:
    value = msg.get(key)
    if value is None:
        raise InvalidRequest(f"Missing required parameter '{at}.{key}'.", param=f"{at}.{key}")
    return value


def _text_parts(content: object, at: str) -> list[dict[str, Any]]:
    """Text-only content (system, developer, tool, assistant): a string or text parts."""
    return [{"text": t} for t in _texts(content, at, ("text",)) if t]


def _texts(content: object, at: str, types: tuple[str, ...]) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise InvalidRequest(f"'{at}' must be a string or an array of parts.", param=at)
    texts = []
    for j, part in enumerate(content):
        kind = _part_type(part, f"{at}[{j}]")
        if kind not in types:
            raise InvalidRequest(
                f"Content part type {show(kind)} is not supported in '{at}'; "
                f"expected {' or '.join(types)}.",
                param=f"{at}[{j}].type",
            )
        texts.append(string(part, kind, f"{at}[{j}]"))
    return texts


def _part_type(part: object, at: str) -> str:
    if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
        raise InvalidRequest(f"'{at}' must be an object with a string 'type'.", param=at)
    kind: str = part["type"]
    return kind


def _user_parts(content: object, at: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest(f"'{at}' must be a string or an array of parts.", param=at)
    parts = []
    for j, part in enumerate(content):
        here = f"{at}[{j}]"
        kind = _part_type(part, here)
        if kind == "text":
            text = string(part, "text", here)
            if text:
                parts.append({"text": text})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            if not isinstance(url, str) or not url:
                raise InvalidRequest(
                    f"'{here}.image_url.url' must be a string.", param=f"{here}.image_url.url"
                )
            parts.append(media_url(url, f"{here}.image_url.url"))
        elif kind == "input_audio":
            parts.append(audio(part.get("input_audio"), f"{here}.input_audio"))
        elif kind == "file":
            parts.append(file(part.get("file"), f"{here}.file"))
        else:
            raise InvalidRequest(
                f"Content part type {show(kind)} is not supported; expected text, "
                "image_url, input_audio or file.",
                param=f"{here}.type",
            )
    return parts


def _assistant_parts(
    msg: Mapping[str, Any], at: str, calls: dict[str, _Call]
) -> list[dict[str, Any]]:
    content, legacy = msg.get("content"), msg.get("function_call")
    tool_calls = [] if msg.get("tool_calls") is None else msg["tool_calls"]
    if not isinstance(tool_calls, list):
        raise InvalidRequest(f"'{at}.tool_calls' must be an array.", param=f"{at}.tool_calls")
    if content is None and not tool_calls and legacy is None:
        raise InvalidRequest(f"'{at}' needs 'content' or 'tool_calls'.", param=f"{at}.content")
    parts = [] if content is None else _text_parts_assistant(content, f"{at}.content")
    parts += [_tool_call(c, f"{at}.tool_calls[{j}]", calls) for j, c in enumerate(tool_calls)]
    if legacy is not None:
        if not isinstance(legacy, Mapping):
            raise InvalidRequest(
                f"'{at}.function_call' must be an object.", param=f"{at}.function_call"
            )
        name = string(legacy, "name", f"{at}.function_call", empty=False)
        args = _arguments(legacy.get("arguments"), f"{at}.function_call.arguments")
        parts.append({"functionCall": {"name": name, "args": args}})
    return parts


def _text_parts_assistant(content: object, at: str) -> list[dict[str, Any]]:
    return [{"text": t} for t in _texts(content, at, ("text", "refusal")) if t]


def _tool_call(call: object, at: str, calls: dict[str, _Call]) -> dict[str, Any]:
    if not isinstance(call, Mapping):
        raise InvalidRequest(f"'{at}' must be an object.", param=at)
    call_id = string(call, "id", at, empty=False)
    if call.get("type", "function") != "function":
        raise InvalidRequest(f"'{at}.type' must be 'function'.", param=f"{at}.type")
    function = call.get("function")
    if not isinstance(function, Mapping):
        raise InvalidRequest(f"'{at}.function' must be an object.", param=f"{at}.function")
    name = string(function, "name", f"{at}.function", empty=False)
    args = _arguments(function.get("arguments"), f"{at}.function.arguments")
    ref = decode_tool_call_id(call_id)
    calls[call_id] = _Call(name, ref.gemini_id)
    fc: dict[str, Any] = {"id": ref.gemini_id} if ref.gemini_id else {}
    fc |= {"name": name, "args": args}
    part: dict[str, Any] = {"functionCall": fc}
    signature = _extra_signature(call) or ref.signature
    if signature:
        part["thoughtSignature"] = signature
    return part


def _extra_signature(call: Mapping[str, Any]) -> str | None:
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, Mapping) else None
    signature = google.get("thought_signature") if isinstance(google, Mapping) else None
    return signature if isinstance(signature, str) and signature else None


def _arguments(raw: object, at: str) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return copy.deepcopy(dict(raw))
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}  # clients send "" for calls without arguments
    if not isinstance(raw, str):
        raise InvalidRequest(f"'{at}' must be a JSON string.", param=at)
    try:
        args = json.loads(raw)
    except ValueError:
        raise InvalidRequest(f"'{at}' is not valid JSON.", param=at) from None
    if not isinstance(args, dict):
        raise InvalidRequest(f"'{at}' must encode a JSON object.", param=at)
    return args


def _function_response(msg: Mapping[str, Any], at: str, calls: dict[str, _Call]) -> dict[str, Any]:
    fr: dict[str, Any] = {}
    if msg.get("role") == "function":  # legacy: paired by name only
        fr["name"] = string(msg, "name", at, empty=False)
    else:
        call_id = string(msg, "tool_call_id", at, empty=False)
        call = calls.get(call_id)
        if call is None:
            raise InvalidRequest(
                f"'{at}.tool_call_id' {show(call_id)} matches no tool call of an earlier "
                "assistant message.",
                param=f"{at}.tool_call_id",
            )
        if call.gemini_id:
            fr["id"] = call.gemini_id
        fr["name"] = call.name
    text = "".join(_texts(_required(msg, "content", at), f"{at}.content", ("text",)))
    fr["response"] = _response_object(text)
    return {"functionResponse": fr}


def _response_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"content": text}
