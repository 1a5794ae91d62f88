from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from trioproxy.errors import InvalidRequest
from trioproxy.providers.gemini.request import chat_to_generate_request
from trioproxy.providers.gemini.toolcalls import DUMMY_SIGNATURE, encode_tool_call_id

FLASH = "gemini-2.5-flash"
USER = {"role": "user", "content": "hi"}
HI = {"role": "user", "parts": [{"text": "hi"}]}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def translate(model: str = FLASH, **body: Any) -> dict[str, Any]:
    body.setdefault("messages", [USER])
    return chat_to_generate_request(body, model)


def rejected(model: str = FLASH, **body: Any) -> InvalidRequest:
    body.setdefault("messages", [USER])
    with pytest.raises(InvalidRequest) as info:
        chat_to_generate_request(body, model)
    assert info.value.status == 400
    return info.value


def call(call_id: str, name: str = "get_weather", args: Any = "{}", **extra: Any) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": args},
    } | extra


def assistant(*calls: dict[str, Any], content: Any = None) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "tool_calls": list(calls)}


def tool(call_id: str, content: Any = "ok") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


# --- the reference's worked example (gemini-api.md 6.2) ---------------------------------


def test_reference_worked_example() -> None:
    body = json.loads(
        r"""{"model":"gemini-2.5-flash","messages":[
 {"role":"system","content":"Be brief."},
 {"role":"user","content":[{"type":"text","text":"Weather in Paris?"},
   {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}}]},
 {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
   "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
 {"role":"tool","tool_call_id":"call_1","content":"{\"temp_c\":18}"}
],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}],
"tool_choice":"auto","max_tokens":512}"""
    )
    expected = json.loads(
        r"""{"systemInstruction":{"parts":[{"text":"Be brief."}]},
 "contents":[
  {"role":"user","parts":[{"text":"Weather in Paris?"},
   {"inlineData":{"mimeType":"image/jpeg","data":"/9j/4AAQ"}}]},
  {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},
  {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp_c":18}}}]}
 ],
 "tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]}],
 "toolConfig":{"functionCallingConfig":{"mode":"AUTO"}},
 "generationConfig":{"maxOutputTokens":512}}"""
    )
    before = copy.deepcopy(body)
    assert chat_to_generate_request(body, FLASH) == expected
    assert body == before


# --- messages ---------------------------------------------------------------------------


def test_system_and_developer_go_to_system_instruction_in_order() -> None:
    out = translate(
        messages=[
            {"role": "system", "content": "one"},
            USER,
            {"role": "developer", "content": [{"type": "text", "text": "two"}]},
            {"role": "user", "content": "again"},
        ]
    )
    assert out == {
        "systemInstruction": {"parts": [{"text": "one"}, {"text": "two"}]},
        "contents": [{"role": "user", "parts": [{"text": "hi"}, {"text": "again"}]}],
    }


def test_system_only_conversation_becomes_a_user_turn() -> None:
    out = translate(messages=[{"role": "system", "content": "Say hi."}])
    assert out == {"contents": [{"role": "user", "parts": [{"text": "Say hi."}]}]}


def test_roles_and_merging_of_consecutive_turns() -> None:
    out = translate(
        messages=[
            USER,
            {"role": "assistant", "content": "a"},
            {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
            {"role": "assistant", "content": ""},  # placeholder: dropped
            USER,
        ]
    )
    assert out["contents"] == [
        HI,
        {"role": "model", "parts": [{"text": "a"}, {"text": "b"}]},
        HI,
    ]


def test_assistant_text_and_tool_calls_in_one_model_turn() -> None:
    out = translate(
        messages=[
            USER,
            assistant(
                call("call_a", args='{"city": "Paris"}'),
                call("call_b", name="get_time", args=""),
                content="Let me check.",
            ),
            tool("call_a", '{"temp_c": 18}'),
            tool("call_b", "noon"),
            {"role": "user", "content": "thanks"},
        ]
    )
    assert out["contents"] == [
        HI,
        {
            "role": "model",
            "parts": [
                {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}},
                {"functionResponse": {"name": "get_time", "response": {"content": "noon"}}},
            ],
        },
        {"role": "user", "parts": [{"text": "thanks"}]},
    ]


@pytest.mark.parametrize(
    ("content", "response"),
    [
        ('{"a": 1}', {"a": 1}),
        ("[1, 2]", {"content": "[1, 2]"}),
        ("42", {"content": "42"}),
        ("not json", {"content": "not json"}),
        ("", {"content": ""}),
        ([{"type": "text", "text": '{"a":'}, {"type": "text", "text": " 2}"}], {"a": 2}),
    ],
)
def test_tool_content_becomes_a_response_object(content: Any, response: dict[str, Any]) -> None:
    out = translate(messages=[USER, assistant(call("c1")), tool("c1", content)])
    assert out["contents"][2]["parts"][0]["functionResponse"]["response"] == response


def test_signature_from_extra_content_and_gemini_id_from_codec() -> None:
    gemini_id = encode_tool_call_id("abc123", "SIG_IN_ID")
    plain_id = encode_tool_call_id(None, "SIG_2")
    out = translate(
        messages=[
            USER,
            assistant(
                call(gemini_id, extra_content={"google": {"thought_signature": "SIG_EXTRA"}}),
                call(plain_id, name="get_time"),
            ),
            tool(gemini_id),
            tool(plain_id),
        ]
    )
    assert out["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"id": "abc123", "name": "get_weather", "args": {}},
                    "thoughtSignature": "SIG_EXTRA",
                },
                {"functionCall": {"name": "get_time", "args": {}}, "thoughtSignature": "SIG_2"},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": "abc123",
                        "name": "get_weather",
                        "response": {"content": "ok"},
                    }
                },
                {"functionResponse": {"name": "get_time", "response": {"content": "ok"}}},
            ],
        },
    ]


def test_signature_from_encoded_id_alone() -> None:
    call_id = encode_tool_call_id("g1", "SIG")
    out = translate(messages=[USER, assistant(call(call_id)), tool(call_id)])
    assert out["contents"][1]["parts"] == [
        {"functionCall": {"id": "g1", "name": "get_weather", "args": {}}, "thoughtSignature": "SIG"}
    ]


def test_gemini3_gets_dummy_signature_on_first_call_of_each_model_turn() -> None:
    messages = [
        USER,
        assistant(call("call_1"), call("call_2"), content="thinking aloud"),
        tool("call_1"),
        tool("call_2"),
        assistant(call("call_3", extra_content={"google": {"thought_signature": "REAL"}})),
        tool("call_3"),
    ]
    out = translate("gemini-3-pro-preview", messages=messages)
    first, second = out["contents"][1], out["contents"][3]
    assert first["parts"] == [
        {"text": "thinking aloud"},
        {"functionCall": {"name": "get_weather", "args": {}}, "thoughtSignature": DUMMY_SIGNATURE},
        {"functionCall": {"name": "get_weather", "args": {}}},
    ]
    assert second["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {}}, "thoughtSignature": "REAL"}
    ]
    flash = translate(FLASH, messages=messages)
    assert "thoughtSignature" not in flash["contents"][1]["parts"][1]


def test_legacy_function_messages() -> None:
    out = translate(
        messages=[
            USER,
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "f", "arguments": "{}"},
            },
            {"role": "function", "name": "f", "content": "done"},
        ]
    )
    assert out["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "f", "response": {"content": "done"}}}],
        },
    ]


def test_media_parts() -> None:
    files_uri = "https://generativelanguage.googleapis.com/v1beta/files/abc123"
    out = translate(
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"},
                    },
                    {"type": "image_url", "image_url": {"url": files_uri}},
                    {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
                    {"type": "input_audio", "input_audio": {"data": "SUQz", "format": "mp3"}},
                    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}},
                    {"type": "file", "file": {"file_data": "JVBE", "filename": "a.pdf"}},
                    {"type": "file", "file": {"file_id": files_uri}},
                    {"type": "text", "text": ""},
                ],
            }
        ]
    )
    assert out["contents"] == [
        {
            "role": "user",
            "parts": [
                {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
                {"fileData": {"fileUri": files_uri}},
                {"inlineData": {"mimeType": "audio/wav", "data": "UklG"}},
                {"inlineData": {"mimeType": "audio/mp3", "data": "SUQz"}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
                {"fileData": {"fileUri": files_uri}},
            ],
        }
    ]


def test_http_image_url_is_rejected_clearly() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    err = rejected(messages=[{"role": "user", "content": [{"type": "text", "text": "x"}, image]}])
    assert err.param == "messages[0].content[1].image_url.url"
    assert "http(s) URLs is not supported" in err.message


M = [USER]


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (None, "messages"),
        ([], "messages"),
        ("hi", "messages"),
        ([USER, "x"], "messages[1]"),
        ([{"content": "x"}], "messages[0].role"),
        ([{"role": "robot", "content": "x"}], "messages[0].role"),
        ([{"role": "user"}], "messages[0].content"),
        ([{"role": "user", "content": ""}], "messages[0].content"),
        ([{"role": "user", "content": []}], "messages[0].content"),
        ([{"role": "user", "content": 5}], "messages[0].content"),
        ([{"role": "system", "content": None}], "messages[0].content"),
        ([{"role": "system", "content": [{"type": "image_url"}]}], "messages[0].content[0].type"),
        ([{"role": "user", "content": [{"type": "video"}]}], "messages[0].content[0].type"),
        ([{"role": "user", "content": ["text"]}], "messages[0].content[0]"),
        (
            [{"role": "user", "content": [{"type": "text", "text": 1}]}],
            "messages[0].content[0].text",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/png,xyz"}}],
                }
            ],
            "messages[0].content[0].image_url.url",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}
                    ],
                }
            ],
            "messages[0].content[0].image_url.url",
        ),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
            "messages[0].content[0].image_url.url",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "opus"}}
                    ],
                }
            ],
            "messages[0].content[0].input_audio.format",
        ),
        (
            [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}],
            "messages[0].content[0].file",
        ),
        (
            [{"role": "user", "content": [{"type": "file", "file": {"file_data": "JVBE"}}]}],
            "messages[0].content[0].file.file_data",
        ),
        ([USER, {"role": "assistant"}], "messages[1].content"),
        ([USER, {"role": "assistant", "tool_calls": {}}], "messages[1].tool_calls"),
        ([USER, assistant({"type": "function"})], "messages[1].tool_calls[0].id"),
        ([USER, assistant(call("c", name=""))], "messages[1].tool_calls[0].function.name"),
        (
            [USER, assistant(call("c", args="{oops"))],
            "messages[1].tool_calls[0].function.arguments",
        ),
        ([USER, assistant(call("c", args="[1]"))], "messages[1].tool_calls[0].function.arguments"),
        ([USER, assistant(call("c") | {"type": "custom"})], "messages[1].tool_calls[0].type"),
        (
            [USER, assistant(call("c")), {"role": "tool", "content": "x"}],
            "messages[2].tool_call_id",
        ),
        ([USER, assistant(call("c")), tool("other")], "messages[2].tool_call_id"),
        ([USER, tool("c"), assistant(call("c"))], "messages[1].tool_call_id"),
        ([USER, assistant(call("c")), tool("c", None)], "messages[2].content"),
        ([USER, {"role": "function", "content": "x"}], "messages[1].name"),
    ],
)
def test_message_errors_name_the_param(messages: Any, param: str) -> None:
    assert rejected(messages=messages).param == param


def test_assistant_only_empty_is_rejected() -> None:
    assert rejected(messages=[{"role": "assistant", "content": ""}]).param == "messages"


# --- tools and tool_choice --------------------------------------------------------------


def test_tools_become_one_function_declarations_tool() -> None:
    out = translate(
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "strict": True,
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "additionalProperties": False,
                        "$schema": "http://json-schema.org/draft-07/schema#",
                    },
                },
            },
            {"type": "function", "function": {"name": "ping"}},
            {
                "type": "function",
                "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}},
            },
            {"type": "function", "function": {"name": "ns.tool:v1-x", "parameters": {}}},
        ],
        parallel_tool_calls=False,
    )
    assert out == {
        "contents": [HI],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Weather",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                        },
                    },
                    {"name": "ping"},
                    {"name": "noop"},
                    {"name": "ns.tool:v1-x"},
                ]
            }
        ],
    }


def test_legacy_functions_and_function_call() -> None:
    out = translate(functions=[{"name": "f"}], function_call={"name": "f"})
    assert out["tools"] == [{"functionDeclarations": [{"name": "f"}]}]
    assert out["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}
    }
    assert translate(functions=[{"name": "f"}], function_call="none")["toolConfig"] == {
        "functionCallingConfig": {"mode": "NONE"}
    }


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    out = translate(tools=[WEATHER_TOOL], tool_choice=choice)
    assert out["toolConfig"] == {"functionCallingConfig": config}


def test_tool_choice_without_tools() -> None:
    assert "toolConfig" not in translate(tool_choice="auto")
    assert "toolConfig" not in translate(tool_choice="none")
    assert rejected(tool_choice="required").param == "tool_choice"


def test_web_search_maps_to_google_search() -> None:
    expected: list[dict[str, Any]] = [{"googleSearch": {}}]
    assert translate(tools=[{"type": "web_search"}])["tools"] == expected
    assert translate(web_search_options={})["tools"] == expected


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": {}}, "tools"),
        ({"tools": ["x"]}, "tools[0].type"),
        ({"tools": [{"type": "code_interpreter"}]}, "tools[0].type"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        ({"tools": [{"type": "function", "function": {"name": "1abc"}}]}, "tools[0].function.name"),
        ({"tools": [{"type": "function", "function": {"name": "a b"}}]}, "tools[0].function.name"),
        (
            {"tools": [{"type": "function", "function": {"name": "a" * 65}}]},
            "tools[0].function.name",
        ),
        ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "description": 3}}]},
            "tools[0].function.description",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}]},
            "tools[0].function.parameters",
        ),
        (
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": "f", "parameters": {"type": "string"}},
                    }
                ]
            },
            "tools[0].function.parameters",
        ),
        ({"tools": [WEATHER_TOOL, WEATHER_TOOL]}, "tools[1].function.name"),
        ({"tools": [WEATHER_TOOL], "functions": [{"name": "get_weather"}]}, "functions[0].name"),
        ({"tools": [WEATHER_TOOL, {"type": "web_search"}]}, "tools"),
        ({"tools": [WEATHER_TOOL], "tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": [WEATHER_TOOL], "tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
        (
            {
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "function", "function": {"name": "nope"}},
            },
            "tool_choice.function.name",
        ),
        (
            {"tools": [WEATHER_TOOL], "tool_choice": {"type": "function"}},
            "tool_choice.function.name",
        ),
        ({"functions": [{"name": "f"}], "function_call": {"name": "g"}}, "function_call.name"),
    ],
)
def test_tool_errors_name_the_param(body: dict[str, Any], param: str) -> None:
    assert rejected(**body).param == param


# --- response_format --------------------------------------------------------------------


def test_response_format() -> None:
    assert "generationConfig" not in translate(response_format={"type": "text"})
    assert translate(response_format={"type": "json_object"})["generationConfig"] == {
        "responseMimeType": "application/json"
    }
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "strict": True,
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A"}},
        "$defs": {"A": {"type": "string"}},
        "additionalProperties": False,
    }
    before = copy.deepcopy(schema)
    out = translate(
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "x", "strict": True, "schema": schema},
        }
    )
    assert out["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": {
            "type": "object",
            "properties": {"a": {"$ref": "#/$defs/A"}},
            "$defs": {"A": {"type": "string"}},
            "additionalProperties": False,
        },
    }
    assert schema == before
    out["generationConfig"]["responseJsonSchema"]["properties"]["a"]["x"] = 1
    assert schema == before


@pytest.mark.parametrize(
    ("fmt", "param"),
    [
        ("json", "response_format.type"),
        ({"type": "xml"}, "response_format.type"),
        ({}, "response_format.type"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        (
            {"type": "json_schema", "json_schema": {"schema": []}},
            "response_format.json_schema.schema",
        ),
    ],
)
def test_response_format_errors(fmt: Any, param: str) -> None:
    assert rejected(response_format=fmt).param == param


# --- generationConfig -------------------------------------------------------------------


def test_generation_config_mapping() -> None:
    out = translate(
        max_tokens=100,
        max_completion_tokens=200,
        temperature=0.5,
        top_p=0.9,
        top_k=40,
        n=2,
        stop="END",
        seed=42,
        presence_penalty=0.5,
        frequency_penalty=-1,
        logprobs=True,
        top_logprobs=3,
    )
    assert out["generationConfig"] == {
        "maxOutputTokens": 200,
        "temperature": 0.5,
        "topP": 0.9,
        "topK": 40,
        "candidateCount": 2,
        "stopSequences": ["END"],
        "seed": 42,
        "presencePenalty": 0.5,
        "frequencyPenalty": -1,
        "responseLogprobs": True,
        "logprobs": 3,
    }


def test_generation_config_defaults_and_drops() -> None:
    out = translate(
        max_tokens=None,
        temperature=None,
        n=1,
        stop=["", "x"],
        presence_penalty=0,
        logprobs=False,
        user="u",
        metadata={"a": "b"},
        store=True,
        service_tier="auto",
        stream_options={"include_usage": True},
        stream=True,
        model="gemini-2.5-flash",
        logit_bias={"1": 2},
        prediction={"type": "content", "content": "x"},
        modalities=["text"],
        audio={"voice": "x"},
        some_vendor_field={"x": 1},
    )
    assert out == {"contents": [HI], "generationConfig": {"stopSequences": ["x"]}}


def test_penalties_dropped_for_gemini_3() -> None:
    out = translate(
        "gemini-3-flash-preview", presence_penalty=1, frequency_penalty=1, temperature=1
    )
    assert out["generationConfig"] == {"temperature": 1}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"max_completion_tokens": "10"}, "max_completion_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": 2.1}, "temperature"),
        ({"temperature": False}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": 0}, "top_k"),
        ({"n": 9}, "n"),
        ({"n": 0}, "n"),
        ({"n": 2, "stream": True}, "n"),
        ({"stop": ["a", "b", "c", "d", "e", "f"]}, "stop"),
        ({"stop": [1]}, "stop"),
        ({"stop": 5}, "stop"),
        ({"seed": 2**31}, "seed"),
        ({"seed": True}, "seed"),
        ({"presence_penalty": 3}, "presence_penalty"),
        ({"frequency_penalty": "x"}, "frequency_penalty"),
        ({"logprobs": "yes"}, "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ],
)
def test_generation_errors_name_the_param(body: dict[str, Any], param: str) -> None:
    assert rejected(**body).param == param


def test_penalty_type_errors_still_reported_for_gemini_3() -> None:
    assert rejected("gemini-3-pro-preview", presence_penalty="x").param == "presence_penalty"


# --- thinking ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "effort", "thinking"),
    [
        ("gemini-2.5-flash", "none", {"thinkingBudget": 0}),
        ("gemini-2.5-flash", "minimal", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-flash", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-flash", "medium", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("gemini-2.5-flash", "high", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("gemini-2.5-pro", "none", {"thinkingBudget": 128}),
        ("gemini-2.5-pro", "high", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("gemini-2.5-flash-lite", "none", {"thinkingBudget": 0}),
        ("gemini-2.5-flash-lite", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-3-pro-preview", "none", {"thinkingLevel": "LOW"}),
        ("gemini-3-pro-preview", "minimal", {"thinkingLevel": "LOW", "includeThoughts": True}),
        ("gemini-3-pro-preview", "low", {"thinkingLevel": "LOW", "includeThoughts": True}),
        ("gemini-3-pro-preview", "medium", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        ("gemini-3-pro-preview", "high", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        ("gemini-3-flash-preview", "none", {"thinkingLevel": "MINIMAL"}),
        (
            "gemini-3-flash-preview",
            "minimal",
            {"thinkingLevel": "MINIMAL", "includeThoughts": True},
        ),
        ("gemini-3-flash-preview", "medium", {"thinkingLevel": "MEDIUM", "includeThoughts": True}),
        ("gemini-3-flash-preview", "high", {"thinkingLevel": "HIGH", "includeThoughts": True}),
    ],
)
def test_reasoning_effort(model: str, effort: str, thinking: dict[str, Any]) -> None:
    out = translate(model, reasoning_effort=effort)
    assert out["generationConfig"] == {"thinkingConfig": thinking}


def test_no_thinking_config_by_default_or_on_models_without_thinking() -> None:
    assert "generationConfig" not in translate()
    assert "generationConfig" not in translate("gemini-2.0-flash", reasoning_effort="high")


def test_bad_reasoning_effort() -> None:
    assert rejected(reasoning_effort="max").param == "reasoning_effort"


def test_google_extra_body() -> None:
    out = translate(
        extra_body={
            "google": {
                "thinking_config": {"thinking_budget": 2048, "include_thoughts": False},
                "safety_settings": [
                    {
                        "category": "HARM_CATEGORY_HARASSMENT",
                        "threshold": "BLOCK_NONE",
                        "method": "x",
                    }
                ],
                "cached_content": "cachedContents/abc",
                "thought_tag_marker": "think",
            }
        },
    )
    assert out == {
        "contents": [HI],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": False}},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "cachedContent": "cachedContents/abc",
    }
    level = translate(
        "gemini-3-pro-preview",
        extra_body={"google": {"thinking_config": {"thinking_level": "low"}}},
    )
    assert level["generationConfig"] == {"thinkingConfig": {"thinkingLevel": "LOW"}}


G = "extra_body.google."


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"extra_body": {"google": []}}, "extra_body.google"),
        ({"extra_body": {"google": {"thinking_config": 1}}}, G + "thinking_config"),
        (
            {"extra_body": {"google": {"thinking_config": {"thinking_budget": -2}}}},
            G + "thinking_config.thinking_budget",
        ),
        (
            {"extra_body": {"google": {"thinking_config": {"thinking_level": "huge"}}}},
            G + "thinking_config.thinking_level",
        ),
        (
            {
                "extra_body": {
                    "google": {"thinking_config": {"thinking_level": "low", "thinking_budget": 9}}
                }
            },
            G + "thinking_config.thinking_level",
        ),
        (
            {"extra_body": {"google": {"thinking_config": {"include_thoughts": "yes"}}}},
            G + "thinking_config.include_thoughts",
        ),
        (
            {"reasoning_effort": "low", "extra_body": {"google": {"thinking_config": {}}}},
            "reasoning_effort",
        ),
        ({"extra_body": {"google": {"safety_settings": {}}}}, G + "safety_settings"),
        (
            {"extra_body": {"google": {"safety_settings": [{"category": "X"}]}}},
            G + "safety_settings[0]",
        ),
        ({"extra_body": {"google": {"cached_content": 5}}}, G + "cached_content"),
    ],
)
def test_extra_body_errors_name_the_param(body: dict[str, Any], param: str) -> None:
    assert rejected(**body).param == param


def test_input_body_is_not_mutated() -> None:
    call_id = encode_tool_call_id("g1", "SIG")
    body: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "s"}]},
            USER,
            assistant(call(call_id, args={"nested": {"a": [1]}})),
            tool(call_id, '{"x": {"y": 1}}'),
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": "auto",
        "stop": ["a"],
        "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
        "extra_body": {"google": {"safety_settings": [{"category": "C", "threshold": "T"}]}},
    }
    before = copy.deepcopy(body)
    out = chat_to_generate_request(body, "gemini-3-pro-preview")
    assert body == before
    out["contents"][1]["parts"][0]["functionCall"]["args"]["nested"]["a"].append(2)
    assert body == before
