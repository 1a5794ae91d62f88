"""Gemini stream events → OpenAI `chat.completion.chunk`s (reference 6.6). Sans-IO.

The caller parses each SSE `DataEvent` as JSON, feeds it here, and writes the returned
chunks; when the upstream ends cleanly it writes `finish()`'s chunks and `data: [DONE]`.
Error tails and transport failures are the caller's business.

Shape of the output, per choice:

- chunks are produced only for content, so `emitted_any` stays False (and a retry stays
  possible) until the model has said something;
- the first chunk of a choice is a role chunk, `{"role": "assistant", "content": ""}`, or
  `content: null` when the choice opens with a tool call (matching the non-streaming
  `content: null` with tool calls);
- consecutive text (or thought) parts of one event are joined into one content (or
  `reasoning_content`) delta; every tool call gets its own chunk with `index` counted across
  the whole stream, since Gemini sends each call complete in one event;
- empty-text, signature-only and role-only parts produce nothing; a signature has no place in
  a text delta, and on a tool call it travels in the id and `extra_content`;
- the Gemini `finishReason` is remembered and `finish()` sends it on its own chunk with
  `delta: {}`; choices that never produced content get their role chunk there too. If the
  upstream ended without any reason the choice reports "stop" ("tool_calls" if it called
  tools): the stream did end cleanly, and "length" would claim a token limit nobody hit
  (and makes the SDK's `parse()` helpers raise);
- a prompt-blocked event (`promptFeedback.blockReason`, no candidates) finishes choice 0
  with `content: null` and "content_filter".

Usage comes from the last event that carried `usageMetadata`: Gemini's counts are
cumulative, so summing them would be wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trioproxy.providers.gemini.response import (
    logprobs_to_openai,
    map_finish_reason,
    tool_call_from_part,
)
from trioproxy.providers.gemini.usage import Usage, usage_from_gemini

__all__ = ["ChatStreamTranslator"]


class _Choice:
    __slots__ = ("blocked", "reason", "started", "tool_calls")

    def __init__(self) -> None:
        self.started = False
        self.tool_calls = 0
        self.reason: str | None = None
        self.blocked = False


class ChatStreamTranslator:
    def __init__(
        self, *, model: str, completion_id: str, created: int, include_usage: bool
    ) -> None:
        self._id = completion_id
        self._model = model
        self._created = created
        self._include_usage = include_usage
        self._choices: dict[int, _Choice] = {}
        self._usage_metadata: Mapping[str, Any] | None = None
        self._usage: Usage | None = None
        self._emitted = False
        self._finished = False

    @property
    def usage(self) -> Usage:
        if self._usage is None:
            self._usage = usage_from_gemini(self._usage_metadata)
        return self._usage

    @property
    def emitted_any(self) -> bool:
        return self._emitted

    @property
    def complete(self) -> bool:
        """Whether the upstream said it was done (a finishReason, or a blocked prompt) for
        every choice: an upstream that ends without one has been cut off."""
        return bool(self._choices) and all(c.reason or c.blocked for c in self._choices.values())

    def feed(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        metadata = event.get("usageMetadata")
        if metadata is not None:
            self._usage_metadata = metadata
            self._usage = None
        out: list[dict[str, Any]] = []
        candidates: Sequence[Mapping[str, Any]] = event.get("candidates") or ()
        if not candidates:
            if (event.get("promptFeedback") or {}).get("blockReason"):
                self._choice(0).blocked = True
            return out
        if len(candidates) > 1:
            # The SDK's stream accumulator files choices by position, so open them in order.
            candidates = sorted(candidates, key=lambda c: int(c.get("index", 0)))
        for position, candidate in enumerate(candidates):
            index = candidate.get("index", position)
            choice = self._choice(index)
            reason = candidate.get("finishReason")
            if reason:
                choice.reason = reason
            content = candidate.get("content")
            parts = content.get("parts") if content else None
            if parts:
                self._parts(out, index, choice, parts, candidate.get("logprobsResult"))
        if out:
            self._emitted = True
        return out

    def finish(self) -> list[dict[str, Any]]:
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        if not self._choices:
            self._choice(0)
        out: list[dict[str, Any]] = []
        for index in sorted(self._choices):
            choice = self._choices[index]
            if not choice.started:
                out.append(self._role(index, choice, "" if not choice.blocked else None))
            if choice.blocked:
                reason = "content_filter"
            else:
                reason = (
                    map_finish_reason(choice.reason, tool_calls=choice.tool_calls > 0) or "stop"
                )
            out.append(self._chunk(index, {}, reason))
        if self._include_usage:
            out.append(
                {
                    "id": self._id,
                    "object": "chat.completion.chunk",
                    "created": self._created,
                    "model": self._model,
                    "choices": [],
                    "usage": self.usage.to_openai(),
                }
            )
        self._emitted = True
        return out

    # -- internals ---------------------------------------------------------------------

    def _choice(self, index: int) -> _Choice:
        choice = self._choices.get(index)
        if choice is None:
            choice = self._choices[index] = _Choice()
        return choice

    def _chunk(
        self,
        index: int,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        logprobs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [
                {
                    "index": index,
                    "delta": delta,
                    "logprobs": logprobs,
                    "finish_reason": finish_reason,
                }
            ],
        }
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    def _role(self, index: int, choice: _Choice, content: str | None) -> dict[str, Any]:
        choice.started = True
        return self._chunk(index, {"role": "assistant", "content": content})

    def _parts(
        self,
        out: list[dict[str, Any]],
        index: int,
        choice: _Choice,
        parts: Sequence[Mapping[str, Any]],
        logprobs_result: Mapping[str, Any] | None,
    ) -> None:
        # A run of same-kind text parts becomes one delta: `kind` is the delta key of the
        # run being collected in `run`.
        kind = ""
        run: list[str] = []
        for part in parts:
            if "functionCall" in part:
                call = tool_call_from_part(part)
                if call is None:
                    continue
                if run:
                    logprobs_result = self._flush(out, index, choice, kind, run, logprobs_result)
                    run = []
                if not choice.started:
                    out.append(self._role(index, choice, None))
                entry = {"index": choice.tool_calls, **call}
                choice.tool_calls += 1
                out.append(self._chunk(index, {"tool_calls": [entry]}))
                continue
            text = part.get("text")
            if not text:
                continue
            part_kind = "reasoning_content" if part.get("thought") else "content"
            if part_kind != kind and run:
                logprobs_result = self._flush(out, index, choice, kind, run, logprobs_result)
                run = []
            kind = part_kind
            run.append(text)
        if run:
            self._flush(out, index, choice, kind, run, logprobs_result)

    def _flush(
        self,
        out: list[dict[str, Any]],
        index: int,
        choice: _Choice,
        kind: str,
        run: list[str],
        logprobs_result: Mapping[str, Any] | None,
    ) -> Mapping[str, Any] | None:
        """Emit one text run; returns the logprobs still to attach (they go on content)."""
        if not choice.started:
            out.append(self._role(index, choice, ""))
        text = run[0] if len(run) == 1 else "".join(run)
        logprobs = None
        if kind == "content" and logprobs_result:
            logprobs = logprobs_to_openai(logprobs_result)
            logprobs_result = None
        out.append(self._chunk(index, {kind: text}, logprobs=logprobs))
        return logprobs_result
