"""OpenAI tool-call ids that carry what Gemini needs back on the next turn.

OpenAI clients echo a tool call's `id` verbatim (in the assistant message and in the
matching `tool` message) but drop unknown fields, so the id is the one place that reliably
survives the round trip. It carries two things:

- the Gemini `functionCall.id`, when the model produced one (Gemini 3 always does; 2.5 does
  not, and some endpoints reject an `id` the model did not produce), marked by the `gcall_`
  prefix; otherwise a generated `call_<24 hex>`;
- the part's `thoughtSignature` after `__thought__`, which Gemini 3 requires echoed on
  function calls of the current turn.

Responses also carry the signature as `extra_content.google.thought_signature` (the field
Google's own OpenAI endpoint uses); requests accept either place.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

SIGNATURE_SEPARATOR = "__thought__"
GEMINI_ID_PREFIX = "gcall_"
GENERATED_PREFIX = "call_"
# Documented by Google for histories whose signatures are lost (e.g. produced by another
# model): Gemini 3 accepts it in place of a real signature.
DUMMY_SIGNATURE = "skip_thought_signature_validator"


@dataclass(frozen=True, slots=True)
class ToolCallRef:
    """What an OpenAI tool-call id decodes to."""

    gemini_id: str | None
    signature: str | None


def encode_tool_call_id(gemini_id: str | None, signature: str | None) -> str:
    base = GEMINI_ID_PREFIX + gemini_id if gemini_id else GENERATED_PREFIX + secrets.token_hex(12)
    return base + SIGNATURE_SEPARATOR + signature if signature else base


def decode_tool_call_id(tool_call_id: str) -> ToolCallRef:
    base, sep, signature = tool_call_id.partition(SIGNATURE_SEPARATOR)
    gemini_id = base[len(GEMINI_ID_PREFIX) :] if base.startswith(GEMINI_ID_PREFIX) else None
    return ToolCallRef(
        gemini_id=gemini_id or None, signature=signature if sep and signature else None
    )
