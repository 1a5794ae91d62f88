"""Writing responses over ASGI, with the headers and byte layout the real service uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .errors import GeminiError
from .records import RequestRecord
from .wire import pretty, sse_event

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

JSON_TYPE = "application/json; charset=UTF-8"
SSE_TYPE = "text/event-stream"

_COMMON = [
    (b"vary", b"Origin, X-Origin, Referer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-xss-protection", b"0"),
    (b"server-timing", b"gfet4t7; dur=1"),
]

NOT_FOUND_HTML = (
    b"<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
    b"  <title>Error 404 (Not Found)!!1</title>\n"
    b"  <p><b>404.</b> <ins>That\xe2\x80\x99s an error.</ins>\n"
    b"  <p>The requested URL was not found on this server."
    b"  <ins>That\xe2\x80\x99s all we know.</ins>\n"
)


def headers(content_type: str) -> list[tuple[bytes, bytes]]:
    # Deliberately no Retry-After, even on 429: the wait lives only in RetryInfo.
    return [(b"content-type", content_type.encode()), *_COMMON]


class Responder:
    """Sends one response and keeps the record in step with what went on the wire."""

    def __init__(self, send: Send, record: RequestRecord, changed: Callable[[], None]) -> None:
        self._send = send
        self.record = record
        self._changed = changed
        self.started = False
        # Set just before the last write: hypercorn reports http.disconnect as soon as the
        # response is done, which must not count as the client hanging up on us.
        self.finishing = False

    async def start(self, status: int, content_type: str) -> None:
        await self._send(
            {"type": "http.response.start", "status": status, "headers": headers(content_type)}
        )
        self.started = True
        self.record.status = status
        self._changed()

    async def write(self, data: bytes) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def finish(self, data: bytes = b"") -> None:
        # Marked before the last write so a test that has just read the whole response never
        # races the server task to see the flag.
        self.finishing = True
        self.record.completed = True
        self._changed()
        await self._send({"type": "http.response.body", "body": data, "more_body": False})

    async def json(self, status: int, obj: Any) -> None:
        await self.start(status, JSON_TYPE)
        if status == 200:
            self.record.response = obj
        await self.finish(pretty(obj))

    async def error(self, err: GeminiError) -> None:
        # Pre-stream errors on alt=sse are not labelled JSON (see reference 1.4).
        content_type = SSE_TYPE if self.record.sse else JSON_TYPE
        self.record.error = err.body()
        await self.start(err.code, content_type)
        await self.finish(pretty(err.body()))

    async def html_not_found(self) -> None:
        await self.start(404, "text/html; charset=UTF-8")
        await self.finish(NOT_FOUND_HTML)

    async def sse_chunk(self, chunk: dict[str, Any]) -> None:
        await self.write(sse_event(chunk))
        self.record.chunks.append(chunk)
        self._changed()

    async def error_tail(self, err: GeminiError) -> None:
        """The raw pretty JSON error after stream data, as its own write; status stays 200."""
        self.record.error = err.body()
        await self.write(pretty(err.body()))
        await self.finish()
