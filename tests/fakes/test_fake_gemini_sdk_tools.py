"""Function calling through google-genai: calls, results, Gemini 3 ids and signatures."""

from __future__ import annotations

import base64

import pytest
from google.genai import errors, types

from .conftest import Served, in_thread

FLASH = "gemini-2.5-flash"


WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Weather for a city",
    parameters=types.Schema(
        type="OBJECT",
        properties={
            "city": types.Schema(type="STRING"),
            "days": types.Schema(type="INTEGER", minimum=3),
            "unit": types.Schema(type="STRING", enum=["celsius", "fahrenheit"]),
        },
        required=["city"],
    ),
)
TIME = types.FunctionDeclaration(name="get_time", parameters_json_schema={"type": "object"})


async def test_tools_call_then_answer_with_results(served: Served) -> None:
    client = served.client()
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER, TIME])])
    resp = await in_thread(
        lambda: client.models.generate_content(model=FLASH, contents="Paris?", config=config)
    )
    (call,) = resp.function_calls
    assert call.name == "get_weather"
    assert call.args == {"city": "city", "days": 3, "unit": "celsius"}
    assert call.id is None  # 2.5 returns no call ids
    part = resp.candidates[0].content.parts[0]
    assert part.thought_signature  # on the first functionCall part
    raw = served.sim.requests[0].response["candidates"][0]
    assert raw["finishReason"] == "STOP"
    assert raw["finishMessage"] == "Model generated function call(s)."
    assert (
        raw["content"]["parts"][0]["thoughtSignature"]
        == base64.b64encode(part.thought_signature).decode()
    )

    # Mentioning names in the prompt selects those functions, as parallel calls.
    resp2 = await in_thread(
        lambda: client.models.generate_content(
            model=FLASH, contents="use get_time and get_weather", config=config
        )
    )
    assert [c.name for c in resp2.function_calls] == ["get_weather", "get_time"]
    assert resp2.candidates[0].content.parts[1].thought_signature is None

    history = [
        types.Content(role="user", parts=[types.Part(text="Paris?")]),
        resp.candidates[0].content,
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="get_weather", response={"t": 18})],
        ),
    ]
    final = await in_thread(
        lambda: client.models.generate_content(model=FLASH, contents=history, config=config)
    )
    assert final.text == 'Tool results: get_weather -> {"t":18}'
    echoed = served.sim.requests[-1].body["contents"][1]["parts"][0]
    # The SDK re-encodes the signature with the URL-safe alphabet; the bytes are what count.
    assert base64.urlsafe_b64decode(echoed["thoughtSignature"]) == part.thought_signature

    none = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(mode="NONE")
        ),
    )
    plain = await in_thread(
        lambda: client.models.generate_content(model=FLASH, contents="Paris?", config=none)
    )
    assert plain.text == "Echo: Paris?"
    assert plain.function_calls is None


async def test_gemini3_call_ids_and_signature_enforcement(served: Served) -> None:
    client = served.client()
    model = "gemini-3-pro-preview"
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    resp = await in_thread(
        lambda: client.models.generate_content(model=model, contents="Paris?", config=config)
    )
    call_part = resp.candidates[0].content.parts[0]
    assert call_part.function_call.id
    assert len(call_part.function_call.id) == 8
    assert call_part.thought_signature

    def history(signature: bytes | None) -> list[types.Content]:
        echoed = types.Part(function_call=call_part.function_call, thought_signature=signature)
        return [
            types.Content(role="user", parts=[types.Part(text="Paris?")]),
            types.Content(role="model", parts=[echoed]),
            types.Content(
                role="user",
                parts=[
                    types.Part(
                        function_response=types.FunctionResponse(
                            id=call_part.function_call.id, name="get_weather", response={"t": 1}
                        )
                    )
                ],
            ),
        ]

    ok = await in_thread(
        lambda: client.models.generate_content(
            model=model, contents=history(call_part.thought_signature), config=config
        )
    )
    assert ok.text == 'Tool results: get_weather -> {"t":1}'
    skip = await in_thread(
        lambda: client.models.generate_content(
            model=model, contents=history(b"skip_thought_signature_validator"), config=config
        )
    )
    assert skip.text == ok.text

    with pytest.raises(errors.ClientError) as info:
        await in_thread(
            lambda: client.models.generate_content(
                model=model, contents=history(None), config=config
            )
        )
    assert info.value.code == 400
    assert info.value.status == "INVALID_ARGUMENT"
    assert info.value.message == (
        "Function call is missing a thought_signature in functionCall parts. This is required"
        " for tools to work correctly, and missing thought_signature may lead to degraded model"
        " performance. Additional data, function call `default_api:get_weather` , position 2."
        " Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more"
        " details."
    )
    assert "details" not in info.value.details["error"]
