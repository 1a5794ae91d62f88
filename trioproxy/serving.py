"""Serving an ASGI app with hypercorn's trio worker, in this trio run.

Used by `trioproxy serve`, by the offline demo (which hosts the simulated Gemini on a
loopback port beside the proxy), by the end-to-end tests and by the benchmarks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve


def hypercorn_config(bind: str, *, graceful_timeout: float = 30.0) -> HypercornConfig:
    config = HypercornConfig()
    config.bind = [bind]
    config.graceful_timeout = graceful_timeout
    # Access lines come from trioproxy's own logging, not hypercorn's.
    config.accesslog = None
    config.errorlog = "-"
    # trioproxy logs its own "listening" event; hypercorn keeps warnings and errors.
    config.loglevel = "WARNING"
    # A burst of new connections (clients opening many streams at once) must queue in the
    # kernel, not be refused: hypercorn's default accept backlog is 100.
    config.backlog = 4096
    # LLM requests can sit for minutes before the first byte; the default 5 s keep-alive is
    # about idle connections between requests, so it stays.
    return config


async def serve_app(
    app: Any,
    bind: str = "127.0.0.1:0",
    *,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    graceful_timeout: float = 30.0,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `app` on `bind`; reports `http://host:port` (the real port when bound to 0)."""
    config = hypercorn_config(bind, graceful_timeout=graceful_timeout)

    class _Reporter:
        # hypercorn reports every bound address; callers want the first, as a base URL.
        def started(self, binds: list[str] | None = None) -> None:
            task_status.started((binds or [f"http://{bind}"])[0])

    kwargs: dict[str, Any] = {"task_status": _Reporter()}
    if shutdown_trigger is not None:
        kwargs["shutdown_trigger"] = shutdown_trigger
    await serve(app, config, **kwargs)
