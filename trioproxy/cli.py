"""`trioproxy` command line.

trioproxy serve [--bind HOST:PORT] [--config PATH] [--graceful-timeout S]
                                     serve the gateway (hypercorn, trio worker)
trioproxy check-config [PATH]        validate keys.yaml and exit
trioproxy state export FILE          write the saved pool state as JSON ("-": stdout)
trioproxy state import FILE          replace the saved pool state (gateway stopped)
trioproxy bench [--base-url URL] ...  load an endpoint, report latency (trioproxy.bench)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import trio
from hypercorn.utils import LifespanFailureError

from trioproxy import logs
from trioproxy.app import TrioProxyApp, create_app, open_access, open_state
from trioproxy.bench import cli as bench_cli
from trioproxy.config import ConfigError, load_config
from trioproxy.runtime import resolve
from trioproxy.serving import serve_app
from trioproxy.settings import Settings
from trioproxy.state import state_file
from trioproxy.state.store import StoreError
from trioproxy.tenancy import manage_cli

DEFAULT_BIND = "0.0.0.0:4806"
# How long hypercorn waits, after our own cut-off, for the cut requests to send their end.
CUT_MARGIN = 5.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trioproxy", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the gateway")
    serve.add_argument("--bind", default=os.environ.get("TRIOPROXY_BIND", DEFAULT_BIND))
    serve.add_argument("--config", type=Path, help="keys.yaml (default: $TRIOPROXY_CONFIG)")
    serve.add_argument(
        "--graceful-timeout",
        type=float,
        help="seconds in-flight requests, streams included, get to finish on shutdown "
        "(default: $TRIOPROXY_GRACEFUL_TIMEOUT or 30)",
    )
    check = commands.add_parser("check-config", help="validate keys.yaml and exit")
    check.add_argument("path", nargs="?", type=Path)
    state = commands.add_parser("state", help="export or import the saved pool state")
    state_commands = state.add_subparsers(dest="action", required=True)
    for action, text in (
        ("export", "write the state as JSON (works while a gateway runs)"),
        ("import", "replace the state with a JSON export (the gateway must be stopped)"),
    ):
        verb = state_commands.add_parser(action, help=text)
        verb.add_argument("file", help='a JSON file; "-" for stdout / stdin')
        verb.add_argument("--data-dir", type=Path, help="default: $TRIOPROXY_DATA_DIR or data")
    bench_parser = commands.add_parser(
        "bench", help="load an OpenAI-compatible (or Gemini) endpoint and report latency"
    )
    bench_cli.add_arguments(bench_parser)
    manage = commands.add_parser(
        "manage", help="projects and client tokens on a running gateway (management API)"
    )
    manage_cli.add_arguments(manage)
    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench_cli.run(args)
    if args.command == "manage":
        return manage_cli.run(args)

    try:
        settings = Settings.from_env()
    except ValueError as error:
        print(f"trioproxy: {error}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        return _check(args.path or settings.config_path)
    if args.command == "state":
        data_dir = args.data_dir or settings.data_dir
        if data_dir is None:
            print("trioproxy: TRIOPROXY_DATA_DIR is off: there is no saved state", file=sys.stderr)
            return 2
        return state_file.run(args.action, args.file, data_dir)
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


def _check(path: Path) -> int:
    try:
        config = load_config(path)
    except ConfigError as error:
        print(f"trioproxy: {error}", file=sys.stderr)
        return 2
    print(
        f"{path}: ok ({len(config.upstreams)} upstreams, {len(config.keys)} keys, "
        f"{len(config.clients)} clients)"
    )
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
