"""Byte-level fidelity: SSE framing, pretty bodies, headers, strictness messages."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import Served

GEN = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
HELLO = {"contents": [{"parts": [{"text": "hello big world"}]}]}


async def _post(served: Served, path: str, body: Any, **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", {"x-goog-api-key": "k1"})
    async with httpx.AsyncClient(base_url=served.url) as client:
        if isinstance(body, str):
            return await client.post(path, content=body, headers=headers, **kw)
        return await client.post(path, json=body, headers=headers, **kw)


def _is_pretty(raw: bytes) -> bool:
    return raw == (json.dumps(json.loads(raw), indent=2, ensure_ascii=False) + "\n").encode()


async def test_sse_framing_is_byte_exact(served: Served) -> None:
    resp = await _post(served, STREAM + "?alt=sse", HELLO)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/event-stream"
    raw = resp.content
    assert raw.endswith(b"\r\n\r\n")
    assert b"[DONE]" not in raw
    events = raw.split(b"\r\n\r\n")
    assert events[-1] == b""
    events = events[:-1]
    assert len(events) == 3
    chunks = []
    for event in events:
        assert event.startswith(b"data: {")
        assert b"\n" not in event
        assert b"\r" not in event
        payload = event[len(b"data: ") :].decode()
        chunk = json.loads(payload)
        # ESF style: ": " after keys, no space after commas.
        assert payload == json.dumps(chunk, separators=(",", ": "))
        chunks.append(chunk)
    assert [list(c) for c in chunks] == [
        ["candidates", "usageMetadata", "modelVersion", "responseId"]
    ] * 3
    assert ["finishReason" in c["candidates"][0] for c in chunks] == [False, False, True]
    texts = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert texts == "Echo: hello big world"


async def test_stream_without_alt_is_a_json_array(served: Served) -> None:
    resp = await _post(served, STREAM, HELLO)
    assert resp.headers["content-type"] == "application/json; charset=UTF-8"
    chunks = resp.json()
    assert isinstance(chunks, list)
    assert len(chunks) == 3
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert resp.content.startswith(b"[{\n")
    assert b"\n,\r\n{" in resp.content


async def test_unary_body_is_pretty_with_trailing_newline(served: Served) -> None:
    resp = await _post(served, GEN, HELLO)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json; charset=UTF-8"
    assert _is_pretty(resp.content)
    assert resp.content.startswith(b'{\n  "candidates": [\n')


async def test_429_has_no_retry_after_and_pre_stream_error_is_not_json(served: Served) -> None:
    served.sim.faults.add("rate_limit_minute", times=2)
    resp = await _post(served, GEN, HELLO)
    assert resp.status_code == 429
    assert "retry-after" not in resp.headers
    assert _is_pretty(resp.content)
    resp = await _post(served, STREAM + "?alt=sse", HELLO)
    assert resp.status_code == 429
    assert "retry-after" not in resp.headers
    assert resp.headers["content-type"] == "text/event-stream"
    assert resp.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


async def test_midstream_tail_is_raw_pretty_json(served: Served) -> None:
    served.sim.faults.add("midstream_error", after_chunks=2, status=500)
    resp = await _post(served, STREAM + "?alt=sse", HELLO)
    assert resp.status_code == 200
    head, tail = resp.content.rsplit(b"\r\n\r\n", 1)
    assert head.count(b"data: ") == 2
    assert _is_pretty(tail)
    assert json.loads(tail)["error"]["code"] == 500


async def test_auth_variants(served: Served) -> None:
    resp = await _post(served, GEN, HELLO, headers={})
    assert resp.status_code == 403
    assert resp.json() == {
        "error": {
            "code": 403,
            "message": "Method doesn't allow unregistered callers (callers without established"
            " identity). Please use API Key or other form of API consumer identity to call this"
            " API.",
            "status": "PERMISSION_DENIED",
        }
    }
    resp = await _post(served, GEN + "?key=k2", HELLO, headers={})
    assert resp.status_code == 200
    record = served.sim.requests[-1]
    assert (record.key, record.key_source, record.query) == ("k2", "query", {"key": "k2"})
    resp = await _post(
        served, GEN, HELLO, headers={"x-goog-api-key": "k1", "authorization": "Bearer sk-1"}
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["message"].startswith(
        "Request had invalid authentication credentials. Expected OAuth 2 access token"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contents": []}, "* GenerateContentRequest.contents: contents is not specified\n"),
        (
            {"contents": [{"parts": [{"text": "a"}]}, {"role": "model", "parts": []}]},
            "* GenerateContentRequest.contents[1].parts: contents.parts must not be empty.\n",
        ),
    ],
)
async def test_semantic_400s_have_no_details(served: Served, body: Any, message: str) -> None:
    resp = await _post(served, GEN, body)
    assert resp.status_code == 400
    assert resp.json() == {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}


async def test_strictness_paths_and_casing(served: Served) -> None:
    body = {
        "contents": [{"parts": [{"text": "a", "bogus": 1}]}],
        "tools": [
            {
                "function_declarations": [
                    {
                        "name": "f",
                        "parameters": {
                            "type": "object",
                            "$schema": "x",
                            "properties": {"q": {"type": "string", "const": "v"}},
                        },
                    }
                ]
            }
        ],
        "extra": True,
    }
    resp = await _post(served, GEN, body)
    error = resp.json()["error"]
    assert resp.status_code == 400
    fields = [v.get("field") for v in error["details"][0]["fieldViolations"]]
    assert fields == [
        "contents[0].parts[0]",
        "tools[0].function_declarations[0].parameters",
        "tools[0].function_declarations[0].parameters.properties[0].value",
        None,
    ]
    assert error["message"].splitlines()[-1] == (
        'Invalid JSON payload received. Unknown name "extra": Cannot find field.'
    )
    # snake_case proto names are accepted everywhere, and so are trailing commas.
    ok = (
        '{"contents": [{"parts": [{"text": "x"},],},], "generation_config":'
        ' {"thinking_config": {"include_thoughts": true, "thinking_budget": 4,},},}'
    )
    resp = await _post(served, GEN, ok)
    assert resp.status_code == 200
    assert resp.json()["usageMetadata"]["thoughtsTokenCount"] == 4
    # responseJsonSchema is free JSON Schema: additionalProperties and $ref are fine there.
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"n": {"$ref": "#/$defs/N"}},
        "required": ["n"],
        "$defs": {"N": {"type": "integer", "minimum": 5}},
    }
    config = {"responseMimeType": "application/json", "responseJsonSchema": schema}
    resp = await _post(served, GEN, {**HELLO, "generationConfig": config})
    text = resp.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert json.loads(text) == {"n": 5}


async def test_unknown_path_is_html_404(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        resp = await client.get("/v2/models", headers={"x-goog-api-key": "k1"})
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")


async def test_models_list_page_size(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        resp = await client.get("/v1/models?pageSize=1000&key=k1")
        many = resp.json()
        assert "nextPageToken" not in many
        assert len(many["models"]) > 50
        resp = await client.get("/v1/models?pageSize=20&key=k1")
        page = resp.json()
        assert len(page["models"]) == 20
        resp = await client.get(f"/v1/models?pageSize=20&pageToken={page['nextPageToken']}&key=k1")
        assert resp.json()["models"][0] == many["models"][20]
        resp = await client.get("/v1/models/gemini-2.0-flash?key=k1")
        assert resp.json()["version"] == "2.0"
        assert resp.json()["outputTokenLimit"] == 8192
        assert _is_pretty(resp.content)


async def test_gemini3_text_signature_and_thinking_level(served: Served) -> None:
    path = "/v1beta/models/gemini-3-flash-preview:streamGenerateContent?alt=sse"
    body = {**HELLO, "generationConfig": {"thinkingConfig": {"thinkingLevel": "low"}}}
    resp = await _post(served, path, body)
    events = [json.loads(e[6:]) for e in resp.content.split(b"\r\n\r\n") if e]
    # Gemini 3 streams end with an empty text part that only carries the signature.
    last = events[-1]["candidates"][0]
    assert last["finishReason"] == "STOP"
    (part,) = last["content"]["parts"]
    assert part["text"] == ""
    assert part["thoughtSignature"]
    # "low" thinking spends 32 tokens plus the prompt's 4.
    assert events[-1]["usageMetadata"]["thoughtsTokenCount"] == 36
    unary = await _post(
        served, path.replace("streamGenerateContent?alt=sse", "generateContent"), body
    )
    (text_part,) = unary.json()["candidates"][0]["content"]["parts"]
    assert text_part["text"] == "Echo: hello big world"
    assert text_part["thoughtSignature"] != part["thoughtSignature"]  # per response
