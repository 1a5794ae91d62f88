"""What one HTTP request holds open, released when the request ends, whatever happened.

Quart starts a streamed body only after sending the response head; a client that leaves
before that never runs the body's cleanup. So every upstream response a request opens,
and every pool pick it keeps lent (a stream's key stays "in flight" until the relay
ends), is registered here and released by `TrioProxyApp.__call__` when the request ends.
Releasing twice is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

import httpx
import trio

from trioproxy import logs


class RequestScope:
    __slots__ = ("finalizers", "responses")

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []
        self.finalizers: list[Callable[[], None]] = []

    async def close(self) -> None:
        # Finalizers first, and each response on its own: one failure must not leave a
        # key lent for ever (a stuck trial would never be decided).
        try:
            for finalize in self.finalizers:
                finalize()
        finally:
            for response in self.responses:
                try:
                    await close(response)
                except Exception:
                    logs.EVENTS.warning("closing an upstream response failed", exc_info=True)


current: ContextVar[RequestScope | None] = ContextVar("request_scope", default=None)


def register_response(response: httpx.Response) -> None:
    scope = current.get()
    if scope is not None:
        scope.responses.append(response)


def on_request_end(finalize: Callable[[], None]) -> None:
    scope = current.get()
    if scope is not None:
        scope.finalizers.append(finalize)


async def close(response: httpx.Response) -> None:
    # Shielded so a cancelled request still releases its connection, and bounded so a
    # wedged socket cannot hold the request's task forever.
    with trio.CancelScope(deadline=trio.current_time() + 5, shield=True):
        await response.aclose()
