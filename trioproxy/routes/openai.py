"""The OpenAI surface: /v1/chat/completions, /v1/embeddings, /v1/models.

Each route validates and translates the client's request before any upstream call, then
hands the dispatcher one `attempt(key)` that does everything up to the first byte the
client will see (including translating the answer back), so a malformed upstream answer
is a failed attempt like any other.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from quart import Blueprint, Response, g, request

from trioproxy.chat_stream import open_stream, relay
from trioproxy.codec import dumps
from trioproxy.decisions import RequestInfo
from trioproxy.dispatch import Served
from trioproxy.errors import InvalidRequest, PermissionDenied
from trioproxy.gateway import Gateway
from trioproxy.pool import KeyState, Outcome, Success
from trioproxy.providers.gemini.embed_request import embeddings_to_batch_request
from trioproxy.providers.gemini.embed_response import batch_embed_to_openai
from trioproxy.providers.gemini.models import gemini_model_to_openai, models_page_to_openai
from trioproxy.providers.gemini.request import chat_to_generate_request
from trioproxy.providers.gemini.response import generate_response_to_chat
from trioproxy.providers.gemini.stream import ChatStreamTranslator
from trioproxy.providers.gemini.usage import Usage
from trioproxy.request_scope import on_request_end
from trioproxy.tenancy.registry import Grant
from trioproxy.upstream import encode_json

blueprint = Blueprint("openai", __name__)
MAX_MODEL_PAGES = 20


def _gateway() -> Gateway:
    # Pinned when the request was admitted: a reload mid-request does not change it.
    gateway: Gateway = g.gateway
    return gateway


async def _json_body() -> dict[str, Any]:
    raw = await request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest(f"We could not parse the JSON body of your request: {error}") from None
    except RecursionError:
        raise InvalidRequest("The JSON body of your request is nested too deeply.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def _grant() -> Grant | None:
    caller = g.get("caller")
    return caller.grant if caller is not None else None


def _upstreams() -> tuple[str, ...] | None:
    """The upstreams the caller's project may use (None: any)."""
    grant = _grant()
    return grant.project.upstreams if grant is not None else None


def _model(gateway: Gateway, requested: object) -> str:
    """The Gemini model for the client's `model`, if the caller's project may use it (by
    the name it asked for or the one an alias resolves to)."""
    model = gateway.resolve_model(requested)
    grant = _grant()
    if grant is not None and not grant.allows_model(model, str(requested)):
        raise PermissionDenied(
            f"Project {grant.project.name!r} may not use the model {requested!r}.",
            param="model",
            code="model_not_allowed",
        )
    return model


def _info() -> RequestInfo:
    # Kept on `g`: the access log and the metrics read the decision record from it.
    info = g.info = RequestInfo(g.get("request_id", ""), request.path)
    event = g.get("event")
    if event is not None:
        event["_info"] = info  # for the usage event of a request the client leaves
    return info


def _tokens(result: dict[str, Any]) -> tuple[int, int, int]:
    """(prompt, completion, reasoning) tokens of a translated answer (embeddings: prompt
    only); also noted for the access log."""
    usage = result.get("usage")
    if not isinstance(usage, dict):
        return 0, 0, 0
    details = usage.get("completion_tokens_details")
    counts = (
        usage.get("prompt_tokens"),
        usage.get("completion_tokens"),
        details.get("reasoning_tokens") if isinstance(details, dict) else 0,
    )
    prompt, completion, reasoning = (n if isinstance(n, int) else 0 for n in counts)
    g.tokens = prompt + completion
    _note_tokens(g.get("event"), prompt, completion, reasoning)
    return prompt, completion, reasoning


def _note_tokens(
    event: dict[str, Any] | None, prompt: int, completion: int, reasoning: int
) -> None:
    # Into the request's usage event (trioproxy.events), when the log is on.
    if event is not None:
        event.update(prompt_tokens=prompt, completion_tokens=completion, reasoning_tokens=reasoning)


def _served_headers(served: Served[Any]) -> dict[str, str]:
    # Decision transparency: which key (by name) answered and after how many attempts.
    return {"x-trioproxy-key": served.key.name, "x-trioproxy-attempts": str(served.attempts)}


@blueprint.post("/v1/chat/completions")
async def chat_completions() -> Response:
    gateway = _gateway()
    body = await _json_body()
    model = _model(gateway, body.get("model"))
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise InvalidRequest("`stream` must be a boolean.", param="stream")
    include_usage = _include_usage(body.get("stream_options"))
    payload = encode_json(chat_to_generate_request(body, model))
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    dispatcher = gateway.dispatcher
    deadline = dispatcher.deadline()

    if stream:

        def translator() -> ChatStreamTranslator:
            return ChatStreamTranslator(
                model=model,
                completion_id=completion_id,
                created=created,
                include_usage=include_usage,
            )

        async def open_attempt(key: KeyState) -> Any:
            upstream = gateway.api_for(key).generate(
                gateway.http, model, payload, key.spec.secret, stream=True
            )
            return await open_stream(dispatcher, key, upstream, translator)

        served = await dispatcher.run(
            model, open_attempt, deadline=deadline, hold=True, info=_info(), upstreams=_upstreams()
        )
        pick = served.pick
        # The key counts as in flight until the relay ends; also if the client leaves
        # before the body even starts.
        on_request_end(lambda: dispatcher.release(pick))

        def report(outcome: Outcome) -> None:
            dispatcher.judge_stream(served, outcome)

        event = g.get("event")  # the relay runs after the request context: taken now

        def finished(usage: Usage, completed: bool) -> None:
            if completed:
                # The stream's verdict: only a whole answer counts as a success.
                dispatcher.judge_stream(served, Success())
            dispatcher.record_tokens(
                pick, usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens
            )
            _note_tokens(
                event, usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens
            )
            if event is not None:
                event["completed"] = completed
            dispatcher.release(pick)

        response = Response(
            relay(served.result, deadline, report, finished, dispatcher.drain),
            status=200,
            content_type="text/event-stream",
            headers={"cache-control": "no-cache", **_served_headers(served)},
        )
        response.timeout = None  # Quart's 60 s default would silently cut long streams
        return response

    async def unary_attempt(key: KeyState) -> dict[str, Any]:
        upstream = gateway.api_for(key).generate(
            gateway.http, model, payload, key.spec.secret, stream=False
        )
        answer = await dispatcher.fetch_json(upstream, key.spec.secret)
        return generate_response_to_chat(
            answer, model=model, completion_id=completion_id, created=created
        )

    served_unary = await dispatcher.run(
        model, unary_attempt, deadline=deadline, info=_info(), upstreams=_upstreams()
    )
    dispatcher.record_tokens(served_unary.pick, *_tokens(served_unary.result))
    return _json_response(served_unary.result, _served_headers(served_unary))


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
    model = _model(gateway, body.get("model"))
    plan = embeddings_to_batch_request(body, model)
    payload = encode_json(plan.gemini_body)
    normalize = body.get("dimensions") is not None

    async def attempt(key: KeyState) -> dict[str, Any]:
        upstream = gateway.api_for(key).batch_embed(gateway.http, model, payload, key.spec.secret)
        answer = await gateway.dispatcher.fetch_json(upstream, key.spec.secret)
        # batchEmbedContents reports no token counts today; newer responses may carry them.
        usage = answer.get("usageMetadata")
        tokens = usage.get("promptTokenCount") if isinstance(usage, dict) else None
        return batch_embed_to_openai(
            answer,
            model=model,
            encoding_format=plan.encoding_format,
            prompt_tokens=tokens if isinstance(tokens, int) else 0,
            normalize=normalize,
        )

    served = await gateway.dispatcher.run(model, attempt, info=_info(), upstreams=_upstreams())
    gateway.dispatcher.record_tokens(served.pick, *_tokens(served.result))
    return _json_response(served.result, _served_headers(served))


@blueprint.get("/v1/models")
async def list_models() -> Response:
    gateway = _gateway()

    async def attempt(key: KeyState) -> dict[str, Any]:
        api = gateway.api_for(key)
        models: dict[str, Any] = {}
        token: str | None = None
        seen_tokens: set[str] = set()
        # Follow nextPageToken: Gemini pages at 50 by default and the catalogue is larger.
        # Bounded, and stopped on a repeated token, so a looping upstream cannot loop us.
        for _ in range(MAX_MODEL_PAGES):
            request_ = api.list_models(gateway.http, key.spec.secret, token)
            page = await gateway.dispatcher.fetch_json(request_, key.spec.secret)
            for model in page.get("models") or []:
                models.setdefault(model.get("name"), model)
            token = page.get("nextPageToken")
            if not token or token in seen_tokens:
                break
            seen_tokens.add(token)
        listed = models_page_to_openai(models.values())
        grant = _grant()
        if grant is not None:  # only the models the caller's project may use
            listed["data"] = [m for m in listed["data"] if grant.allows_model(m["id"])]
        return listed

    # Listing models spends no per-model quota, so it is not tied to any model's cooldowns.
    served = await gateway.dispatcher.run("", attempt, info=_info(), upstreams=_upstreams())
    return _json_response(served.result, _served_headers(served))


@blueprint.get("/v1/models/<path:model_id>")
async def get_model(model_id: str) -> Response:
    gateway = _gateway()
    model = _model(gateway, model_id)

    async def attempt(key: KeyState) -> dict[str, Any]:
        upstream = gateway.api_for(key).get_model(gateway.http, model, key.spec.secret)
        return gemini_model_to_openai(
            await gateway.dispatcher.fetch_json(upstream, key.spec.secret)
        )

    served = await gateway.dispatcher.run("", attempt, info=_info(), upstreams=_upstreams())
    return _json_response(served.result, _served_headers(served))


def _json_response(payload: Any, headers: dict[str, str]) -> Response:
    response = Response(
        dumps(payload), status=200, content_type="application/json", headers=headers
    )
    response.timeout = None
    return response
