"""The RPC handlers, once auth and faults have been dealt with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import trio

from . import catalog, embed, errors, render
from .checks import check_generate
from .faults import Fault
from .generate import plan
from .respond import JSON_TYPE, SSE_TYPE, Responder
from .tokens import count_request, details
from .validate import normalize
from .wire import pretty


@dataclass
class Knobs:
    """Global behaviour, editable at runtime (tests, `/_sim/config`)."""

    chunks: int = 3
    chunk_delay: float = 0.0
    latency: float = 0.0


def resolve(model_id: str, version: str, rpc: str) -> catalog.ModelInfo:
    model = catalog.lookup(model_id)
    if model is None or not model.supports(rpc):
        raise errors.model_not_found(model_id, version, rpc)
    return model


async def list_models(out: Responder, query: dict[str, str]) -> None:
    size_text = query.get("pageSize", query.get("page_size"))
    size: int | None = None
    if size_text:
        try:
            size = int(size_text)
        except ValueError:
            raise errors.field_violations(
                [("page_size", f"Invalid value at 'page_size' (TYPE_INT32), \"{size_text}\"")]
            ) from None
    page = catalog.list_page(size, query.get("pageToken", query.get("page_token")))
    if page is None:
        raise errors.invalid_argument("Invalid page token.")
    await out.json(200, page)


async def get_model(out: Responder, model_id: str, version: str) -> None:
    model = catalog.lookup(model_id)
    if model is None:
        raise errors.model_not_found(model_id, version, "get")
    await out.json(200, model.resource())


async def count_tokens(out: Responder, model: catalog.ModelInfo, body: Any, version: str) -> None:
    req = normalize("CountTokensRequest", body, version)
    if "generateContentRequest" in req:
        if "contents" in req:
            raise errors.invalid_argument(
                "* CountTokensRequest: contents and generate_content_request are mutually"
                " exclusive.\n"
            )
        inner = req["generateContentRequest"]
        check_generate(model, inner, "CountTokensRequest.generate_content_request")
        per_modality = count_request(inner)
    else:
        check_generate(model, req, "CountTokensRequest")
        per_modality = count_request({"contents": req["contents"]})
    await out.json(
        200,
        {"totalTokens": sum(per_modality.values()), "promptTokensDetails": details(per_modality)},
    )


async def embed_content(
    out: Responder, model: catalog.ModelInfo, body: Any, version: str, batch: bool
) -> None:
    if batch:
        req = normalize("BatchEmbedContentsRequest", body, version)
        await out.json(200, embed.batch_embed(model, req))
    else:
        req = normalize("EmbedContentRequest", body, version)
        await out.json(200, embed.embed_content(model, req))


def prepare(model: catalog.ModelInfo, body: Any, version: str) -> dict[str, Any]:
    req = normalize("GenerateContentRequest", body, version)
    check_generate(model, req, "GenerateContentRequest")
    return req


async def generate(out: Responder, model: catalog.ModelInfo, req: dict[str, Any], seq: int) -> None:
    await out.json(200, render.unary(plan(model, req, seq)))


async def stream_generate(
    out: Responder,
    model: catalog.ModelInfo,
    req: dict[str, Any],
    seq: int,
    knobs: Knobs,
    fault: Fault | None,
) -> None:
    chunks = render.stream(plan(model, req, seq), knobs.chunks)
    stop_at = len(chunks)
    if fault is not None:
        stop_at = max(0, min(fault.after_chunks, len(chunks)))
    if out.record.sse:
        await out.start(200, SSE_TYPE)
    else:
        await out.start(200, JSON_TYPE)
    for i, chunk in enumerate(chunks[:stop_at]):
        if i > 0 and knobs.chunk_delay > 0:
            await trio.sleep(knobs.chunk_delay)
        if out.record.sse:
            await out.sse_chunk(chunk)
        else:
            # The array form: elements pretty-printed, separated by ",\r\n", streamed as they come.
            text = pretty(chunk).rstrip(b"\n")
            await out.write((b"[" if i == 0 else b"\n,\r\n") + text)
            out.record.chunks.append(chunk)
    if fault is not None and fault.kind == "drop_connection":
        # Returning without the final empty body makes hypercorn close mid-message.
        out.record.dropped = True
        return
    if fault is not None and fault.kind == "midstream_error":
        if knobs.chunk_delay > 0 and stop_at > 0:
            await trio.sleep(knobs.chunk_delay)
        err = errors.for_status(fault.status)
        if out.record.sse:
            await out.error_tail(err)
        else:
            out.record.error = err.body()
            await out.write((b"\n,\r\n" if stop_at else b"[") + pretty(err.body()).rstrip(b"\n"))
            await out.finish(b"\n]")
        return
    await out.finish(b"" if out.record.sse else b"\n]")
