"""`trioproxy serve`: build the app, serve it with hypercorn's trio worker, and shut it
down in order on a signal."""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import replace
from functools import partial

import trio
from hypercorn.utils import LifespanFailureError

from trioproxy import logs
from trioproxy.app import TrioProxyApp, create_app, open_access, open_state
from trioproxy.config import ConfigError
from trioproxy.runtime import resolve
from trioproxy.serving import serve_app
from trioproxy.settings import Settings
from trioproxy.state.store import StoreError

# How long hypercorn waits, after our own cut-off, for the cut requests to send their end.
CUT_MARGIN = 5.0


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.config:
        settings = replace(settings, config_path=args.config)
    logs.configure(settings.log_level)
    try:
        runtime = resolve(settings)
    except ConfigError as error:
        print(f"trioproxy: {error}", file=sys.stderr)
        return 2
    try:
        opened = open_state(settings)
        # After the state store: it holds the data directory's lock.
        opened_access = open_access(settings)
    except StoreError as error:
        print(f"trioproxy: {error}", file=sys.stderr)
        return 2
    app = create_app(settings, runtime=runtime, opened=opened, opened_access=opened_access)
    try:
        grace = args.graceful_timeout
        trio.run(_serve, app, args.bind, settings.graceful_timeout if grace is None else grace)
    except BaseExceptionGroup as group:
        # The app could not start (e.g. another gateway holds the data directory): the
        # reason was logged by the lifespan; exit non-zero without a traceback.
        failed = group.subgroup(LifespanFailureError)
        if failed is None:
            raise
        print(f"trioproxy: could not start: {_first(failed)}", file=sys.stderr)
        return 2
    return 0


async def _serve(app: TrioProxyApp, bind: str, grace: float) -> None:
    """Serve until SIGINT/SIGTERM, then shut down in order: stop accepting; give requests
    in flight `grace` seconds; cut the rest cleanly (trioproxy.drain); stop the services
    (state flushed); close the upstream client. A second signal cuts at once."""
    stopping = trio.Event()

    async def on_signals(nursery: trio.Nursery) -> None:
        # One receiver for the process's whole life: a SIGHUP at any moment (starting,
        # a crashed watcher, shutting down) is a reload or nothing, never the default
        # action, which would kill the process without a drain or a final flush.
        received = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        with trio.open_signal_receiver(*received) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                if signum == signal.SIGHUP:
                    reloader = getattr(app, "reloader", None)
                    if reloader is None or stopping.is_set():
                        logs.event("SIGHUP ignored: not serving", signal=name)
                    else:
                        nursery.start_soon(partial(reloader.reload, trigger=name, force=True))
                    continue
                if stopping.is_set():
                    logs.event("second signal: cutting requests in flight now", signal=name)
                    app.drain.begin(0)
                    continue
                logs.event(
                    "shutting down",
                    signal=name,
                    grace_seconds=grace,
                    upstream_waits=app.drain.in_flight,
                )
                app.drain.begin(grace)
                stopping.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(on_signals, nursery)
        async with trio.open_nursery() as server:
            url = await server.start(
                partial(
                    serve_app,
                    app,
                    bind,
                    shutdown_trigger=stopping.wait,
                    # Past our own cut-off, so requests end with their clean error
                    # instead of hypercorn dropping their connections.
                    graceful_timeout=grace + CUT_MARGIN,
                )
            )
            logs.event("listening", url=url)
        nursery.cancel_scope.cancel()
    logs.event("stopped")


def _first(group: BaseExceptionGroup[LifespanFailureError]) -> str:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return str(error)
