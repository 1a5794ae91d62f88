"""Turn a generation Plan into the unary response or the sequence of stream chunks."""

from __future__ import annotations

from typing import Any

from .generate import Candidate, Plan
from .tokens import details


def _usage(plan: Plan, candidate_tokens: int) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": plan.prompt_tokens}
    # Absent rather than 0, as the service does for thought-only and first chunks.
    if candidate_tokens:
        usage["candidatesTokenCount"] = candidate_tokens
    usage["totalTokenCount"] = plan.prompt_tokens + candidate_tokens + (plan.thoughts_tokens or 0)
    usage["promptTokensDetails"] = details(plan.prompt_details)
    if plan.thoughts_tokens is not None:
        usage["thoughtsTokenCount"] = plan.thoughts_tokens
    return usage


def _envelope(plan: Plan, candidates: list[dict[str, Any]], cand_tokens: int) -> dict[str, Any]:
    return {
        "candidates": candidates,
        "usageMetadata": _usage(plan, cand_tokens),
        "modelVersion": plan.model_version,
        "responseId": plan.response_id,
    }


def _call_parts(cand: Candidate) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for n, call in enumerate(cand.calls):
        part: dict[str, Any] = {"functionCall": call}
        # Only the first call of a step carries the signature, as the service does.
        if n == 0 and cand.signature:
            part["thoughtSignature"] = cand.signature
        parts.append(part)
    return parts


def _entry(cand: Candidate, parts: list[dict[str, Any]], final: bool) -> dict[str, Any]:
    content: dict[str, Any] = {"parts": parts, "role": "model"} if parts else {"role": "model"}
    entry: dict[str, Any] = {"content": content}
    if final:
        entry["finishReason"] = cand.finish_reason
    entry["index"] = cand.index
    if final and cand.finish_message:
        entry["finishMessage"] = cand.finish_message
    return entry


def unary(plan: Plan) -> dict[str, Any]:
    entries = []
    for cand in plan.candidates:
        parts: list[dict[str, Any]] = [{"text": t, "thought": True} for t in cand.thoughts]
        if cand.text:
            text_part: dict[str, Any] = {"text": cand.text}
            if plan.trailing_signature and cand.signature and not cand.calls:
                text_part["thoughtSignature"] = cand.signature
            parts.append(text_part)
        parts.extend(_call_parts(cand))
        entries.append(_entry(cand, parts, final=True))
    total = sum(c.tokens() for c in plan.candidates)
    return _envelope(plan, entries, total)


def split_text(text: str, pieces: int) -> list[str]:
    """Split at word boundaries into at most `pieces` non-empty pieces that join back to text."""
    if not text:
        return []
    words: list[str] = []
    for i, word in enumerate(text.split(" ")):
        words.append(word if i == 0 else " " + word)
    pieces = max(1, min(pieces, len(words)))
    out = []
    for k in range(pieces):
        lo = k * len(words) // pieces
        hi = (k + 1) * len(words) // pieces
        out.append("".join(words[lo:hi]))
    return [p for p in out if p]


def _phases(cand: Candidate, pieces: int, trailing_signature: bool) -> list[list[dict[str, Any]]]:
    phases: list[list[dict[str, Any]]] = [[{"text": t, "thought": True}] for t in cand.thoughts]
    phases.extend([{"text": piece}] for piece in split_text(cand.text, pieces))
    calls = _call_parts(cand)
    if calls:
        # A function call always arrives whole, in one chunk.
        phases.append(calls)
    elif trailing_signature and cand.signature and cand.text:
        phases.append([{"text": "", "thoughtSignature": cand.signature}])
    return phases


def stream(plan: Plan, pieces: int) -> list[dict[str, Any]]:
    """The chunks of a streamed answer; usage is cumulative and complete on the last one."""
    per_cand = [_phases(c, pieces, plan.trailing_signature) for c in plan.candidates]
    total = max(1, *(len(p) for p in per_cand))
    chunks = []
    emitted_text = ["" for _ in plan.candidates]
    emitted_calls = [False for _ in plan.candidates]
    for j in range(total):
        final = j == total - 1
        entries = []
        for cand, phases in zip(plan.candidates, per_cand, strict=True):
            parts = phases[j] if j < len(phases) else []
            for part in parts:
                if "functionCall" in part:
                    emitted_calls[cand.index] = True
                elif not part.get("thought"):
                    emitted_text[cand.index] += part.get("text", "")
            if parts or final:
                entries.append(_entry(cand, parts, final))
        tokens = sum(
            c.tokens(emitted_text[c.index], with_calls=emitted_calls[c.index])
            for c in plan.candidates
        )
        chunks.append(_envelope(plan, entries, tokens))
    return chunks
