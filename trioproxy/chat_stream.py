"""Streaming chat completions: open with retries, then relay without ever retrying.

Rule 1: the client sees no byte until an upstream stream has produced its first OpenAI
        chunk. Until then a failure (error status, connection error, a stall, an error
        tail, malformed data) is just a failed attempt and the next key is tried.
Rule 2: after the first byte, a failure becomes one OpenAI error event, then `[DONE]`:
        text is never duplicated, and an upstream that stops without saying it finished is
        reported as an error, never passed off as a complete answer.
Rule 3: the upstream response is closed on every path: end, error, cancellation, and
        the client leaving before the body even started (see `cleanup`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from trioproxy import logs
from trioproxy.codec import dumps
from trioproxy.dispatch import AttemptFailed, Dispatcher, transient
from trioproxy.drain import Drain
from trioproxy.errors import GatewayTimeout, ProxyError, ShuttingDown
from trioproxy.pool import KeyState, Outcome, Transient
from trioproxy.providers.gemini.failures import Failure, classify_error
from trioproxy.providers.gemini.sse import DataEvent, ErrorTail, GeminiSSEParser, NeedData
from trioproxy.providers.gemini.stream import ChatStreamTranslator
from trioproxy.providers.gemini.usage import Usage
from trioproxy.request_scope import close, register_response
from trioproxy.secret import Secret

DONE = b"data: [DONE]\n\n"


def encode_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + dumps(payload) + b"\n\n"


@dataclass(slots=True)
class OpenStream:
    """An upstream stream that has produced output, with that output not yet sent."""

    key: KeyState
    response: httpx.Response
    chunks: AsyncIterator[bytes]
    parser: GeminiSSEParser
    translator: ChatStreamTranslator
    pending: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False


async def open_stream(
    dispatcher: Dispatcher,
    key: KeyState,
    request: httpx.Request,
    make_translator: Callable[[], ChatStreamTranslator],
) -> OpenStream:
    """One attempt: send, then read until the translator has output (or the stream ended)."""
    response = await dispatcher.send(request, key.spec.secret)
    register_response(response)
    stream = OpenStream(key, response, response.aiter_bytes(), GeminiSSEParser(), make_translator())
    try:
        while not stream.pending and not stream.ended:
            stream.pending.extend(await _next_chunks(stream))
    except BaseException:
        await close(stream.response)
        raise
    return stream


async def _next_chunks(stream: OpenStream) -> list[dict[str, Any]]:
    """Read and translate until some chunks are ready or the upstream ends.

    Raises AttemptFailed for an error tail, a broken connection or an unfinished end."""
    secret = stream.key.spec.secret
    while True:
        event = stream.parser.next_event()
        if isinstance(event, DataEvent):
            document = json.loads(event.data)
            if isinstance(document, dict) and "error" in document:
                # An error framed as a data event (other Gemini front ends do this): same
                # meaning as the raw tail.
                raise AttemptFailed(_tail_failure(event.data, secret))
            chunks = stream.translator.feed(document)
            if chunks:
                return chunks
        elif isinstance(event, ErrorTail):
            raise AttemptFailed(_tail_failure(event.body, secret))
        elif event is None:
            if not stream.translator.complete:
                raise transient(
                    "the upstream stream ended before the answer was finished",
                    code="upstream_stream_error",
                )
            stream.ended = True
            return stream.translator.finish()
        elif isinstance(event, NeedData):
            try:
                data = await stream.chunks.__anext__()
            except StopAsyncIteration:
                stream.parser.feed_eof()
            else:
                stream.parser.feed(data)


async def relay(
    stream: OpenStream,
    deadline: float,
    report: Callable[[Outcome], None],
    finished: Callable[[Usage, bool], None],
    drain: Drain,
) -> AsyncIterator[bytes]:
    """The response body: pending chunks, then the rest of the upstream, then [DONE].

    `report` hears a mid-stream failure; `finished(usage, completed)` hears, however the
    relay ends, the usage and whether the whole answer went out (False after a failure,
    and when the client left early: then there is no verdict on the key).

    Awaits happen inside `drain.guard(deadline)` (the request's deadline, or the end of
    the shutdown grace), yields outside it: a cancel scope must not stay open across a
    `yield` of an async generator.
    """
    completed = False
    try:
        while True:
            for chunk in stream.pending:
                yield encode_event(chunk)
            stream.pending.clear()
            if stream.ended:
                completed = True
                break
            error: ProxyError | None = None
            with drain.guard(deadline) as scope:
                try:
                    stream.pending.extend(await _next_chunks(stream))
                except AttemptFailed as failed:
                    error = failed.failure.error
                    report(failed.failure.outcome)
                except Exception as unexpected:
                    error = _unusable(stream, unexpected).failure.error
                    report(Transient(error.message))
            if drain.cut(scope):
                error = ShuttingDown()
            elif scope.cancelled_caught:
                error = GatewayTimeout("the stream did not complete within the request deadline")
            if error is not None:
                yield encode_event(error.envelope())
                break
        yield DONE
    finally:
        await close(stream.response)
        finished(stream.translator.usage, completed)


def _unusable(stream: OpenStream, error: Exception) -> AttemptFailed:
    if isinstance(error, httpx.RequestError):
        return transient(
            f"upstream connection lost: {type(error).__name__}", code="upstream_stream_error"
        )
    logs.EVENTS.warning(
        "upstream stream could not be used",
        exc_info=True,
        extra={"fields": {"key": stream.key.name}},
    )
    return transient(
        f"upstream sent a malformed stream ({type(error).__name__})", code="upstream_stream_error"
    )


def _tail_failure(body: str, secret: Secret) -> Failure:
    try:
        code = int(json.loads(body)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        code = 502
    return classify_error(code, body, secret=secret)
