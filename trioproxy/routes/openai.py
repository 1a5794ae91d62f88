"""The OpenAI surface: /v1/chat/completions, /v1/embeddings, /v1/models."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from quart import Blueprint, Response, current_app, request

from trioproxy.chat_stream import open_stream, relay
from trioproxy.dispatch import AttemptFailed, Served
from trioproxy.errors import InvalidRequest, UpstreamError
from trioproxy.gateway import Gateway
from trioproxy.pool import KeyState, Transient
from trioproxy.providers.gemini.embed_request import embeddings_to_batch_request
from trioproxy.providers.gemini.embed_response import batch_embed_to_openai
from trioproxy.providers.gemini.failures import Failure
from trioproxy.providers.gemini.models import gemini_model_to_openai, models_page_to_openai
from trioproxy.providers.gemini.request import chat_to_generate_request
from trioproxy.providers.gemini.response import generate_response_to_chat
from trioproxy.providers.gemini.stream import ChatStreamTranslator

blueprint = Blueprint("openai", __name__)
MAX_MODEL_PAGES = 20


def _gateway() -> Gateway:
    gateway: Gateway = current_app.gateway  # type: ignore[attr-defined]
    return gateway


async def _json_body() -> dict[str, Any]:
    raw = await request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest(f"We could not parse the JSON body of your request: {error}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def _served_headers(served: Served[Any]) -> dict[str, str]:
    # Decision transparency: which key (by name) answered and after how many attempts.
    return {"x-trioproxy-key": served.key, "x-trioproxy-attempts": str(served.attempts)}


async def _read_json(gateway: Gateway, key: KeyState, http_request: httpx.Request) -> Any:
    response = await gateway.dispatcher.send(http_request, key.spec.secret)
    try:
        raw = await response.aread()
    except httpx.TransportError as error:
        raise _transient(f"upstream connection lost: {type(error).__name__}") from None
    finally:
        await response.aclose()
    try:
        return json.loads(raw)
    except ValueError:
        raise _transient("upstream returned a body that is not JSON") from None


def _transient(message: str) -> AttemptFailed:
    return AttemptFailed(
        Failure(
            Transient(message),
            UpstreamError(message, status=502, type="server_error", code="upstream_error"),
        )
    )


@blueprint.post("/v1/chat/completions")
async def chat_completions() -> Response:
    gateway = _gateway()
    body = await _json_body()
    model = gateway.resolve_model(body.get("model"))
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise InvalidRequest("`stream` must be a boolean.", param="stream")
    include_usage = _include_usage(body.get("stream_options"))
    generate_body = chat_to_generate_request(body, model)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    deadline = gateway.dispatcher.deadline()

    if stream:

        def translator() -> ChatStreamTranslator:
            return ChatStreamTranslator(
                model=model,
                completion_id=completion_id,
                created=created,
                include_usage=include_usage,
            )

        async def attempt(key: KeyState) -> Any:
            api = gateway.api_for(key)
            upstream_request = api.generate(
                gateway.http, model, generate_body, key.spec.secret, stream=True
            )
            return await open_stream(gateway.dispatcher, key, upstream_request, translator)

        served = await gateway.dispatcher.run(model, attempt, deadline=deadline)
        response = Response(
            relay(served.result, deadline),
            status=200,
            content_type="text/event-stream",
            headers={"cache-control": "no-cache", **_served_headers(served)},
        )
        response.timeout = None  # Quart's 60 s default would silently cut long streams
        return response

    async def unary(key: KeyState) -> Any:
        api = gateway.api_for(key)
        upstream_request = api.generate(
            gateway.http, model, generate_body, key.spec.secret, stream=False
        )
        return await _read_json(gateway, key, upstream_request)

    served = await gateway.dispatcher.run(model, unary, deadline=deadline)
    completion = generate_response_to_chat(
        served.result, model=model, completion_id=completion_id, created=created
    )
    return _json_response(completion, _served_headers(served))


def _include_usage(options: object) -> bool:
    if options is None:
        return False
    if not isinstance(options, dict):
        raise InvalidRequest("`stream_options` must be an object.", param="stream_options")
    value = options.get("include_usage", False)
    if not isinstance(value, bool):
        raise InvalidRequest(
            "`stream_options.include_usage` must be a boolean.",
            param="stream_options.include_usage",
        )
    return value


@blueprint.post("/v1/embeddings")
async def embeddings() -> Response:
    gateway = _gateway()
    body = await _json_body()
    model = gateway.resolve_model(body.get("model"))
    plan = embeddings_to_batch_request(body, model)

    async def attempt(key: KeyState) -> Any:
        api = gateway.api_for(key)
        return await _read_json(
            gateway, key, api.batch_embed(gateway.http, model, plan.gemini_body, key.spec.secret)
        )

    served = await gateway.dispatcher.run(model, attempt)
    # batchEmbedContents reports no token counts today; newer responses may carry them.
    usage = served.result.get("usageMetadata") if isinstance(served.result, dict) else None
    tokens = usage.get("promptTokenCount") if isinstance(usage, dict) else None
    result = batch_embed_to_openai(
        served.result,
        model=model,
        encoding_format=plan.encoding_format,
        prompt_tokens=tokens if isinstance(tokens, int) else 0,
        normalize=body.get("dimensions") is not None,
    )
    return _json_response(result, _served_headers(served))


@blueprint.get("/v1/models")
async def list_models() -> Response:
    gateway = _gateway()

    async def attempt(key: KeyState) -> list[Any]:
        api = gateway.api_for(key)
        models: list[Any] = []
        token: str | None = None
        # Follow nextPageToken: Gemini pages at 50 by default and the catalogue is larger.
        for _ in range(MAX_MODEL_PAGES):
            page = await _read_json(
                gateway, key, api.list_models(gateway.http, key.spec.secret, token)
            )
            models.extend(page.get("models") or [])
            token = page.get("nextPageToken")
            if not token:
                break
        return models

    # Listing models spends no per-model quota, so it is not tied to any model's cooldowns.
    served = await gateway.dispatcher.run("", attempt)
    return _json_response(models_page_to_openai(served.result), _served_headers(served))


@blueprint.get("/v1/models/<path:model_id>")
async def get_model(model_id: str) -> Response:
    gateway = _gateway()
    model = gateway.resolve_model(model_id)

    async def attempt(key: KeyState) -> Any:
        api = gateway.api_for(key)
        return await _read_json(gateway, key, api.get_model(gateway.http, model, key.spec.secret))

    served = await gateway.dispatcher.run("", attempt)
    return _json_response(gemini_model_to_openai(served.result), _served_headers(served))


def _json_response(payload: Any, headers: dict[str, str]) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    response = Response(body, status=200, content_type="application/json", headers=headers)
    response.timeout = None
    return response
