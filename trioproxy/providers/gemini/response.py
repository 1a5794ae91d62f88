"""Gemini `GenerateContentResponse` → OpenAI `chat.completion` (reference 6.4). Sans-IO.

Part rules, shared with the stream translator:

- `thought: true` text goes to `reasoning_content`, never into `content`;
- other non-empty text parts are concatenated into `content`;
- each `functionCall` part becomes one `tool_calls[]` entry whose id carries the Gemini call
  id and the part's `thoughtSignature` (see `toolcalls.py`), with the signature repeated as
  `extra_content.google.thought_signature` the way Google's own compat endpoint does;
- empty-text parts (Gemini 3's trailing signature carriers) and parts with no OpenAI
  counterpart (inline data, code execution) are dropped.

`content` is null when the choice has tool calls and no text, and a string otherwise: the
OpenAI SDK (and `beta.chat.completions.parse`) expect exactly that, and "" for an empty
answer (e.g. MAX_TOKENS spent on thinking) keeps `message.content` a string for callers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from trioproxy.providers.gemini.toolcalls import encode_tool_call_id
from trioproxy.providers.gemini.usage import usage_from_gemini

__all__ = [
    "generate_response_to_chat",
    "logprobs_to_openai",
    "map_finish_reason",
    "tool_call_from_part",
]

_CONTENT_FILTER = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "IMAGE_OTHER",
        "NO_IMAGE",
        "LANGUAGE",
        "OTHER",
        "ESCALATION",
        "MODEL_ARMOR",
    }
)


def map_finish_reason(reason: str | None, *, tool_calls: bool = False) -> str | None:
    """The OpenAI finish_reason for a Gemini `finishReason`; None while there is none.

    `tool_calls=True` (the choice produced tool calls) wins over any reason, because Gemini
    reports a function call as plain STOP and OpenAI clients only run tools on "tool_calls".
    Unknown and tool-error reasons (MALFORMED_FUNCTION_CALL, ...) map to "stop".
    """
    if tool_calls:
        return "tool_calls"
    if reason is None:
        return None
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _CONTENT_FILTER:
        return "content_filter"
    return "stop"


def tool_call_from_part(part: Mapping[str, Any]) -> dict[str, Any] | None:
    """The OpenAI tool call for a part holding a `functionCall`, else None."""
    call = part.get("functionCall")
    if not isinstance(call, Mapping):
        return None
    signature = part.get("thoughtSignature") or None
    tool_call: dict[str, Any] = {
        "id": encode_tool_call_id(call.get("id") or None, signature),
        "type": "function",
        "function": {
            "name": call.get("name") or "",
            "arguments": json.dumps(call.get("args") or {}),
        },
    }
    if signature:
        tool_call["extra_content"] = {"google": {"thought_signature": signature}}
    return tool_call


def _token_logprob(entry: Mapping[str, Any]) -> dict[str, Any]:
    token = entry.get("token") or ""
    return {
        "token": token,
        "logprob": entry.get("logProbability", 0.0),
        "bytes": list(token.encode("utf-8")),
    }


def logprobs_to_openai(result: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Gemini `logprobsResult` → OpenAI choice `logprobs`; None when absent."""
    if not result:
        return None
    tops: Sequence[Mapping[str, Any]] = result.get("topCandidates") or ()
    content = []
    for i, chosen in enumerate(result.get("chosenCandidates") or ()):
        item = _token_logprob(chosen)
        alternatives = (tops[i].get("candidates") or ()) if i < len(tops) else ()
        item["top_logprobs"] = [_token_logprob(alt) for alt in alternatives]
        content.append(item)
    return {"content": content, "refusal": None}


def _choice(candidate: Mapping[str, Any], position: int) -> dict[str, Any]:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    content = candidate.get("content") or {}
    for part in content.get("parts") or ():
        call = tool_call_from_part(part)
        if call is not None:
            calls.append(call)
            continue
        text = part.get("text")
        if text:
            (thoughts if part.get("thought") else texts).append(text)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
    }
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if calls:
        message["tool_calls"] = calls
    finish = map_finish_reason(candidate.get("finishReason"), tool_calls=bool(calls))
    return {
        "index": candidate.get("index", position),
        "message": message,
        "logprobs": logprobs_to_openai(candidate.get("logprobsResult")),
        # A unary candidate without a reason finished normally as far as anyone can tell.
        "finish_reason": finish or "stop",
    }


def _blocked_choice() -> dict[str, Any]:
    return {
        "index": 0,
        "message": {"role": "assistant", "content": None},
        "logprobs": None,
        "finish_reason": "content_filter",
    }


def generate_response_to_chat(
    resp: Mapping[str, Any], *, model: str, completion_id: str, created: int
) -> dict[str, Any]:
    """A full OpenAI `chat.completion` for a unary Gemini `generateContent` response."""
    candidates = resp.get("candidates") or ()
    if candidates:
        choices = sorted(
            (_choice(c, i) for i, c in enumerate(candidates)), key=lambda c: c["index"]
        )
    elif (resp.get("promptFeedback") or {}).get("blockReason"):
        choices = [_blocked_choice()]
    else:
        # No candidates and no stated block: still one (empty) choice, because clients index
        # `choices[0]` unconditionally.
        choices = [_choice({}, 0)]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage_from_gemini(resp.get("usageMetadata")).to_openai(),
    }
