"""Gemini stream events → OpenAI chat.completion.chunk sequences.

The chunk sequences are asserted exactly, and also fed to the OpenAI SDK's own stream
accumulator to check what a client ends up with."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from tests.unit.gemini_payloads import BASIC_PAYLOADS, BLOCKED_PAYLOAD, FUNCTION_CALL_PAYLOAD
from trioproxy.providers.gemini.sse import NEED_DATA, DataEvent, GeminiSSEParser
from trioproxy.providers.gemini.stream import ChatStreamTranslator
from trioproxy.providers.gemini.toolcalls import decode_tool_call_id
from trioproxy.providers.gemini.usage import Usage

CREATED = 1732300000


def sse(*payloads: str) -> bytes:
    return "".join(f"data: {p}\r\n\r\n" for p in payloads).encode()


ROLE = {"role": "assistant", "content": ""}


def translator(
    include_usage: bool = False, model: str = "gemini-2.5-flash"
) -> ChatStreamTranslator:
    return ChatStreamTranslator(
        model=model, completion_id="chatcmpl-X", created=CREATED, include_usage=include_usage
    )


def chunk(
    delta: dict[str, Any], finish: str | None = None, *, index: int = 0, usage: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "chatcmpl-X",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "gemini-2.5-flash",
        "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage:
        out["usage"] = None
    return out


def run(
    events: list[dict[str, Any]], include_usage: bool = False
) -> tuple[list[dict[str, Any]], ChatStreamTranslator]:
    t = translator(include_usage)
    chunks = [c for event in events for c in t.feed(event)]
    chunks += t.finish()
    final(chunks)  # the OpenAI SDK accepts every chunk
    return chunks, t


def final(chunks: list[dict[str, Any]]) -> Any:
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for c in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(c))
    # Not get_final_completion(): it raises on "length" and "content_filter" by design.
    return state.current_completion_snapshot


def test_basic_reply_through_the_sse_parser() -> None:
    parser = GeminiSSEParser()
    parser.feed(sse(*BASIC_PAYLOADS))
    parser.feed_eof()
    events = []
    while (event := parser.next_event()) is not None:
        assert isinstance(event, DataEvent)
        events.append(json.loads(event.data))
    chunks, t = run(events)
    assert chunks == [
        chunk(ROLE),
        chunk({"content": "The"}),
        chunk({"content": " capital of Wyoming"}),
        chunk({"content": " is **Cheyenne**.\n"}),
        chunk({}, "stop"),
    ]
    # Cumulative usage: the last event's numbers, never a sum (7+7+17 would be 31).
    assert t.usage == Usage(7, 10, 17, 0, 0)
    completion = final(chunks)
    assert completion.choices[0].message.content == "The capital of Wyoming is **Cheyenne**.\n"
    assert completion.choices[0].finish_reason == "stop"


def test_include_usage() -> None:
    events = [json.loads(p) for p in BASIC_PAYLOADS]
    chunks, _ = run(events, include_usage=True)
    assert chunks == [
        chunk(ROLE, usage=True),
        chunk({"content": "The"}, usage=True),
        chunk({"content": " capital of Wyoming"}, usage=True),
        chunk({"content": " is **Cheyenne**.\n"}, usage=True),
        chunk({}, "stop", usage=True),
        {
            "id": "chatcmpl-X",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": "gemini-2.5-flash",
            "choices": [],
            "usage": {
                "prompt_tokens": 7,
                "completion_tokens": 10,
                "total_tokens": 17,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        },
    ]
    assert final(chunks).usage.total_tokens == 17


def test_thoughts_then_text() -> None:
    def event(text: str, thought: bool, total: int) -> dict[str, Any]:
        part: dict[str, Any] = {"text": text, "thought": True} if thought else {"text": text}
        return {
            "candidates": [{"content": {"parts": [part], "role": "model"}, "index": 0}],
            "usageMetadata": {
                "promptTokenCount": 10,
                "thoughtsTokenCount": 540,
                "totalTokenCount": total,
            },
        }

    events = [
        event("**Exploring Sky Color**", True, 550),
        event(" ...", True, 550),
        event("The sky", False, 560),
    ]
    events[-1]["candidates"][0]["finishReason"] = "STOP"
    events[-1]["usageMetadata"]["candidatesTokenCount"] = 48
    events[-1]["usageMetadata"]["totalTokenCount"] = 598
    chunks, t = run(events)
    assert chunks == [
        chunk(ROLE),
        chunk({"reasoning_content": "**Exploring Sky Color**"}),
        chunk({"reasoning_content": " ..."}),
        chunk({"content": "The sky"}),
        chunk({}, "stop"),
    ]
    assert t.usage == Usage(10, 588, 598, 540, 0)
    message = final(chunks).choices[0].message
    assert message.content == "The sky"
    assert message.model_extra["reasoning_content"] == "**Exploring Sky Color** ..."


def test_function_call_stream() -> None:
    chunks, t = run([json.loads(FUNCTION_CALL_PAYLOAD)])
    call_id = chunks[1]["choices"][0]["delta"]["tool_calls"][0]["id"]
    assert decode_tool_call_id(call_id).signature == "CikBcsjafFK1...ybo="
    assert decode_tool_call_id(call_id).gemini_id is None
    assert chunks == [
        chunk({"role": "assistant", "content": None}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "getWeather", "arguments": '{"location": "Tokyo"}'},
                        "extra_content": {"google": {"thought_signature": "CikBcsjafFK1...ybo="}},
                    }
                ]
            }
        ),
        chunk({}, "tool_calls"),
    ]
    assert t.usage == Usage(83, 118, 201, 104, 0)
    message = final(chunks).choices[0].message
    assert message.content is None
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        (call_id, "getWeather", '{"location": "Tokyo"}')
    ]


def test_gemini3_parallel_calls_and_trailing_signature_event() -> None:
    events: list[dict[str, Any]] = [
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "Let me check. "},
                            {
                                "functionCall": {"name": "a", "args": {}, "id": "id1"},
                                "thoughtSignature": "S1",
                            },
                        ],
                    }
                }
            ]
        },
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"functionCall": {"name": "b", "args": {"x": 1}, "id": "id2"}}],
                    }
                }
            ]
        },
        # The Gemini 3 trailing empty-text signature part, and a role-only event: nothing.
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "", "thoughtSignature": "S2"}]},
                    "finishReason": "STOP",
                }
            ]
        },
        {"candidates": [{"content": {"role": "model"}}]},
    ]
    chunks, _ = run(events)
    assert chunks == [
        chunk(ROLE),
        chunk({"content": "Let me check. "}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "gcall_id1__thought__S1",
                        "type": "function",
                        "function": {"name": "a", "arguments": "{}"},
                        "extra_content": {"google": {"thought_signature": "S1"}},
                    }
                ]
            }
        ),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "gcall_id2",
                        "type": "function",
                        "function": {"name": "b", "arguments": '{"x": 1}'},
                    }
                ]
            }
        ),
        chunk({}, "tool_calls"),
    ]
    calls = final(chunks).choices[0].message.tool_calls
    assert [decode_tool_call_id(c.id).gemini_id for c in calls] == ["id1", "id2"]


def test_nothing_emitted_for_empty_parts() -> None:
    t = translator()
    assert (
        t.feed(
            {
                "candidates": [{"content": {"role": "model"}}],
                "usageMetadata": {"promptTokenCount": 3},
            }
        )
        == []
    )
    assert t.feed({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}}]}) == []
    assert not t.emitted_any
    assert t.feed({"candidates": [{"content": {"parts": [{"text": "x"}]}}]}) == [
        chunk(ROLE),
        chunk({"content": "x"}),
    ]
    assert t.emitted_any
    assert t.usage == Usage(3, 0, 3, 0, 0)  # an event without usageMetadata keeps the last one


def test_prompt_blocked_stream() -> None:
    t = translator()
    assert t.feed(json.loads(BLOCKED_PAYLOAD)) == []
    assert not t.emitted_any
    chunks = t.finish()
    assert chunks == [chunk({"role": "assistant", "content": None}), chunk({}, "content_filter")]
    assert t.emitted_any
    assert final(chunks).choices[0].finish_reason == "content_filter"


def test_max_tokens_without_parts() -> None:
    event = {
        "candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}],
        "usageMetadata": {"promptTokenCount": 21, "thoughtsTokenCount": 60, "totalTokenCount": 81},
    }
    chunks, t = run([event])
    assert chunks == [chunk(ROLE), chunk({}, "length")]
    assert t.usage == Usage(21, 60, 81, 60, 0)


def test_no_finish_reason_means_stop() -> None:
    chunks, _ = run([{"candidates": [{"content": {"parts": [{"text": "cut"}]}}]}])
    assert chunks[-1] == chunk({}, "stop")
    chunks, _ = run([])
    assert chunks == [chunk(ROLE), chunk({}, "stop")]


def test_n2_choices() -> None:
    events = [
        {
            "candidates": [
                {"content": {"parts": [{"text": "B1"}]}, "index": 1},
                {"content": {"parts": [{"text": "A1"}]}, "index": 0},
            ]
        },
        {
            "candidates": [
                {"content": {"parts": [{"text": "A2"}]}, "index": 0, "finishReason": "STOP"},
                {"content": {"parts": [{"text": "B2"}]}, "index": 1, "finishReason": "MAX_TOKENS"},
            ]
        },
    ]
    chunks, _ = run(events)
    assert chunks == [
        chunk(ROLE, index=0),
        chunk({"content": "A1"}, index=0),
        chunk(ROLE, index=1),
        chunk({"content": "B1"}, index=1),
        chunk({"content": "A2"}, index=0),
        chunk({"content": "B2"}, index=1),
        chunk({}, "stop", index=0),
        chunk({}, "length", index=1),
    ]
    completion = final(chunks)
    assert [(c.message.content, c.finish_reason) for c in completion.choices] == [
        ("A1A2", "stop"),
        ("B1B2", "length"),
    ]


def test_mixed_parts_in_one_event_keep_order() -> None:
    event = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "t1", "thought": True},
                        {"text": "t2", "thought": True},
                        {"text": "a"},
                        {"text": "b", "thoughtSignature": "S"},
                    ]
                },
                "logprobsResult": {"chosenCandidates": [{"token": "ab", "logProbability": -1.0}]},
            }
        ]
    }
    t = translator()
    with_logprobs = chunk({"content": "ab"})
    with_logprobs["choices"][0]["logprobs"] = {
        "content": [{"token": "ab", "logprob": -1.0, "bytes": [97, 98], "top_logprobs": []}],
        "refusal": None,
    }
    assert t.feed(event) == [chunk(ROLE), chunk({"reasoning_content": "t1t2"}), with_logprobs]


def test_feed_or_finish_after_finish_is_an_error() -> None:
    t = translator()
    t.finish()
    with pytest.raises(RuntimeError):
        t.feed({})
    with pytest.raises(RuntimeError):
        t.finish()


def test_sse_to_chunks_end_to_end_byte_by_byte() -> None:
    body = sse(*BASIC_PAYLOADS[:2]) + sse(FUNCTION_CALL_PAYLOAD)
    parser, t = GeminiSSEParser(), translator(include_usage=True)
    chunks: list[dict[str, Any]] = []
    for i in range(len(body)):
        parser.feed(body[i : i + 1])
        while isinstance(event := parser.next_event(), DataEvent):
            chunks += t.feed(json.loads(event.data))
        assert event is NEED_DATA
    chunks += t.finish()
    completion = final(chunks)
    assert completion.choices[0].message.content == "The capital of Wyoming"
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 201
