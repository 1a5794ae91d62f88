"""OpenAI chat.completions body -> Gemini `GenerateContentRequest` (pure, camelCase JSON).

Messages are converted by `messages.py`, tool parameter schemas by `schema.py`; this module
validates and maps the rest. Decisions where the mapping offers a choice:

- `tools[].function.parameters` is omitted when absent or without properties; names must
  match Gemini's rule, capped at 64 characters; duplicates are a 400. Legacy `functions`
  are added to the same declarations; `tool_choice` wins over legacy `function_call`.
- A `web_search`/`web_search_preview` tool or `web_search_options` -> `{"googleSearch": {}}`;
  combined with function tools it is a 400 (Gemini 2.x rejects the mix). Other tool types
  and `tool_choice: {"type": "allowed_tools"}` are a 400.
- `tool_choice` `auto`/`none` without function tools sends no `toolConfig`.
- `n` = 1, zero penalties and `stop` empty strings are not sent. `seed` must fit int32.

Dropped silently: `user`, `metadata`, `store`, `service_tier`, `stream_options`, `stream`,
`model`, `parallel_tool_calls`, `logit_bias`, `prediction`, `modalities`, `audio`, and any
unknown top-level field (OpenAI clients add vendor fields).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from trioproxy.errors import InvalidRequest
from trioproxy.providers.gemini.fields import integer, number, show
from trioproxy.providers.gemini.messages import convert_messages
from trioproxy.providers.gemini.schema import to_gemini_schema
from trioproxy.providers.gemini.thinking import G, google, safety, thinking

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
_SEARCH_TOOLS = ("web_search", "web_search_preview")
_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_INT32 = 2**31 - 1


def chat_to_generate_request(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """Translate a validated-as-you-go OpenAI chat.completions body into a Gemini
    GenerateContentRequest (camelCase JSON dict). `model` is the bare Gemini model id
    (e.g. "gemini-2.5-flash", already resolved from aliases); used for model-specific rules.
    Raises InvalidRequest for anything the client got wrong."""
    system, contents = convert_messages(body.get("messages"), model)
    out: dict[str, Any] = {}
    if system:
        out["systemInstruction"] = {"parts": system}
    out["contents"] = contents
    tools, names = _tools(body)
    if tools:
        out["tools"] = tools
    tool_config = _tool_config(body, names)
    if tool_config:
        out["toolConfig"] = {"functionCallingConfig": tool_config}
    extensions = google(body)
    generation = _generation_config(body, model)
    thinking_config = thinking(body, extensions, model)
    if thinking_config:
        generation["thinkingConfig"] = thinking_config
    if generation:
        out["generationConfig"] = generation
    if extensions.get("safety_settings") is not None:
        out["safetySettings"] = safety(extensions["safety_settings"])
    if extensions.get("cached_content") is not None:
        if not isinstance(extensions["cached_content"], str):
            raise InvalidRequest("'cached_content' must be a string.", param=G + "cached_content")
        out["cachedContent"] = extensions["cached_content"]
    return out


# --- tools ------------------------------------------------------------------------------


def _tools(body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], set[str]]:
    declarations: list[dict[str, Any]] = []
    names: set[str] = set()
    search = body.get("web_search_options") is not None
    for key in ("tools", "functions"):
        listed = body.get(key)
        if listed is None:
            continue
        if not isinstance(listed, list):
            raise InvalidRequest(f"'{key}' must be an array.", param=key)
        for i, item in enumerate(listed):
            at = f"{key}[{i}]"
            if key == "tools":
                kind = item.get("type") if isinstance(item, Mapping) else None
                if kind in _SEARCH_TOOLS:
                    search = True
                    continue
                if kind != "function":
                    raise InvalidRequest(
                        f"Unsupported tool type {kind!r}; Gemini supports 'function' tools "
                        "and web search.",
                        param=f"{at}.type",
                    )
                item, at = item.get("function"), f"{at}.function"
            declaration = _declaration(item, at)
            if declaration["name"] in names:
                raise InvalidRequest(
                    f"Duplicate function name {declaration['name']!r}.", param=f"{at}.name"
                )
            names.add(declaration["name"])
            declarations.append(declaration)
    tools: list[dict[str, Any]] = []
    if declarations:
        tools.append({"functionDeclarations": declarations})
    if search:
        if declarations:
            raise InvalidRequest(
                "Web search cannot be combined with function tools on Gemini.", param="tools"
            )
        tools.append({"googleSearch": {}})
    return tools, names


def _declaration(function: object, at: str) -> dict[str, Any]:
    if not isinstance(function, Mapping):
        raise InvalidRequest(f"'{at}' must be an object.", param=at)
    name = function.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidRequest(
            f"Invalid function name {show(name)}: it must start with a letter or '_', use "
            "only a-z, A-Z, 0-9, '_', '.', ':' or '-', and be at most 64 characters.",
            param=f"{at}.name",
        )
    declaration: dict[str, Any] = {"name": name}
    description = function.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise InvalidRequest(f"'{at}.description' must be a string.", param=f"{at}.description")
        declaration["description"] = description
    parameters = function.get("parameters")
    if parameters is not None:
        if not isinstance(parameters, Mapping):
            raise InvalidRequest(f"'{at}.parameters' must be an object.", param=f"{at}.parameters")
        schema = to_gemini_schema(parameters)
        if schema.get("type", "object") != "object" or "anyOf" in schema:
            raise InvalidRequest(
                f"'{at}.parameters' must be a JSON Schema of type object.",
                param=f"{at}.parameters",
            )
        if schema.get("properties"):
            declaration["parameters"] = schema
    return declaration


def _tool_config(body: Mapping[str, Any], names: set[str]) -> dict[str, Any] | None:
    key = "tool_choice" if body.get("tool_choice") is not None else "function_call"
    choice = body.get(key)
    if choice is None:
        return None
    if isinstance(choice, str) and choice in _MODES:
        if not names and choice == "required":
            raise InvalidRequest(f"'{key}' is 'required' but no functions were given.", param=key)
        return {"mode": _MODES[choice]} if names else None
    if isinstance(choice, Mapping) and choice.get("type", "function") == "function":
        # tool_choice: {"type": "function", "function": {"name"}}; legacy: {"name"}.
        target = choice.get("function") if key == "tool_choice" else choice
        name = target.get("name") if isinstance(target, Mapping) else None
        at = f"{key}.function.name" if key == "tool_choice" else f"{key}.name"
        if not isinstance(name, str) or name not in names:
            raise InvalidRequest(f"'{at}' {show(name)} names no declared function.", param=at)
        return {"mode": "ANY", "allowedFunctionNames": [name]}
    raise InvalidRequest(
        f"Invalid '{key}': expected 'auto', 'none', 'required' or a function choice.", param=key
    )


# --- generationConfig -------------------------------------------------------------------


def _generation_config(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = integer(body, "max_tokens", 1)
    max_completion = integer(body, "max_completion_tokens", 1)
    limit = max_completion if max_completion is not None else max_tokens
    if limit is not None:
        config["maxOutputTokens"] = limit
    for key, field, high in (("temperature", "temperature", 2), ("top_p", "topP", 1)):
        value = number(body, key, 0, high)
        if value is not None:
            config[field] = value
    top_k = integer(body, "top_k", 1)
    if top_k is not None:
        config["topK"] = top_k
    n = integer(body, "n", 1, 8)
    if n is not None and n > 1:
        if body.get("stream") is True:
            raise InvalidRequest("'n' greater than 1 is not supported when streaming.", param="n")
        config["candidateCount"] = n
    stop = _stop(body.get("stop"))
    if stop:
        config["stopSequences"] = stop
    seed = integer(body, "seed", -_INT32 - 1, _INT32)
    if seed is not None:
        config["seed"] = seed
    for key, field in (
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        value = number(body, key, -2, 2)
        # Gemini 3 rejects penalty parameters; a zero penalty means nothing anywhere.
        if value and not model.startswith("gemini-3"):
            config[field] = value
    logprobs, top_logprobs = body.get("logprobs"), integer(body, "top_logprobs", 0, 20)
    if logprobs is not None and not isinstance(logprobs, bool):
        raise InvalidRequest("'logprobs' must be a boolean.", param="logprobs")
    if top_logprobs is not None and logprobs is not True:
        raise InvalidRequest("'top_logprobs' requires 'logprobs' to be true.", param="top_logprobs")
    if logprobs:
        config["responseLogprobs"] = True
        if top_logprobs:
            config["logprobs"] = top_logprobs
    config |= _response_format(body.get("response_format"))
    return config


def _stop(stop: object) -> list[str]:
    listed = [stop] if isinstance(stop, str) else stop
    if listed is None:
        return []
    if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
        raise InvalidRequest("'stop' must be a string or an array of strings.", param="stop")
    if len(listed) > 5:
        raise InvalidRequest("'stop' accepts at most 5 sequences on Gemini.", param="stop")
    return [s for s in listed if s]


def _response_format(fmt: object) -> dict[str, Any]:
    if fmt is None:
        return {}
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind == "text":
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind != "json_schema":
        raise InvalidRequest(
            "'response_format.type' must be 'text', 'json_object' or 'json_schema'.",
            param="response_format.type",
        )
    spec = fmt.get("json_schema") if isinstance(fmt, Mapping) else None
    if not isinstance(spec, Mapping):
        raise InvalidRequest(
            "'response_format.json_schema' must be an object.", param="response_format.json_schema"
        )
    schema = spec.get("schema")
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    if schema is None:
        return out
    if not isinstance(schema, Mapping):
        raise InvalidRequest(
            "'response_format.json_schema.schema' must be an object.",
            param="response_format.json_schema.schema",
        )
    # responseJsonSchema takes full JSON Schema ($ref, additionalProperties) but not these.
    out["responseJsonSchema"] = {
        k: copy.deepcopy(v) for k, v in schema.items() if k not in ("$schema", "strict")
    }
    return out
