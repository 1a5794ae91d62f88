"""Deterministic, content-aware "generation": what the model answers, and what it costs.

The answer is derived from the request so a test can predict it exactly:

- plain text: `Echo: <last user text>`; candidate i > 0 appends ` (candidate <i+1>)`;
- tools (declarations present, mode not NONE, last turn without functionResponse): a
  functionCall to every allowed function whose name appears in the last user text, else to the
  first allowed function, with args synthesised from its schema;
- after functionResponse parts: `Tool results: <name> -> <compact json>; ...`;
- JSON mode: a value synthesised from responseJsonSchema / responseSchema, else
  `{"echo": "<last user text>"}`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .catalog import ModelInfo
from .synth import synthesize
from .tokens import count_json, count_request, count_text

# Thinking spend by level, added to the prompt size; dynamic thinking uses the HIGH row.
_LEVEL_BASE = {"MINIMAL": 8, "LOW": 32, "MEDIUM": 64, "HIGH": 128, "XHIGH": 256}
_DYNAMIC_BASE = 96


@dataclass
class Candidate:
    index: int
    thoughts: list[str] = field(default_factory=list)
    text: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    signature: str | None = None
    finish_reason: str = "STOP"
    finish_message: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.thoughts or self.text or self.calls)

    def tokens(self, text: str | None = None, with_calls: bool = True) -> int:
        n = count_text(self.text if text is None else text)
        if with_calls:
            n += sum(count_json(c) for c in self.calls)
        return n


@dataclass
class Plan:
    model_version: str
    response_id: str
    prompt_tokens: int
    prompt_details: dict[str, int]
    thoughts_tokens: int | None
    candidates: list[Candidate]
    trailing_signature: bool  # Gemini 3 streams end with an empty text part holding it


def response_id(seq: int) -> str:
    digest = hashlib.sha256(f"response-{seq}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:17]).decode().rstrip("=")


def signature(rid: str, index: int) -> str:
    digest = hashlib.sha256(f"signature-{rid}-{index}".encode()).digest()
    return base64.b64encode(b"\x12\x0a" + digest).decode()


def call_id(rid: str, index: int, n: int) -> str:
    digest = hashlib.sha256(f"call-{rid}-{index}-{n}".encode()).hexdigest()
    return digest[:8]


def last_user_text(contents: list[dict[str, Any]]) -> str:
    for content in reversed(contents):
        if content.get("role", "user") != "user":
            continue
        texts = [p["text"] for p in content.get("parts", []) if "text" in p]
        if texts:
            return "\n".join(texts)
    return ""


def thinking_tokens(model: ModelInfo, gen: dict[str, Any], prompt_tokens: int) -> int | None:
    if not model.can_think:
        return None
    cfg = gen.get("thinkingConfig", {})
    budget = cfg.get("thinkingBudget")
    level = cfg.get("thinkingLevel")
    if budget == 0 and not model.gemini3:
        return None
    if budget is None and level is None and not model.thinks_by_default:
        return None
    if budget == 0:
        level = "MINIMAL"
    base = _LEVEL_BASE.get(str(level).upper(), _DYNAMIC_BASE) + prompt_tokens
    if budget is not None and budget > 0:
        return min(int(budget), base)
    return base


def _declarations(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for tool in request.get("tools", []) for d in tool.get("functionDeclarations", [])]


def _json_answer(gen: dict[str, Any], text: str) -> str:
    if "responseJsonSchema" in gen:
        value = synthesize(gen["responseJsonSchema"])
    elif "responseSchema" in gen:
        value = synthesize(gen["responseSchema"])
    else:
        value = {"echo": text}
    return json.dumps(value, ensure_ascii=False)


def _cut_at_stop(text: str, stops: list[str]) -> str:
    cut = len(text)
    for stop in stops:
        at = text.find(stop) if stop else -1
        if at != -1:
            cut = min(cut, at)
    return text[:cut]


def plan(model: ModelInfo, request: dict[str, Any], seq: int) -> Plan:
    rid = response_id(seq)
    gen = request.get("generationConfig", {})
    contents = request.get("contents", [])
    per_modality = count_request(request)
    prompt_tokens = sum(per_modality.values())
    thoughts = thinking_tokens(model, gen, prompt_tokens)
    include_thoughts = bool(gen.get("thinkingConfig", {}).get("includeThoughts")) and thoughts
    user_text = last_user_text(contents)
    last_parts = contents[-1].get("parts", []) if contents else []
    responses = [p["functionResponse"] for p in last_parts if "functionResponse" in p]

    decls = _declarations(request)
    fcc = request.get("toolConfig", {}).get("functionCallingConfig", {})
    mode = str(fcc.get("mode", "AUTO"))
    allowed = fcc.get("allowedFunctionNames") or []
    callable_decls = [d for d in decls if not allowed or d.get("name") in allowed]
    chosen: list[dict[str, Any]] = []
    if callable_decls and mode != "NONE" and not responses:
        mentioned = [d for d in callable_decls if d.get("name") and d["name"] in user_text]
        chosen = mentioned or callable_decls[:1]

    mime = gen.get("responseMimeType", "text/plain")
    if responses:
        base_text = "Tool results: " + "; ".join(
            f"{r.get('name', '')} -> {json.dumps(r.get('response', {}), separators=(',', ':'))}"
            for r in responses
        )
    elif mime == "application/json":
        base_text = _json_answer(gen, user_text)
    elif mime == "text/x.enum" and gen.get("responseSchema", {}).get("enum"):
        base_text = str(gen["responseSchema"]["enum"][0])
    else:
        base_text = f"Echo: {user_text}"

    max_out = gen.get("maxOutputTokens")
    spent = thoughts or 0
    candidates: list[Candidate] = []
    for i in range(max(1, int(gen.get("candidateCount") or 1))):
        cand = Candidate(index=i)
        if include_thoughts:
            cand.thoughts = [
                "**Considering the request**\n\n"
                f"The user wrote {json.dumps(user_text, ensure_ascii=False)}; "
                + (f"calling {chosen[0]['name']} will help." if chosen else "I will answer.")
            ]
        if max_out is not None and thoughts is not None and max_out <= thoughts:
            # Thinking ate the whole output budget: no parts at all, only the role.
            spent = max_out
            candidates.append(Candidate(index=i, finish_reason="MAX_TOKENS"))
            continue
        if chosen:
            for n, decl in enumerate(chosen):
                schema = decl.get("parametersJsonSchema", decl.get("parameters"))
                args = synthesize(schema) if schema is not None else {}
                call: dict[str, Any] = {"name": decl["name"], "args": args}
                if model.gemini3:
                    call = {"id": call_id(rid, i, n), **call}
                cand.calls.append(call)
            cand.finish_message = "Model generated function call(s)."
        else:
            text = base_text
            if i > 0 and mime != "application/json":
                text = f"{text} (candidate {i + 1})"
            text = _cut_at_stop(text, list(gen.get("stopSequences", [])))
            if max_out is not None and count_text(text) > max_out - spent:
                text = text[: max(0, (max_out - spent) * 4)]
                cand.finish_reason = "MAX_TOKENS"
            cand.text = text
        if thoughts is not None or model.gemini3:
            cand.signature = signature(rid, i)
        candidates.append(cand)

    return Plan(
        model_version=model.id,
        response_id=rid,
        prompt_tokens=prompt_tokens,
        prompt_details=per_modality,
        thoughts_tokens=spent if thoughts is not None else None,
        candidates=candidates,
        trailing_signature=model.gemini3,
    )
