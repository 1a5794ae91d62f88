"""Unary Gemini responses → OpenAI chat.completion, usage arithmetic and finish reasons."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from trioproxy.providers.gemini.response import generate_response_to_chat, map_finish_reason
from trioproxy.providers.gemini.toolcalls import decode_tool_call_id
from trioproxy.providers.gemini.usage import Usage, usage_from_gemini

CREATED = 1732300000
THOUGHT = "**Thinking Through the New Year's Eve Calculation**\n\nOkay, so the user wants ..."
SIGNATURE = "CtQOAVSoXO74PmYr9AFurEIJ..."

# Reference 3.1: FB-TD unary-success-thinking-function-call-thought-summary-signature.json.
THINKING_FUNCTION_CALL: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": THOUGHT, "thought": True},
                    {"functionCall": {"name": "now", "args": {}}, "thoughtSignature": SIGNATURE},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 38,
        "candidatesTokenCount": 8,
        "totalTokenCount": 547,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 38}],
        "thoughtsTokenCount": 501,
    },
    "modelVersion": "gemini-2.5-pro",
    "responseId": "38CHaLjMG6TujrEPtvTiuQk",
}


def translate(resp: dict[str, Any], model: str = "gemini-2.5-pro") -> dict[str, Any]:
    out = generate_response_to_chat(resp, model=model, completion_id="chatcmpl-X", created=CREATED)
    ChatCompletion.model_validate(out)  # the OpenAI SDK's own model accepts it
    return out


def usage(prompt: int, completion: int, total: int, reasoning: int, cached: int = 0) -> Any:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def test_thinking_plus_function_call() -> None:
    out = translate(THINKING_FUNCTION_CALL)
    call_id = out["choices"][0]["message"]["tool_calls"][0]["id"]
    # No functionCall.id from Gemini 2.5: a generated id, with the signature riding along.
    assert re.fullmatch(r"call_[0-9a-f]{24}__thought__" + re.escape(SIGNATURE), call_id)
    ref = decode_tool_call_id(call_id)
    assert (ref.gemini_id, ref.signature) == (None, SIGNATURE)
    assert out == {
        "id": "chatcmpl-X",
        "object": "chat.completion",
        "created": CREATED,
        "model": "gemini-2.5-pro",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": THOUGHT,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": "now", "arguments": "{}"},
                            "extra_content": {"google": {"thought_signature": SIGNATURE}},
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        # 38 + 8 + 501 = 547: completion counts the thoughts.
        "usage": usage(38, 509, 547, 501),
    }


def test_text_with_thought_summary() -> None:
    # Reference 6.4's source, FB-TD unary-success-thinking-reply-thought-summary.json.
    resp = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "**Thinking About Google's Headquarters** ...", "thought": True},
                        {"text": "Mountain "},
                        {"text": "View"},
                    ],
                    "role": "model",
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 14,
            "candidatesTokenCount": 2,
            "totalTokenCount": 40,
            "thoughtsTokenCount": 24,
        },
    }
    assert translate(resp, "gemini-2.5-flash")["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Mountain View",
                "reasoning_content": "**Thinking About Google's Headquarters** ...",
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert translate(resp)["usage"] == usage(14, 26, 40, 24)


def test_gemini3_call_ids_and_trailing_signature_part() -> None:
    resp = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Checking."},
                        {
                            "functionCall": {
                                "name": "get_weather",
                                "args": {"city": "Paris"},
                                "id": "a1",
                            },
                            "thoughtSignature": "SIG1",
                        },
                        {"functionCall": {"name": "get_time", "args": {"tz": "CET"}, "id": "b2"}},
                        {"text": "", "thoughtSignature": "SIG2"},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 7, "totalTokenCount": 12},
    }
    choice = translate(resp, "gemini-3-pro-preview")["choices"][0]
    assert choice == {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "gcall_a1__thought__SIG1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    "extra_content": {"google": {"thought_signature": "SIG1"}},
                },
                {
                    "id": "gcall_b2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"tz": "CET"}'},
                },
            ],
        },
        "logprobs": None,
        "finish_reason": "tool_calls",
    }
    refs = [decode_tool_call_id(c["id"]) for c in choice["message"]["tool_calls"]]
    assert [(r.gemini_id, r.signature) for r in refs] == [("a1", "SIG1"), ("b2", None)]


def test_max_tokens_while_thinking_has_no_parts() -> None:
    resp = {
        "candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}],
        "usageMetadata": {"promptTokenCount": 21, "thoughtsTokenCount": 60, "totalTokenCount": 81},
    }
    out = translate(resp)
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": "length",
        }
    ]
    assert out["usage"] == usage(21, 60, 81, 60)


def test_prompt_blocked() -> None:
    resp = {
        "candidates": [],
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
    }
    out = translate(resp)
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None},
            "logprobs": None,
            "finish_reason": "content_filter",
        }
    ]
    assert out["usage"] == usage(8, 0, 8, 0)


def test_safety_keeps_partial_text_and_other_without_content() -> None:
    resp = {"candidates": [{"content": {"parts": [{"text": "Par"}]}, "finishReason": "SAFETY"}]}
    choice = translate(resp)["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("Par", "content_filter")
    resp = {"candidates": [{"finishReason": "OTHER", "finishMessage": "internal error"}]}
    choice = translate(resp)["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("", "content_filter")
    assert translate({})["choices"][0]["finish_reason"] == "stop"
    assert translate({})["usage"] == usage(0, 0, 0, 0)


def test_n2_one_choice_per_candidate_by_index() -> None:
    resp = {
        "candidates": [
            {"content": {"parts": [{"text": "B"}]}, "finishReason": "MAX_TOKENS", "index": 1},
            {"content": {"parts": [{"text": "A"}]}, "finishReason": "STOP", "index": 0},
        ]
    }
    choices = translate(resp)["choices"]
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices] == [
        (0, "A", "stop"),
        (1, "B", "length"),
    ]


def test_logprobs() -> None:
    resp = {
        "candidates": [
            {
                "content": {"parts": [{"text": "Hi!"}]},
                "finishReason": "STOP",
                "logprobsResult": {
                    "topCandidates": [
                        {
                            "candidates": [
                                {"token": "Hi", "logProbability": -0.1},
                                {"token": "Hé", "logProbability": -2.5},
                            ]
                        },
                        {"candidates": [{"token": "!", "logProbability": -0.2}]},
                    ],
                    "chosenCandidates": [
                        {"token": "Hi", "tokenId": 1, "logProbability": -0.1},
                        {"token": "!", "tokenId": 2, "logProbability": -0.2},
                    ],
                },
            }
        ]
    }
    assert translate(resp)["choices"][0]["logprobs"] == {
        "content": [
            {
                "token": "Hi",
                "logprob": -0.1,
                "bytes": [72, 105],
                "top_logprobs": [
                    {"token": "Hi", "logprob": -0.1, "bytes": [72, 105]},
                    {"token": "Hé", "logprob": -2.5, "bytes": [72, 195, 169]},
                ],
            },
            {
                "token": "!",
                "logprob": -0.2,
                "bytes": [33],
                "top_logprobs": [{"token": "!", "logprob": -0.2, "bytes": [33]}],
            },
        ],
        "refusal": None,
    }


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (None, None),
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("LANGUAGE", "content_filter"),
        ("OTHER", "content_filter"),
        ("ESCALATION", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("UNEXPECTED_TOOL_CALL", "stop"),
        ("MISSING_THOUGHT_SIGNATURE", "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
        ("SOMETHING_NEW", "stop"),
    ],
)
def test_map_finish_reason(reason: str | None, expected: str | None) -> None:
    assert map_finish_reason(reason) == expected


def test_tool_calls_win_over_any_reason() -> None:
    assert map_finish_reason("STOP", tool_calls=True) == "tool_calls"
    assert map_finish_reason(None, tool_calls=True) == "tool_calls"


def test_usage_absent_fields_and_fallbacks() -> None:
    assert usage_from_gemini(None) == Usage(0, 0, 0, 0, 0)
    assert usage_from_gemini({}) == Usage(0, 0, 0, 0, 0)
    # First stream chunks: no candidates count yet.
    assert usage_from_gemini({"promptTokenCount": 7, "totalTokenCount": 7}) == Usage(7, 0, 7, 0, 0)
    # No total: the sum.
    assert usage_from_gemini(
        {"promptTokenCount": 4, "candidatesTokenCount": 5, "thoughtsTokenCount": 6}
    ) == Usage(4, 11, 15, 6, 0)
    # Tool-use prompt tokens are input; cached tokens are reported as such.
    assert usage_from_gemini(
        {
            "promptTokenCount": 100,
            "toolUsePromptTokenCount": 20,
            "cachedContentTokenCount": 64,
            "candidatesTokenCount": 10,
            "totalTokenCount": 130,
        }
    ) == Usage(120, 10, 130, 0, 64)
    assert Usage(120, 10, 130, 0, 64).to_openai() == usage(120, 10, 130, 0, 64)
