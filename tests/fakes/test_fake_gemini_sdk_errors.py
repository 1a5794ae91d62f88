"""Every error kind of the simulated Gemini, as google-genai surfaces it."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import errors, types

from .conftest import Served, in_thread

FLASH = "gemini-2.5-flash"
T = "type.googleapis.com/google.rpc."


def _detail(err: errors.APIError, kind: str) -> dict[str, Any]:
    (found,) = [d for d in err.details["error"].get("details", []) if d["@type"] == T + kind]
    return found


async def _generate_error(served: Served, key: str = "k1", model: str = FLASH, **kw: Any) -> Any:
    client = served.client(key=key, **kw)
    with pytest.raises(errors.APIError) as info:
        await in_thread(lambda: client.models.generate_content(model=model, contents="hi"))
    return info.value


async def test_invalid_key(served: Served) -> None:
    err = await _generate_error(served, key="nope")
    assert isinstance(err, errors.ClientError)
    assert (err.code, err.status) == (400, "INVALID_ARGUMENT")
    assert err.message == "API key not valid. Please pass a valid API key."
    info = _detail(err, "ErrorInfo")
    assert info["reason"] == "API_KEY_INVALID"
    assert info["domain"] == "googleapis.com"
    assert _detail(err, "LocalizedMessage")["locale"] == "en-US"
    assert served.sim.requests[0].key == "nope"


async def test_non_oauth_authorization_header_is_401(served: Served) -> None:
    err = await _generate_error(served, headers={"Authorization": "Bearer sk-client-secret"})
    assert (err.code, err.status) == (401, "UNAUTHENTICATED")
    record = served.sim.requests[0]
    assert record.has_authorization
    assert record.authorization == "Bearer sk-client-secret"


async def test_unknown_model_and_embedding_model_are_404(served: Served) -> None:
    err = await _generate_error(served, model="gemini-9-ultra")
    assert (err.code, err.status) == (404, "NOT_FOUND")
    assert err.message == (
        "models/gemini-9-ultra is not found for API version v1beta, or is not supported for"
        " generateContent. Call ListModels to see the list of available models and their"
        " supported methods."
    )
    err = await _generate_error(served, model="gemini-embedding-001", version="v1")
    assert err.code == 404
    assert err.message.startswith(
        "models/gemini-embedding-001 is not found for API version v1, or is not supported for"
        " generateContent."
    )


async def test_unknown_fields_give_field_violations(served: Served) -> None:
    client = served.client()
    params = types.Schema(
        type="OBJECT", properties={"a": types.Schema(type="STRING")}, additional_properties=False
    )
    config = types.GenerateContentConfig(
        tools=[
            types.Tool(
                function_declarations=[types.FunctionDeclaration(name="f", parameters=params)]
            )
        ],
        http_options=types.HttpOptions(extra_body={"generationConfig": {"includeThoughts": True}}),
    )
    with pytest.raises(errors.ClientError) as info:
        await in_thread(
            lambda: client.models.generate_content(model=FLASH, contents="hi", config=config)
        )
    err = info.value
    first = (
        'Invalid JSON payload received. Unknown name "additional_properties" at'
        " 'tools[0].function_declarations[0].parameters': Cannot find field."
    )
    second = (
        'Invalid JSON payload received. Unknown name "includeThoughts" at'
        " 'generation_config': Cannot find field."
    )
    assert (err.code, err.status) == (400, "INVALID_ARGUMENT")
    assert err.message == f"{first}\n{second}"
    assert _detail(err, "BadRequest")["fieldViolations"] == [
        {"field": "tools[0].function_declarations[0].parameters", "description": first},
        {"field": "generation_config", "description": second},
    ]


@pytest.mark.parametrize(
    ("kind", "quota_id", "delay"),
    [
        ("rate_limit_minute", "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "26s"),
        ("rate_limit_day", "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "4.5s"),
    ],
)
async def test_rate_limits(served: Served, kind: str, quota_id: str, delay: str) -> None:
    served.sim.faults.add(kind, key="k1")
    err = await _generate_error(served)
    assert (err.code, err.status) == (429, "RESOURCE_EXHAUSTED")
    (violation,) = _detail(err, "QuotaFailure")["violations"]
    assert violation["quotaId"] == quota_id
    assert violation["quotaDimensions"] == {"location": "global", "model": FLASH}
    assert _detail(err, "RetryInfo") == {"@type": T + "RetryInfo", "retryDelay": delay}
    assert (
        _detail(err, "Help")["links"][0]["url"]
        == "https://ai.google.dev/gemini-api/docs/rate-limits"
    )
    assert served.sim.requests[0].fault == kind
    # times=1: the next call goes through.
    client = served.client()
    ok = await in_thread(lambda: client.models.generate_content(model=FLASH, contents="x"))
    assert ok.text == "Echo: x"


async def test_fractional_retry_delay_and_bare_429(served: Served) -> None:
    served.sim.faults.add("rate_limit_minute", retry_delay="45.837906927s", quota_value="10")
    err = await _generate_error(served)
    assert _detail(err, "RetryInfo")["retryDelay"] == "45.837906927s"
    assert _detail(err, "QuotaFailure")["violations"][0]["quotaValue"] == "10"
    served.sim.faults.add("rate_limit_bare")
    err = await _generate_error(served)
    assert err.code == 429
    assert err.details == {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
        }
    }


@pytest.mark.parametrize(
    ("kind", "code", "status", "message"),
    [
        (
            "internal",
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in"
            " https://developers.generativeai.google/guide/troubleshooting",
        ),
        ("overloaded", 503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        ("deadline", 504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
    ],
)
async def test_server_errors(
    served: Served, kind: str, code: int, status: str, message: str
) -> None:
    served.sim.faults.add(kind)
    err = await _generate_error(served)
    assert isinstance(err, errors.ServerError)
    assert (err.code, err.status, err.message) == (code, status, message)
    assert "details" not in err.details["error"]


async def test_key_faults(served: Served) -> None:
    served.sim.faults.add("invalid_key", key="k2")
    served.sim.faults.add("leaked_key", key="k1", times=None)
    err = await _generate_error(served, key="k2")
    assert _detail(err, "ErrorInfo")["reason"] == "API_KEY_INVALID"
    for _ in range(2):
        err = await _generate_error(served, key="k1")
        assert (err.code, err.status) == (403, "PERMISSION_DENIED")
        assert err.message == "Your API key was reported as leaked. Please use another API key."
    assert served.sim.count(key="k1", status=403) == 2


async def test_midstream_error_after_first_chunk(served: Served) -> None:
    served.sim.faults.add("midstream_error", after_chunks=1, status=503)
    client = served.client()
    seen: list[str] = []

    def consume() -> None:
        for chunk in client.models.generate_content_stream(model=FLASH, contents="a b c d e f"):
            seen.append(chunk.text)

    with pytest.raises(errors.ServerError) as info:
        await in_thread(consume)
    assert seen == ["Echo: a"]
    assert (info.value.code, info.value.status) == (503, "UNAVAILABLE")
    record = served.sim.requests[0]
    assert record.status == 200
    assert len(record.chunks) == 1
    assert record.error == {
        "error": {
            "code": 503,
            "message": "The model is overloaded. Please try again later.",
            "status": "UNAVAILABLE",
        }
    }


async def test_budget_zero_on_pro_rejected(served: Served) -> None:
    client = served.client()
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0))
    with pytest.raises(errors.ClientError) as info:
        await in_thread(
            lambda: client.models.generate_content(
                model="gemini-2.5-pro", contents="x", config=config
            )
        )
    assert info.value.message == "Budget 0 is invalid. This model only works in thinking mode."
